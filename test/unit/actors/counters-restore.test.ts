// The counters actor's restore: in slices while it already answers, the journal replayed over the
// snapshot, bad rows refused one by one, unusable files moved aside and never overwritten.
import assert from "node:assert/strict";
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { createActor } from "xstate";
import { countersActor, type CountersStats } from "../../../src/actors/counters.ts";
import { parseConfig } from "../../../src/config/load.ts";
import { createLogger } from "../../../src/log.ts";
import { parseState } from "../../../src/store/state-file.ts";
import { createJournal, journalGenerations, journalPath } from "../../../src/store/state-journal.ts";
import { makeCounter } from "../../../src/policy/sender-counter.ts";
import type { Verdict } from "../../../src/policy/verdict.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";
import { stateText as stateTextOf } from "../../helpers/state-text.ts";

const NOW = 1_780_000_000_000;

function configIn(dir: string, stateFile = "state.json") {
  const parsed = parseConfig(
    `[daemon]\nstate_file = ${stateFile}\n[thresholds]\ntime = 1h\ncount = 1000000\n`,
    "t",
    dir,
  );
  assert.ok(parsed.ok);
  return parsed.config;
}

function startCounters(
  dir: string,
  clock = () => NOW,
  stateFile = "state.json",
  config = configIn(dir, stateFile),
) {
  const lines: string[] = [];
  const actor = createActor(countersActor, {
    input: {
      config,
      log: createLogger("debug", (line) => lines.push(line)),
      now: clock,
    },
  });
  actor.start();
  const hit = (key: string) =>
    new Promise<Verdict | undefined>((resolve) =>
      actor.send({ type: "hit", request: { form: "legacy", key }, reply: resolve })
    );
  const stats = () => new Promise<CountersStats>((resolve) => actor.send({ type: "stats", reply: resolve }));
  const restored = async () => {
    for (let i = 0; i < 400 && !lines.some((line) => /state restored/.test(line)); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return lines.find((line) => /state restored/.test(line))!;
  };
  return { actor, hit, stats, lines, restored };
}

const stateText = (rows: unknown[]) => stateTextOf(rows, NOW);

const countOf = (dir: string, key: string) =>
  parseState(readFileSync(`${dir}/state.json`, "utf8"), NOW).tables.get("thresholds")!.get(key)?.count;

describe("counters actor: restore", () => {
  const dirs: ReturnType<typeof makeTempDir>[] = [];
  const fresh = () => {
    const dir = makeTempDir();
    dirs.push(dir);
    return dir;
  };
  after(() => dirs.forEach((dir) => dir.remove()));
  /** A folder whose state file holds `n` keys k0@x … with a count of 5 each. */
  const withKeys = (n: number) => {
    const dir = fresh();
    const rows = [];
    for (let i = 0; i < n; i++) rows.push([`k${i}@x`, NOW - 1000, 5, NOW - 1000, 0]);
    writeFileSync(dir.file("state.json"), stateText(rows));
    return dir;
  };

  it("answers before a large state is restored, and adds what it counted meanwhile to the restored count", async () => {
    const dir = withKeys(100_000);
    const counters = startCounters(dir.path);
    await counters.hit("k99999@x"); // the last row: restored long after this answer
    assert.equal(counters.lines.some((line) => /state restored/.test(line)), false, "answered first");
    assert.match(await counters.restored(), /state restored keys=100000 pending_alerts=0 journal_records=0/);
    assert.equal((await counters.stats()).trackedKeys, 100_000);
    counters.actor.stop();
    assert.equal(countOf(dir.path, "k99999@x"), 6, "5 restored + 1 counted during the restore");
    assert.equal(countOf(dir.path, "k0@x"), 5);
  });

  it("does not bring back a key reset while the restore runs", async () => {
    const dir = withKeys(50_000);
    const counters = startCounters(dir.path);
    const removed = await new Promise((resolve) =>
      counters.actor.send({ type: "reset", key: "k49999@x", reply: resolve })
    );
    assert.equal(removed, 0, "not restored yet");
    await counters.restored();
    counters.actor.stop();
    assert.equal(countOf(dir.path, "k49999@x"), undefined);
    assert.equal(countOf(dir.path, "k49998@x"), 5);
  });

  it("keeps a key reset while the restore runs reset after a kill -9 before the next snapshot", async () => {
    const dir = withKeys(50_000);
    const counters = startCounters(dir.path);
    await new Promise((resolve) => counters.actor.send({ type: "reset", key: "k49999@x", reply: resolve }));
    await counters.restored();
    await new Promise((resolve) => setTimeout(resolve, 450)); // two journal flushes (FLUSH_MS = 200)
    // A kill -9 now, before the first snapshot (state_interval 5 s): the files as they are.
    const crashed = fresh();
    cpSync(dir.path, crashed.path, { recursive: true });
    counters.actor.stop();
    assert.equal(countOf(crashed.path, "k49999@x"), 5, "the copy predates any snapshot");

    const again = startCounters(crashed.path);
    await again.restored();
    again.actor.stop();
    assert.equal(countOf(crashed.path, "k49999@x"), undefined, "the reset holds");
    assert.equal(countOf(crashed.path, "k49998@x"), 5);
  });

  it("replays the journal over the snapshot: a kill loses only what was not yet flushed", async () => {
    const dir = fresh();
    const counters = startCounters(dir.path);
    await counters.restored();
    for (let i = 0; i < 7; i++) await counters.hit("a@x");
    await counters.hit("b@x");
    await new Promise((resolve) => setTimeout(resolve, 450)); // two journal flushes (FLUSH_MS = 200)
    // A kill -9 now: the files as they are, copied before the actor's stop writes its snapshot.
    const crashed = fresh();
    cpSync(dir.path, crashed.path, { recursive: true });
    counters.actor.stop();
    assert.ok(journalGenerations(crashed.file("state.json")).length > 0, "a journal was written");

    const again = startCounters(crashed.path);
    // a@x's first touch, b@x's, and a@x again at a flush (twice if the hits straddled one).
    assert.match(await again.restored(), /keys=2 .*journal_records=[34]\b/);
    again.actor.stop();
    assert.equal(countOf(crashed.path, "a@x"), 7);
    assert.equal(countOf(crashed.path, "b@x"), 1);
    assert.deepEqual(
      journalGenerations(crashed.file("state.json")),
      [],
      "the stop's snapshot holds them all",
    );
  });

  it("does not replay, over a newer snapshot, the journals of an earlier period beside a state_file it moved back to", async () => {
    const dir = fresh();
    // state.json as an earlier period left it: a snapshot, and the journal since (generation 50 after a
    // long run), before the config moved state_file away and the daemon started over at the new path.
    writeFileSync(
      dir.file("state.json"),
      JSON.stringify({
        format: "mailpolicyd-state",
        version: 1,
        savedAt: NOW - 5000,
        journalFrom: 50,
        limits: { thresholds: [["gone@x", NOW - 5000, 9, NOW - 5000, 0]] },
        outbox: [],
      }),
    );
    const stale = createJournal(dir.file("state.json"), 50, (error) => assert.fail(error));
    stale.touched("thresholds", "a@x", makeCounter(NOW - 4000, 40, NOW - 4000, 0));
    stale.touched("thresholds", "gone@x", makeCounter(NOW - 4000, 10, NOW - 4000, 0));
    stale.flush();
    stale.close();

    // This run starts at elsewhere.json (its journal at generation 1), counts, and moves back.
    const counters = startCounters(dir.path, () => NOW, "elsewhere.json");
    await counters.restored();
    await counters.hit("a@x");
    await counters.hit("a@x");
    counters.actor.send({ type: "config", config: configIn(dir.path, "state.json") });
    counters.actor.stop(); // the snapshot in state.json: a@x 2, no gone@x
    assert.equal(countOf(dir.path, "a@x"), 2);
    assert.equal(countOf(dir.path, "gone@x"), undefined);

    const again = startCounters(dir.path);
    assert.match(await again.restored(), /keys=1 .*journal_records=0\b/, "nothing stale replayed");
    again.actor.stop();
    assert.equal(countOf(dir.path, "a@x"), 2, "not the earlier period's 40");
    assert.equal(countOf(dir.path, "gone@x"), undefined, "not brought back");
    assert.equal(existsSync(journalPath(dir.file("state.json"), 50)), false, "the stale journal is gone");
  });

  it("says how many rows of a limit no longer in the config it dropped", async () => {
    const dir = fresh();
    const row = (key: string) => [key, NOW - 1000, 5, NOW - 1000, 0];
    writeFileSync(dir.file("state.json"), stateTextOf([row("a@x"), row("b@x")], NOW, "renamed"));
    const counters = startCounters(dir.path);
    assert.match(await counters.restored(), /keys=0 /);
    counters.actor.stop();
    assert.ok(
      counters.lines.some((line) =>
        /warn counters: state rows of limits not in the config .* rows="?renamed: 2/.test(line)
      ),
      counters.lines.join("\n"),
    );
  });

  it("refuses bad rows one by one, restores the others and keeps a copy of the file", async () => {
    const dir = fresh();
    const in2100 = Date.UTC(2100, 0, 1);
    writeFileSync(
      dir.file("state.json"),
      stateText([
        ["good@x", NOW - 1000, 3, NOW - 1000, 0],
        ["future@x", in2100, 1, NOW, 0],
        ["negative@x", NOW - 1000, -1_000_000, NOW - 1000, 0],
        ["nan@x", NOW - 1000, null, NOW - 1000, 0],
        ["alert@x", NOW - 1000, 1, NOW - 1000, 7],
        ["x".repeat(5000), NOW - 1000, 1, NOW - 1000, 0],
      ]),
    );
    const original = readFileSync(dir.file("state.json"), "utf8");
    const counters = startCounters(dir.path);
    assert.match(await counters.restored(), /keys=1 .*refused_rows=5/);
    const warning = counters.lines.find((line) => /state rows refused/.test(line))!;
    assert.match(
      warning,
      /refused=5 reasons="bad window start: 1, bad count: 2, bad alert state: 1, key too long: 1"/,
    );
    const copy = readdirSync(dir.path).find((name) => name.startsWith("state.json.bad-"))!;
    assert.equal(readFileSync(dir.file(copy), "utf8"), original);
    for (let i = 0; i < 100; i++) await counters.hit("negative@x");
    assert.equal((await counters.hit("good@x"))?.over, false);
    counters.actor.stop();
    assert.equal(countOf(dir.path, "good@x"), 4);
    assert.equal(countOf(dir.path, "negative@x"), 100, "counted from zero, not from -1 000 000");
  });

  it("moves an unparsable state file aside, says why, and never overwrites it", async () => {
    const dir = fresh();
    writeFileSync(dir.file("state.json"), '{"format":"mailpolicyd-state","version":1,"limits":{"thr');
    const counters = startCounters(dir.path);
    await counters.restored();
    const error = counters.lines.find((line) => /state file unusable/.test(line))!;
    assert.match(error, /error counters: state file unusable, moved aside; starting without it/);
    assert.match(error, /moved_to=\S+state\.json\.bad-\d{8}T\d{6}\.\d{3}Z error=/);
    await counters.hit("a@x");
    counters.actor.stop();
    const aside = readdirSync(dir.path).find((name) => name.startsWith("state.json.bad-"))!;
    assert.equal(
      readFileSync(dir.file(aside), "utf8"),
      '{"format":"mailpolicyd-state","version":1,"limits":{"thr',
    );
    assert.equal(countOf(dir.path, "a@x"), 1, "a new state file beside it");
  });

  // The config refuses a FIFO at state_file (config-test, `run` and a reload say so at its line): one made
  // after the config was read, the actor is the last to meet it.
  it("moves a FIFO at the state path aside instead of hanging on it (made after the config was read)", async () => {
    const dir = fresh();
    const config = configIn(dir.path);
    const { execFileSync } = await import("node:child_process");
    execFileSync("mkfifo", [dir.file("state.json")]);
    const counters = startCounters(dir.path, undefined, undefined, config);
    await counters.restored();
    assert.ok(
      counters.lines.some((line) =>
        /state file unusable.*is a FIFO \(named pipe\), not a regular file/.test(line)
      ),
    );
    counters.actor.stop();
    assert.equal(existsSync(dir.file("state.json")), true);
    assert.equal(countOf(dir.path, "none@x"), undefined);
  });
});
