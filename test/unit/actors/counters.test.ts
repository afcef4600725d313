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
import { createMetrics, type Metrics } from "../../../src/control/metrics.ts";
import type { PolicyRequest } from "../../../src/policy/request.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

/** A counters actor on `configText` (files under dir), with helpers to ask it. */
function startCounters(
  configText: string,
  dir: string,
  input: { log?: (line: string) => void; now?: () => number; metrics?: Metrics } = {},
) {
  const parsed = parseConfig(configText, "t", dir);
  assert.ok(parsed.ok);
  const actor = createActor(countersActor, {
    input: {
      config: parsed.config,
      log: createLogger(input.log ? "debug" : "error", input.log ?? (() => {})),
      now: input.now,
      metrics: input.metrics,
    },
  });
  actor.start();
  const ask = (request: PolicyRequest) =>
    new Promise<Verdict | undefined>((resolve) => actor.send({ type: "hit", request, reply: resolve }));
  return {
    actor,
    hitSender: (sender: string) => ask({ form: "attributes", stage: "rcpt", attributes: { sender } }),
    hitKey: (key: string) => ask({ form: "legacy", key }),
    stats: () => new Promise<CountersStats>((resolve) => actor.send({ type: "stats", reply: resolve })),
  };
}

describe("counters actor", () => {
  const dir = makeTempDir();
  after(() => dir.remove());

  it("gives a refused sender the same answer while its count stands, a new one when it moves", async () => {
    const { actor, hitSender: hit } = startCounters(
      "[daemon]\nstate_file = state-refused.json\n[limit out]\nkey = sender\ncount = 2\ntime = 1h\n" +
        "[limit strict]\nkey = sender_domain\ncount = 4\ntime = 1h\naction = reject\nmode = strict\n",
      dir.path,
      { now: () => 5_000_000 },
    );
    await hit("a@x.org");
    await hit("a@x.org");
    const third = await hit("a@x.org"); // out is over (3 > 2); strict is at 3 of 4
    assert.equal(third?.action, "defer");
    assert.equal(third?.outcome?.limit.name, "out");
    assert.equal(third?.outcome?.count, 2, "leaky: the refused attempt is not in the count");
    const fourth = await hit("a@x.org"); // out is leaky: still 3; strict at 4 of 4
    assert.equal(fourth, third, "out's count stood still: the same answer");
    assert.equal(await hit("b@y.org"), await hit("b@y.org"), "the accept answer is shared too");
    const fifth = await hit("a@x.org"); // strict counts refused requests: 5 > 4, reject wins
    assert.equal(fifth?.action, "reject");
    assert.equal(fifth?.outcome?.count, 5);
    const sixth = await hit("a@x.org");
    assert.notEqual(sixth, fifth, "the strict count moved on");
    assert.equal(sixth?.outcome?.count, 6);
    await hit("c@z.org");
    await hit("c@z.org");
    const c = await hit("c@z.org");
    assert.equal(c?.outcome?.key, "c@z.org");
    assert.notEqual(c, third, "another key, another answer");
    actor.stop();
  });

  it("counts per key, then drops keys whose window has ended on the next wheel tick", async () => {
    let clock = 1_000_000;
    const lines: string[] = [];
    const { actor, hitKey: hit, stats } = startCounters(
      "[daemon]\nstate_file = state.json\n[thresholds]\ntime = 60\ncount = 2\n",
      dir.path,
      { log: (line) => lines.push(line), now: () => clock },
    );

    assert.deepEqual(await hit("a"), { action: "accept", over: false });
    await hit("a");
    const third = await hit("a");
    assert.equal(third?.over, true);
    assert.equal(third?.action, "accept", "[thresholds] only alerts");
    assert.equal(third?.outcome?.count, 3);
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

  it("spaces background saves so that one is under way at most a twentieth of the time", async () => {
    const saves: { at: number; ms: number }[] = [];
    const { actor, hitKey: hit } = startCounters(
      "[daemon]\nstate_file = busy.json\nstate_interval = 100ms\n[thresholds]\ntime = 3600\ncount = 5\n",
      dir.path,
      {
        log: (line) => {
          const took = /state saved .* ms=(\d+)/.exec(line);
          if (took) saves.push({ at: performance.now(), ms: Number(took[1]) });
        },
      },
    );
    for (let i = 0; i < 40_000; i++) hit(`sender${i}@example.org`);
    // The first save within 15 s; each next one within what the pacing lets it take (20 times the last
    // save's length to begin, about as long again to write) and 5 s more: on a loaded machine a save of
    // 40k keys takes most of a second, so the pacing itself puts the third save past a fixed deadline.
    let deadline = performance.now() + 15_000;
    // 2000 keys touched every 20 ms: the journal reaches half a snapshot within a second, so a save is
    // due at every state_interval and only the pacing spaces them. 100 turns of it after each save are
    // twice that; flooding on would only slow the next save on a loaded machine, and the test with it.
    let touched = 0;
    let flooding = 0;
    for (let seen = 0; saves.length < 3 && performance.now() < deadline;) {
      if (saves.length !== seen) [seen, flooding] = [saves.length, 0];
      if (flooding++ < 100) {
        for (let i = 0; i < 2000; i++) hit(`sender${touched++ % 40_000}@example.org`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
      const last = saves.at(-1);
      if (last) deadline = Math.max(deadline, last.at + 21 * last.ms + 5_000);
    }
    actor.stop();
    assert.ok(
      saves.length >= 3,
      `three saves, each within 5 s of when the pacing allows it: ${JSON.stringify(saves)}`,
    );
    assert.ok(saves[0].ms >= 5, `40k keys take measurable time to save: ${saves[0].ms} ms`);
    for (let i = 1; i < saves.length; i++) {
      const gap = saves[i].at - saves[i - 1].at;
      // ms is rounded in the log: allow for the half millisecond lost.
      assert.ok(
        gap >= 20 * (saves[i - 1].ms - 0.5),
        `gap ${gap} ms after a ${saves[i - 1].ms} ms save`,
      );
    }
  });

  it("does not rewrite a large state for a trickle of changes: the journal keeps them", async () => {
    const saves: number[] = [];
    const { actor, hitKey: hit } = startCounters(
      "[daemon]\nstate_file = quiet.json\nstate_interval = 100ms\n[thresholds]\ntime = 3600\ncount = 5\n",
      dir.path,
      {
        log: (line) => {
          const saved = /state saved .* bytes=(\d+)/.exec(line);
          if (saved) saves.push(Number(saved[1]));
        },
      },
    );
    for (let i = 0; i < 20_000; i++) hit(`sender${i}@example.org`);
    const deadline = performance.now() + 10_000;
    while (saves.length < 1 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(saves.length, 1, "the first snapshot, a few hundred KB");
    assert.ok(saves[0] > 64 * 1024, `over the small-state size: ${saves[0]} bytes`);
    // Two seconds of a request every 20 ms (20 state_intervals, each with a change): no second snapshot.
    const quietUntil = performance.now() + 2000;
    for (let i = 0; performance.now() < quietUntil; i++) {
      hit(`trickle${i}@example.org`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(saves.length, 1, `snapshots while quiet: ${saves.length - 1}`);
    actor.stop();
    const state = JSON.parse(readFileSync(`${dir.path}/quiet.json`, "utf8"));
    const keys = (state.limits.thresholds as [string][]).map((row) => row[0]);
    assert.ok(keys.includes("trickle0@example.org") && keys.length > 20_000, "the stop wrote them all");
  });

  it("keeps at most max_keys: the least recently seen give way, keys over their limit never do", async () => {
    let clock = 1_000_000;
    const metrics = createMetrics();
    const lines: string[] = [];
    const { actor, hitSender: hit, stats } = startCounters(
      "[daemon]\nstate_file = state-full.json\nmax_keys = 1000\n[limit out]\nkey = sender\ncount = 2\ntime = 1h\n",
      dir.path,
      { log: (line) => lines.push(line), now: () => clock, metrics },
    );
    // Ten senders over their limit first, then 990 quiet ones: the table is full.
    for (let i = 0; i < 10; i++) for (let n = 0; n < 3; n++) await hit(`spammer${i}@x.org`);
    for (let i = 0; i < 990; i++) {
      clock++;
      await hit(`quiet${i}@x.org`);
    }
    assert.equal((await stats()).trackedKeys, 1000);
    await hit("quiet5@x.org"); // seen again: no longer among the least recently seen
    for (let i = 0; i < 3000; i++) {
      clock++;
      await hit(`flood${i}@x.org`);
    }
    assert.equal((await stats()).trackedKeys, 1000, "the bound holds");
    assert.equal(metrics.keysEvicted.get("out"), 3000);
    assert.equal((await stats()).wheelEntries, 4000, "the evicted keys' wheel entries stay until swept");
    for (let i = 0; i < 10; i++) {
      assert.equal((await hit(`spammer${i}@x.org`))?.action, "defer", "a key over its limit stays");
    }
    const quiet5 = await new Promise<unknown[] | null>((resolve) =>
      actor.send({ type: "sender", key: "quiet5@x.org", reply: resolve })
    );
    assert.equal(quiet5!.length, 1, "the key seen again was kept");
    assert.equal(lines.filter((l) => /max_keys reached/.test(l)).length, 1, "one log line per incident");
    clock += 61_000;
    await new Promise((resolve) => setTimeout(resolve, 1100)); // the next wheel tick ends the incident
    assert.ok(
      lines.some((l) => /no key had to give way for a minute .*evicted=3000/.test(l)),
      lines.join("\n"),
    );
    // ...and sweeps the evicted keys' entries, a slice per turn, until at most a quarter of the keys + 1000.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const { wheelEntries } = await stats();
    assert.ok(wheelEntries >= 1000 && wheelEntries <= 1000 + 1250, `${wheelEntries} wheel entries`);
    actor.stop();
  });
});
