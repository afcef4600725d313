// The counters actor's outbox of undelivered alerts: malformed entries in the state file are refused at
// restore, the outbox never grows past outbox_max, and a settled alert leaves it.
import assert from "node:assert/strict";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { createActor } from "xstate";
import { countersActor, type CountersStats } from "../../../src/actors/counters.ts";
import type { SenderDetail } from "../../../src/policy/sender-report.ts";
import { parseConfig } from "../../../src/config/load.ts";
import { createMetrics } from "../../../src/control/metrics.ts";
import { createLogger } from "../../../src/log.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

const NOW = 1_714_564_900_000;

const notice = (key: string) => ({
  id: `thresholds|${key}|${NOW - 60_000}`,
  limit: "thresholds",
  keyKind: "sender",
  key,
  count: 21,
  limitCount: 20,
  windowMs: 300_000,
  firstSeen: NOW - 60_000,
  lastSeen: NOW - 1000,
  topSubjects: [],
  topClientIps: [],
});

describe("counters actor: the alert outbox", () => {
  const dir = makeTempDir();
  after(() => dir.remove());

  function start(name: string, extra = "", folder = dir.path) {
    const parsed = parseConfig(
      `[daemon]\nstate_file = ${name}\n[thresholds]\ntime = 300\ncount = 1\n[alerts]\nfromAddr = a@x.org\n` +
        `toAddr = b@x.org\n${extra}`,
      "t",
      folder,
    );
    assert.ok(parsed.ok);
    const lines: string[] = [];
    const metrics = createMetrics();
    const actor = createActor(countersActor, {
      input: {
        config: parsed.config,
        log: createLogger("info", (line) => lines.push(line)),
        now: () => NOW,
        metrics,
      },
    });
    actor.start();
    const stats = () =>
      new Promise<CountersStats>((resolve) => actor.send({ type: "stats", reply: resolve }));
    const hit = (key: string) =>
      new Promise((resolve) => actor.send({ type: "hit", request: { form: "legacy", key }, reply: resolve }));
    const alertOf = async (key: string) =>
      (await new Promise<SenderDetail[] | null>((reply) => actor.send({ type: "sender", key, reply })))![0]
        .alert;
    return { actor, lines, metrics, stats, hit, alertOf };
  }

  it("refuses {} and other malformed entries at restore, logged, and keeps the good ones", async () => {
    writeFileSync(
      dir.file("restore.json"),
      JSON.stringify({
        format: "mailpolicyd-state",
        version: 1,
        savedAt: NOW,
        limits: {},
        outbox: [{}, notice("good@example.org"), { ...notice("late@example.org"), firstSeen: 1e16 }, null],
      }),
    );
    const { actor, lines, stats } = start("restore.json");
    // The restore runs in slices after the start (docs/architecture.md, State).
    while (!lines.some((line) => /state restored/.test(line))) await new Promise((r) => setTimeout(r, 5));
    assert.equal((await stats()).pendingAlerts, 1);
    const refused = lines.filter((line) => /malformed alert in the state file's outbox, refused/.test(line));
    assert.equal(refused.length, 3, lines.join("\n"));
    assert.match(refused[0], /problem="id: not a text" entry=\{\}/);
    assert.match(refused[1], /problem="firstSeen: not a time"/);
    actor.stop();
    const saved = JSON.parse(readFileSync(dir.file("restore.json"), "utf8"));
    assert.deepEqual(saved.outbox.map((entry: { key: string }) => entry.key), ["good@example.org"]);
  });

  it("drops the oldest alert when the outbox is full, counted and logged, and never alerts that key again", async () => {
    const { actor, lines, metrics, stats, hit } = start("bound.json", "outbox_max = 10\n");
    for (let i = 0; i < 12; i++) {
      await hit(`k${i}@example.org`);
      await hit(`k${i}@example.org`); // the second passes count = 1: an alert, and no alerter to take it
    }
    assert.equal((await stats()).pendingAlerts, 10);
    assert.equal(metrics.alertsDropped, 2);
    const dropped = lines.filter((line) =>
      /warn counters: alert outbox full, oldest alert dropped/.test(line)
    );
    assert.deepEqual(dropped.map((line) => /key=(\S+)/.exec(line)![1]), ["k0@example.org", "k1@example.org"]);
    await hit("k0@example.org");
    assert.equal((await stats()).pendingAlerts, 10, "k0's alert is done with for this window");
    actor.stop();
    const saved = JSON.parse(readFileSync(dir.file("bound.json"), "utf8"));
    assert.equal(saved.outbox.length, 10);
    assert.equal(saved.outbox[0].key, "k2@example.org");
  });

  it("forgets alerts the alerter is done with", async () => {
    const { actor, stats, hit } = start("done.json");
    await hit("a@example.org");
    await hit("a@example.org");
    await hit("b@example.org");
    await hit("b@example.org");
    assert.equal((await stats()).pendingAlerts, 2);
    actor.send({ type: "alerts.done", ids: [`thresholds|a@example.org|${NOW}`, "unknown"], delivered: true });
    assert.equal((await stats()).pendingAlerts, 1);
    actor.stop();
  });

  it("still shows a delivered alert as sent after a kill -9 and a restart, from the journal", async () => {
    const { actor, lines, stats, hit, alertOf } = start("sent.json");
    while (!lines.some((line) => /state restored/.test(line))) await new Promise((r) => setTimeout(r, 5));
    await hit("a@example.org");
    await hit("a@example.org");
    assert.equal(await alertOf("a@example.org"), "pending");
    actor.send({ type: "alerts.done", ids: [`thresholds|a@example.org|${NOW}`], delivered: true });
    assert.equal(await alertOf("a@example.org"), "sent");
    assert.equal((await stats()).pendingAlerts, 0);
    await new Promise((resolve) => setTimeout(resolve, 450)); // two journal flushes (FLUSH_MS = 200)
    // A kill -9 now: the files as they are, copied before the actor's stop writes its snapshot.
    const crashed = makeTempDir();
    try {
      cpSync(dir.path, crashed.path, { recursive: true });
      actor.stop();
      const again = start("sent.json", "", crashed.path);
      while (!again.lines.some((line) => /state restored/.test(line))) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal((await again.stats()).pendingAlerts, 0);
      assert.equal(await again.alertOf("a@example.org"), "sent", "not pending: nothing is pending");
      again.actor.stop();
    } finally {
      crashed.remove();
    }
  });
});
