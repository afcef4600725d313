// The engine's two-pass path over the real counters actor: with a second concern that refuses, a leaky
// limit does not count the request (the merged decision refused it), a strict one does; with one that
// accepts, both count. The limits concern reaches the actor by its systemId, as in the daemon.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createActor } from "xstate";
import { countersActor } from "../../../src/actors/counters.ts";
import { parseConfig } from "../../../src/config/load.ts";
import type { Concern } from "../../../src/engine/concern.ts";
import { limitsConcern } from "../../../src/engine/limits-concern.ts";
import { createPolicyEngine } from "../../../src/engine/policy-engine.ts";
import { createLogger } from "../../../src/log.ts";
import type { ConcernAnswer, Decision } from "../../../src/model/answer.ts";
import type { PolicyRequest } from "../../../src/policy/request.ts";
import type { SenderDetail } from "../../../src/policy/sender-report.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

const other = (answer: ConcernAnswer): Concern => ({
  id: "other",
  counts: false,
  applies: () => true,
  check: (_request, reply) => reply(answer),
  commit: () => {},
  decide: (_request, reply) => reply(answer),
});

describe("engine + counters actor: check and commit across concerns", () => {
  const dir = makeTempDir();
  after(() => dir.remove());

  const start = (mode: "leaky" | "strict", answer: ConcernAnswer) => {
    const parsed = parseConfig(
      `[daemon]\nstate_file = ${mode}-${answer.action}.json\n[limit out]\ncount = 2\ntime = 1h\nmode = ${mode}\n`,
      "t",
      dir.path,
    );
    assert.ok(parsed.ok);
    const log = createLogger("error", () => {});
    const counters = createActor(countersActor, {
      systemId: "counters",
      input: { config: parsed.config, log },
    });
    counters.start();
    const engine = createPolicyEngine({
      concerns: [limitsConcern(() => counters.system), other(answer)],
      settings: () => ({ timeoutMs: 1000, failMode: "open" }),
      log,
    });
    const request: PolicyRequest = { form: "attributes", stage: "rcpt", attributes: { sender: "a@x.org" } };
    return {
      decide: () => new Promise<Decision>((resolve) => engine.decide(request, resolve)),
      count: async () => {
        const rows = await new Promise<SenderDetail[] | null>((reply) =>
          counters.send({ type: "sender", key: "a@x.org", reply })
        );
        return rows![0]?.count ?? 0;
      },
      stop: () => {
        engine.stop();
        counters.stop();
      },
    };
  };

  it("leaky: a request another concern refused is not counted", async () => {
    const run = start("leaky", { action: "reject", message: "no", rule: "other", flagged: true });
    for (let i = 0; i < 3; i++) assert.equal((await run.decide()).action, "reject");
    assert.equal(await run.count(), 0);
    run.stop();
  });

  it("strict: it is counted, and the limit's own defer shows once over", async () => {
    const run = start("strict", { action: "warn", message: "soft", rule: "other" });
    assert.equal((await run.decide()).action, "warn");
    assert.equal((await run.decide()).action, "warn");
    const third = await run.decide();
    assert.equal(third.action, "defer", "the limit is over: defer outranks the other's warn");
    assert.equal(third.decidedBy, "limits");
    assert.equal(await run.count(), 3);
    run.stop();
  });

  it("leaky with an accepting concern: counted up to the limit, then deferred and not counted", async () => {
    const run = start("leaky", { action: "accept" });
    assert.deepEqual([
      (await run.decide()).action,
      (await run.decide()).action,
      (await run.decide()).action,
    ], ["accept", "accept", "defer"]);
    assert.equal(await run.count(), 2);
    run.stop();
  });
});
