// A reload that changes a limit's `key`: its counters were counted under the old key, and the same string
// under the new one is someone else. With key = sender changed to key = recipient, a local user's outgoing
// count became the count of mail *to* that address: alice@, who had sent 3 of 3, had the first message
// addressed to her deferred. The limit starts counting afresh; its other changes (count, time) keep counts.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createActor } from "xstate";
import { countersActor, type CountersEvent } from "../../../src/actors/counters.ts";
import { parseConfig } from "../../../src/config/load.ts";
import type { Config } from "../../../src/config/types.ts";
import { createLogger } from "../../../src/log.ts";
import type { SenderDetail } from "../../../src/policy/sender-report.ts";
import type { PolicyRequest } from "../../../src/policy/request.ts";
import type { Verdict } from "../../../src/policy/verdict.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

describe("counters actor: a reload that changes a limit's key", () => {
  const dir = makeTempDir();
  after(() => dir.remove());

  const config = (key: string, count = 3): Config => {
    const parsed = parseConfig(
      `[daemon]\nstate_file = state.json\n[limit per_address]\nkey = ${key}\ncount = ${count}\ntime = 1h\n`,
      "t",
      dir.path,
    );
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.errors.join("; "));
    return parsed.config;
  };

  const start = (key: string) => {
    const lines: string[] = [];
    const actor = createActor(countersActor, {
      input: {
        config: config(key),
        log: createLogger("info", (line) => lines.push(line)),
        now: () => 10_000_000,
      },
    });
    actor.start();
    const ask = <T>(event: (reply: (answer: T) => void) => CountersEvent) =>
      new Promise<T>((resolve) => actor.send(event(resolve)));
    const hit = (sender: string, recipient: string) =>
      ask<Verdict | undefined>((reply) => ({
        type: "hit",
        request: {
          form: "attributes",
          stage: "rcpt",
          attributes: { sender, recipient, client_address: "192.0.2.1" },
        } as PolicyRequest,
        reply,
      }));
    const counts = async (key: string) => {
      const rows = await ask<SenderDetail[] | null>((reply) => ({ type: "sender", key, reply }));
      return Object.fromEntries(rows!.map((row) => [row.rule, row.count]));
    };
    return { actor, hit, counts, lines };
  };

  it("counts afresh under the new key, and says so", async () => {
    const daemon = start("sender");
    for (let i = 0; i < 3; i++) await daemon.hit("alice@example.org", `friend${i}@example.net`);
    assert.deepEqual(await daemon.counts("alice@example.org"), { per_address: 3 });

    daemon.actor.send({ type: "config", config: config("recipient") });
    const verdict = await daemon.hit("bob@example.net", "alice@example.org");
    assert.equal(verdict?.action, "accept", JSON.stringify(verdict));
    assert.deepEqual(await daemon.counts("alice@example.org"), { per_address: 1 }, "mail to alice, once");
    assert.ok(
      daemon.lines.some((line) =>
        /limit key changed: its counters start afresh rule=per_address from=sender to=recipient dropped=1/
          .test(line)
      ),
      daemon.lines.join("\n"),
    );
    daemon.actor.stop();
  });

  it("keeps the counts when only count changes", async () => {
    const daemon = start("sender");
    for (let i = 0; i < 2; i++) await daemon.hit("carol@example.org", "x@example.net");
    daemon.actor.send({ type: "config", config: config("sender", 5) });
    await daemon.hit("carol@example.org", "x@example.net");
    assert.deepEqual(await daemon.counts("carol@example.org"), { per_address: 3 });
    daemon.actor.stop();
  });
});
