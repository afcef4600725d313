// The counters actor on a controlled clock: keys leave memory (and the state file) when their window
// ends, driven by the timer wheel's one-second tick.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { createActor } from "xstate";
import { countersActor, type CountersStats } from "../../../src/actors/counters.ts";
import type { Verdict } from "../../../src/policy/verdict.ts";
import { parseConfig } from "../../../src/config/load.ts";
import { createLogger } from "../../../src/log.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

describe("counters actor", () => {
  const dir = makeTempDir();
  after(() => dir.remove());

  it("counts per key, then drops keys whose window has ended on the next wheel tick", async () => {
    const parsed = parseConfig(
      "[daemon]\nstate_file = state.json\n[thresholds]\ntime = 60\ncount = 2\n",
      "t",
      dir.path,
    );
    assert.ok(parsed.ok);
    let clock = 1_000_000;
    const lines: string[] = [];
    const actor = createActor(countersActor, {
      input: {
        config: parsed.config,
        log: createLogger("debug", (line) => lines.push(line)),
        now: () => clock,
      },
    });
    actor.start();
    const hit = (key: string) =>
      new Promise<Verdict | undefined>((resolve) =>
        actor.send({ type: "hit", request: { form: "legacy", key }, reply: resolve })
      );
    const stats = () =>
      new Promise<CountersStats>((resolve) => actor.send({ type: "stats", reply: resolve }));

    assert.deepEqual(await hit("a"), { action: "accept", over: false });
    await hit("a");
    const third = await hit("a");
    assert.equal(third?.over, true);
    assert.equal(third?.action, "accept", "[thresholds] only alerts");
    assert.equal(third?.outcome?.level, 3);
    clock += 30_000;
    await hit("b");
    assert.equal((await stats()).trackedKeys, 2);
    assert.equal((await stats()).pendingAlerts, 1, "a crossed; no alerter running, so it stays pending");

    clock += 31_000; // a's window (60 s from t0) has ended, b's (from t0+30 s) has not
    await new Promise((resolve) => setTimeout(resolve, 1300));
    assert.equal((await stats()).trackedKeys, 1);
    clock += 30_000;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal((await stats()).trackedKeys, 0);

    actor.stop();
    const state = JSON.parse(readFileSync(dir.file("state.json"), "utf8"));
    assert.deepEqual(state.limits.thresholds, []);
    assert.equal(state.outbox.length, 1, "the undelivered alert survives in the outbox");
    assert.ok(
      lines.some((line) => /warn counters: limit passed rule=thresholds key=a count=3 limit=2/.test(line)),
    );
  });
});
