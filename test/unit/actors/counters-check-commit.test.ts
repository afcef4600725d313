// The counters actor's two-pass events for the policy engine: `check` answers the verdict `hit` would
// give and a ticket, `commit` counts what the final (merged) verdict lets through; a check never
// committed is committed as its own verdict said after 30 s (or a longer concern timeout), logged once.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createActor } from "xstate";
import { countersActor, type LimitsCheck } from "../../../src/actors/counters.ts";
import { parseConfig } from "../../../src/config/load.ts";
import { createLogger } from "../../../src/log.ts";
import type { PolicyRequest } from "../../../src/policy/request.ts";
import type { SenderDetail } from "../../../src/policy/sender-report.ts";
import type { Verdict } from "../../../src/policy/verdict.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

describe("counters actor: check and commit", () => {
  const dir = makeTempDir();
  after(() => dir.remove());

  const start = (limits: string, file: string) => {
    const parsed = parseConfig(`[daemon]\nstate_file = ${file}\n${limits}`, "t", dir.path);
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.errors.join("; "));
    const clock = { now: 50_000_000 };
    const lines: string[] = [];
    const actor = createActor(countersActor, {
      input: {
        config: parsed.config,
        log: createLogger("debug", (line) => lines.push(line)),
        now: () => clock.now,
      },
    });
    actor.start();
    const request = (sender: string): PolicyRequest => ({
      form: "attributes",
      stage: "rcpt",
      attributes: { sender },
    });
    return {
      clock,
      lines,
      check: (sender: string) =>
        new Promise<LimitsCheck | undefined>((reply) =>
          actor.send({ type: "check", request: request(sender), reply })
        ),
      commit: (ticket: number, refused: boolean) => actor.send({ type: "commit", ticket, refused }),
      hit: (sender: string) =>
        new Promise<Verdict | undefined>((reply) =>
          actor.send({ type: "hit", request: request(sender), reply })
        ),
      count: async (key: string) => {
        const rows = await new Promise<SenderDetail[] | null>((reply) =>
          actor.send({ type: "sender", key, reply })
        );
        return rows![0]?.count ?? 0;
      },
      stop: () => actor.stop(),
    };
  };

  it("check answers hit's verdict; commit counts per the final verdict (leaky)", async () => {
    const counters = start("[limit out]\nkey = sender\ncount = 2\ntime = 1h\n", "check-1.json");
    const first = await counters.check("a@x.org");
    assert.ok(first && first.ticket > 0);
    assert.equal(first.verdict!.action, "accept");
    assert.equal(await counters.count("a@x.org"), 0, "nothing counted before the commit");
    counters.commit(first.ticket, true); // another concern refused it
    assert.equal(await counters.count("a@x.org"), 0);
    counters.commit((await counters.check("a@x.org"))!.ticket, false);
    counters.commit((await counters.check("a@x.org"))!.ticket, false);
    assert.equal(await counters.count("a@x.org"), 2);
    const over = await counters.check("a@x.org");
    assert.equal(over?.verdict?.action, "defer");
    assert.equal(over?.verdict?.outcome?.count, 2);
    assert.equal((await counters.hit("a@x.org"))?.action, "defer", "hit agrees");
    counters.commit(over!.ticket, true);
    assert.equal(await counters.count("a@x.org"), 2);
    counters.stop();
  });

  it("strict: a refused commit counts too", async () => {
    const counters = start(
      "[limit out]\nkey = sender\ncount = 2\ntime = 1h\nmode = strict\n",
      "check-2.json",
    );
    counters.commit((await counters.check("a@x.org"))!.ticket, true);
    counters.commit((await counters.check("a@x.org"))!.ticket, true);
    assert.equal(await counters.count("a@x.org"), 2);
    counters.stop();
  });

  it("a check A, a hit B and A's commit on the same new key count 2", async () => {
    const counters = start("[limit out]\nkey = sender\ncount = 5\ntime = 1h\n", "check-3.json");
    const a = await counters.check("new@x.org");
    await counters.hit("new@x.org");
    counters.commit(a!.ticket, false);
    assert.equal(await counters.count("new@x.org"), 2);
    counters.stop();
  });

  it("ticket 0 when no limit applies", async () => {
    const counters = start("[limit out]\nkey = sasl_username\ncount = 2\ntime = 1h\n", "check-4.json");
    const checked = await counters.check("a@x.org");
    assert.deepEqual(checked, { verdict: { action: "accept", over: false }, ticket: 0 });
    counters.stop();
  });

  it("commits a check not committed within 30 s as its own verdict said, logged once at debug", async () => {
    const counters = start("[limit out]\nkey = sender\ncount = 2\ntime = 1h\n", "check-5.json");
    await counters.check("a@x.org");
    await counters.check("b@x.org");
    counters.clock.now += 30_000;
    await new Promise((resolve) => setTimeout(resolve, 1300)); // the next tick
    assert.equal(await counters.count("a@x.org"), 1);
    assert.equal(await counters.count("b@x.org"), 1);
    const logged = counters.lines.filter((line) => /debug counters: checks not committed in time/.test(line));
    assert.equal(logged.length, 1, counters.lines.join("\n"));
    assert.match(logged[0], /count=2/);
    counters.stop();
  });

  it("holds a check as long as a concern's timeout longer than 30 s: the merged verdict decides", async () => {
    const counters = start(
      "[spf]\ntimeout = 60s\n[limit out]\nkey = sender\ncount = 2\ntime = 1h\n",
      "check-6.json",
    );
    const checked = await counters.check("a@x.org");
    counters.clock.now += 30_000; // SPF still checking
    await new Promise((resolve) => setTimeout(resolve, 1300)); // the next tick
    assert.equal(await counters.count("a@x.org"), 0, "not committed before SPF's timeout");
    counters.commit(checked!.ticket, true); // SPF failed: rejected
    assert.equal(await counters.count("a@x.org"), 0, "leaky: a rejected request is not counted");
    counters.clock.now += 31_000;
    await new Promise((resolve) => setTimeout(resolve, 1300));
    assert.equal(await counters.count("a@x.org"), 0, "committed once");
    counters.stop();
  });
});
