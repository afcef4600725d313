// The top-senders ranking: the same rows a full scan and sort gives, computed in bounded slices off the
// request path, shared by concurrent readers, rescored when served from a kept ranking.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LimitConfig } from "../../../src/model/limit.ts";
import { commit, newCounter } from "../../../src/policy/rate.ts";
import type { SenderCounter } from "../../../src/policy/sender-counter.ts";
import { type SenderRow, senderRow } from "../../../src/policy/sender-report.ts";
import {
  createTopSenders,
  type RankedTable,
  type TopSendersOptions,
} from "../../../src/store/top-senders.ts";
import { limitConfig } from "../../helpers/limit-config.ts";

const NOW = 1_700_000_000_000;

function table(limit: LimitConfig, counts: number[], prefix = "k"): RankedTable {
  const counters = new Map<string, SenderCounter>();
  counts.forEach((count, i) => {
    const counter = newCounter(NOW - 1000);
    commit(counter, count, NOW - 1000);
    counters.set(`${prefix}${i}@example.org`, counter);
  });
  return { limit, counters };
}

/** What the control plane answered before: every row, a stable sort, the first `top`. */
function fullSort(tables: RankedTable[], top: number, rule?: string): SenderRow[] {
  const rows: SenderRow[] = [];
  for (const { limit, counters } of tables) {
    if (rule !== undefined && limit.name !== rule) continue;
    for (const [key, counter] of counters) {
      const row = senderRow(limit, key, counter, NOW);
      if (row.count > 0) rows.push(row);
    }
  }
  return rows.sort((a, b) => b.count / b.limit - a.count / a.limit || b.count - a.count).slice(0, top);
}

function ask(ranker: ReturnType<typeof createTopSenders>, top: number, rule?: string) {
  return new Promise<SenderRow[] | undefined>((resolve) => ranker.query(top, rule, resolve));
}

function options(tables: RankedTable[], extra: Partial<TopSendersOptions> = {}): TopSendersOptions {
  return {
    tables: () => tables,
    now: () => NOW,
    stopped: () => false,
    fail: (error) => {
      throw error;
    },
    ...extra,
  };
}

// Counts with many ties, so that tie order is checked too; a deterministic spread.
const counts = (n: number, seed: number) =>
  Array.from({ length: n }, (_, i) => ((i * 7919 + seed) % 37) % 25);

describe("top senders", () => {
  it("small tables are ranked on the spot, exactly as a full sort", () => {
    const tables = [
      table(limitConfig({ name: "a", count: 20 }), counts(300, 1)),
      table(limitConfig({ name: "b", count: 10 }), counts(200, 2), "j"),
    ];
    const ranker = createTopSenders(options(tables));
    let answered: SenderRow[] | undefined;
    ranker.query(20, undefined, (rows) => answered = rows);
    assert.deepEqual(answered, fullSort(tables, 20), "answered synchronously, same rows and order");
    ranker.query(7, "b", (rows) => answered = rows);
    assert.deepEqual(answered, fullSort(tables, 7, "b"));
  });

  it("large tables are ranked in slices, to the same rows", async () => {
    const tables = [
      table(limitConfig({ name: "a", count: 20 }), counts(5000, 3)),
      table(limitConfig({ name: "b", count: 10 }), counts(3000, 4), "j"),
    ];
    let turns = 0;
    const ranker = createTopSenders(options(tables, { sliceKeys: 256 }));
    let answered = false;
    const counting = () => {
      turns++;
      if (!answered) setImmediate(counting);
    };
    setImmediate(counting);
    const rows = await ask(ranker, 50);
    answered = true;
    assert.deepEqual(rows, fullSort(tables, 50));
    assert.ok(turns >= 8000 / 256 - 1, `the event loop turned between slices (${turns} turns)`);
    assert.deepEqual(await ask(ranker, 30, "b"), fullSort(tables, 30, "b"));
  });

  it("a slice stops at its time budget whatever its key budget", async () => {
    const tables = [table(limitConfig(), counts(20_000, 5))];
    let turns = 0;
    let done = false;
    const ticking = () => {
      turns++;
      if (!done) setImmediate(ticking);
    };
    setImmediate(ticking);
    // sliceMs 0: every slice stops at its first clock check (every 128 keys)
    const rows = await ask(createTopSenders(options(tables, { sliceKeys: 10_000, sliceMs: 0 })), 10);
    done = true;
    assert.deepEqual(rows, fullSort(tables, 10));
    assert.ok(turns >= 20_000 / 128 - 1, `${turns} turns`);
  });

  it("concurrent readers share one ranking; a reader soon after reuses it, rescored", async () => {
    const tables = [table(limitConfig(), counts(10_000, 6))];
    let clock = NOW;
    let scans = 0;
    const counters = tables[0].counters;
    const ranker = createTopSenders(options(tables, { now: () => clock, sliceKeys: 1000 }));
    // Count rankings by the times the table's iterator is made: once per ranking (and not per reader).
    const keys = counters.keys.bind(counters);
    counters.keys = () => (scans++, keys());
    const [first, second, third] = await Promise.all([
      ask(ranker, 20),
      ask(ranker, 10),
      ask(ranker, 5, "outbound"),
    ]);
    assert.equal(scans, 1);
    assert.deepEqual(first, fullSort(tables, 20));
    assert.deepEqual(second, fullSort(tables, 10));
    assert.deepEqual(third, fullSort(tables, 5));
    // The leader reset, another one's count moved: served from the kept ranking, with current counts.
    const [leader, next] = first!;
    counters.delete(leader.key);
    commit(counters.get(next.key)!, 3, NOW);
    clock = NOW + 10;
    const later = await ask(ranker, 20);
    assert.equal(scans, 1, "no second ranking within the second");
    assert.ok(!later!.some((row) => row.key === leader.key), "a reset key is gone at once");
    assert.equal(later![0].key, next.key);
    assert.equal(later![0].count, next.count + 3);
  });

  it("a reader wanting more rows than the kept ranking has starts a larger one", async () => {
    const tables = [table(limitConfig(), counts(10_000, 7))];
    const ranker = createTopSenders(options(tables, { sliceKeys: 2000 }));
    assert.equal((await ask(ranker, 20))!.length, 20);
    assert.deepEqual(await ask(ranker, 500), fullSort(tables, 500));
  });

  it("keys with nothing left in their window are not shown", async () => {
    const limit = limitConfig({ windowMs: 1000 });
    const tables = [table(limit, counts(6000, 8))];
    const ranker = createTopSenders(options(tables, { now: () => NOW + 5000 }));
    assert.deepEqual(await ask(ranker, 20), []);
  });

  it("a ranking under way when the owner stops answers undefined", async () => {
    let stopped = false;
    const ranker = createTopSenders(
      options([table(limitConfig(), counts(10_000, 9))], { stopped: () => stopped, sliceKeys: 100 }),
    );
    const rows = ask(ranker, 20);
    stopped = true;
    assert.equal(await rows, undefined);
  });
});
