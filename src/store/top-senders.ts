// The top senders for the control plane (`/senders`, `/status`, `top`, the dashboard) without stalling the
// policy path: the counters actor answers Exim on the same thread, and a scan and sort of every tracked
// key took 1.9–2.5 s at a million keys (issue 16), long enough for Exim's 2 s readsocket timeout to turn
// rate limiting off while a dashboard refreshed.
//
// So a ranking is computed in slices (at most SLICE_KEYS counters or SLICE_MS per turn of the event loop,
// then setImmediate, so that the answers waiting in between go first), keeping only a bounded heap of the best K per limit,
// never a row per key. One ranking serves every reader that asks while it runs and for a while after
// (at least a second, and at least SHARE times as long as it took, so that even a poller in a tight loop
// gets one scan's worth of CPU at most 1/SHARE of the time). A reader is answered from the ranking's
// candidates with their counts worked out again at that moment, so counts are current; only which keys
// are candidates may be up to that long old. Tables small enough for one slice are ranked on the spot,
// so small sites (and tests) always see the exact, current ranking.
//
// Keeping the top keys incrementally on the request path was not chosen: it would cost every request,
// and the order changes with time alone (windows end, sliding and bucket levels fade), which an
// incremental structure cannot follow without rescoring.
import type { LimitConfig } from "../model/limit.ts";
import { capacity, currentLevel, wholeCount } from "../policy/rate.ts";
import type { SenderCounter } from "../policy/sender-counter.ts";
import { type SenderRow, senderRow } from "../policy/sender-report.ts";

export interface RankedTable {
  limit: LimitConfig;
  counters: Map<string, SenderCounter>;
}

export interface TopSendersOptions {
  /** The current tables, in a stable order (a ranking's ties go to the key seen first). */
  tables: () => Iterable<RankedTable>;
  now: () => number;
  /** True once the owner has stopped: a ranking under way is dropped and its readers get undefined. */
  stopped: () => boolean;
  /** An error in a slice: the owner fails (it is restarted); readers waiting get undefined. */
  fail: (error: unknown) => void;
  sliceKeys?: number;
  sliceMs?: number;
  minAgeMs?: number;
  share?: number;
}

export type TopSendersReply = (rows: SenderRow[] | undefined) => void;

export interface TopSenders {
  /** The top `top` rows over every limit, or over `rule`'s: at once, or after a ranking in slices. */
  query(top: number, rule: string | undefined, reply: TopSendersReply): void;
}

// A slice scores at most SLICE_KEYS counters and stops after SLICE_MS, whichever comes first. Warm, 4096
// counters take ~0.1–0.3 ms here (cold memory: a map entry and a counter each); the first rankings, before
// the JIT has compiled the loop, took up to hundreds of milliseconds for the same keys on this busy
// machine, hence the clock.
export const SLICE_KEYS = 4096;
const SLICE_MS = 2;
const CLOCK_EVERY = 128; // a power of two
const MIN_AGE_MS = 1000;
const SHARE = 10;
// A ranking keeps at least this many candidates per limit, so that the usual top 10 (status) and top 20
// (`top`, /senders) readers share one; a reader asking for more starts a ranking of its own size.
const MIN_CANDIDATES = 100;

interface Candidate {
  key: string;
  ratio: number;
  count: number;
  seq: number; // scan order: ties go to the key seen first, as the stable sort of a full scan did
}

// a ranks above b
const above = (a: Candidate, b: Candidate) =>
  a.ratio > b.ratio || (a.ratio === b.ratio && (a.count > b.count || (a.count === b.count && a.seq < b.seq)));

/** The best `size` candidates seen: a min-heap whose root is the worst kept. */
class BoundedHeap {
  readonly items: Candidate[] = [];
  constructor(readonly size: number) {}

  /** Whether a candidate with these scores would be kept (checked before making an object for it). */
  admits(ratio: number, count: number): boolean {
    if (this.items.length < this.size) return true;
    const worst = this.items[0];
    // Equal scores lose: the kept one was seen first.
    return ratio > worst.ratio || (ratio === worst.ratio && count > worst.count);
  }

  push(candidate: Candidate): void {
    const items = this.items;
    if (items.length < this.size) {
      items.push(candidate);
      let i = items.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!above(items[parent], items[i])) break;
        [items[parent], items[i]] = [items[i], items[parent]];
        i = parent;
      }
      return;
    }
    items[0] = candidate;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let worst = i;
      if (left < items.length && above(items[worst], items[left])) worst = left;
      if (right < items.length && above(items[worst], items[right])) worst = right;
      if (worst === i) return;
      [items[worst], items[i]] = [items[i], items[worst]];
      i = worst;
    }
  }
}

interface Ranking {
  size: number; // candidates kept per limit
  candidates: Map<RankedTable, Candidate[]>;
  freshUntil: number; // performance.now() ms
}

interface Reader {
  top: number;
  rule: string | undefined;
  reply: TopSendersReply;
}

export function createTopSenders(options: TopSendersOptions): TopSenders {
  const sliceKeys = options.sliceKeys ?? SLICE_KEYS;
  const sliceMs = options.sliceMs ?? SLICE_MS;
  const minAgeMs = options.minAgeMs ?? MIN_AGE_MS;
  const share = options.share ?? SHARE;
  let ranking: Ranking | undefined;
  let running: { size: number } | undefined;
  let waiting: Reader[] = [];

  const chosen = (rule: string | undefined): RankedTable[] =>
    [...options.tables()].filter((table) => rule === undefined || table.limit.name === rule);

  // Scores one counter into its limit's heap; seq orders ties.
  const score = (
    heap: BoundedHeap,
    limit: LimitConfig,
    key: string,
    counter: SenderCounter,
    at: number,
    seq: number,
  ) => {
    const count = wholeCount(currentLevel(counter, limit, at));
    if (count <= 0) return;
    const ratio = count / capacity(limit);
    if (heap.admits(ratio, count)) heap.push({ key, ratio, count, seq });
  };

  // The rows for a reader from candidates, rescored now: a counter may have moved, been reset or expired
  // since it was ranked.
  const rowsFrom = (candidates: Map<RankedTable, Candidate[]>, top: number, rule: string | undefined) => {
    const at = options.now();
    const fresh: { table: RankedTable; counter: SenderCounter; candidate: Candidate }[] = [];
    for (const table of chosen(rule)) {
      for (const old of candidates.get(table) ?? []) {
        const counter = table.counters.get(old.key);
        if (!counter) continue;
        const count = wholeCount(currentLevel(counter, table.limit, at));
        if (count <= 0) continue;
        const candidate = { key: old.key, ratio: count / capacity(table.limit), count, seq: old.seq };
        fresh.push({ table, counter, candidate });
      }
    }
    fresh.sort((a, b) => above(a.candidate, b.candidate) ? -1 : above(b.candidate, a.candidate) ? 1 : 0);
    return fresh.slice(0, top).map(({ table, counter, candidate }) =>
      senderRow(table.limit, candidate.key, counter, at)
    );
  };

  // Small enough for one slice: ranked on the spot, exact and current.
  const rankNow = (tables: RankedTable[], top: number, rule: string | undefined): SenderRow[] => {
    const at = options.now();
    const candidates = new Map<RankedTable, Candidate[]>();
    let seq = 0;
    for (const table of tables) {
      const heap = new BoundedHeap(top);
      const keys = table.counters.keys();
      for (const counter of table.counters.values()) {
        score(heap, table.limit, keys.next().value as string, counter, at, seq++);
      }
      candidates.set(table, heap.items);
    }
    return rowsFrom(candidates, top, rule);
  };

  const answerWaiting = () => {
    const still: Reader[] = [];
    for (const reader of waiting) {
      if (ranking && reader.top <= ranking.size) {
        reader.reply(rowsFrom(ranking.candidates, reader.top, reader.rule));
      } else still.push(reader);
    }
    waiting = still;
    if (waiting.length > 0) startRanking();
  };

  const giveUp = () => {
    const readers = waiting;
    waiting = [];
    running = undefined;
    for (const reader of readers) reader.reply(undefined);
  };

  // Every limit in one pass (one ranking answers readers of any rule), SLICE_KEYS counters per turn.
  // Keys and counters come from two iterators in step, as the state save reads them: `for (const [k, v]
  // of map)` makes an array per entry, a million of them per ranking. Both iterators follow the map's
  // entry list, so they stay in step when counters are added or deleted between slices.
  const startRanking = () => {
    const size = Math.max(MIN_CANDIDATES, ...waiting.map((reader) => reader.top));
    running = { size };
    let busyMs = 0;
    const tables = [...options.tables()];
    const heaps = new Map(tables.map((table) => [table, new BoundedHeap(size)]));
    let index = 0;
    let keys: IterableIterator<string> | undefined;
    let values: Iterator<SenderCounter> | undefined;
    let seq = 0;
    const slice = () => {
      if (options.stopped()) return giveUp();
      const sliceBegan = performance.now();
      try {
        const at = options.now();
        const deadline = sliceBegan + sliceMs;
        let budget = sliceKeys;
        while (budget > 0 && index < tables.length) {
          const table = tables[index];
          keys ??= table.counters.keys();
          values ??= table.counters.values();
          const heap = heaps.get(table)!;
          let finished = true; // this table's keys ran out
          // A for-of loop over the keys (the runtime's fast path, no result object per key) that stops
          // and resumes: a Map iterator has no return(), so `break` leaves it where it was. The clock is
          // read every CLOCK_EVERY keys: cold code (the first rankings run before the JIT has compiled
          // this loop) or cold memory can make a fixed number of keys take far longer.
          for (const key of keys) {
            score(heap, table.limit, key, values.next().value as SenderCounter, at, seq++);
            if (--budget === 0 || ((budget & (CLOCK_EVERY - 1)) === 0 && performance.now() > deadline)) {
              budget = 0;
              finished = false;
              break;
            }
          }
          if (finished) {
            index++;
            keys = values = undefined;
          }
        }
      } catch (error) {
        giveUp();
        options.fail(error);
        return;
      }
      busyMs += performance.now() - sliceBegan;
      if (index < tables.length) {
        setImmediate(slice);
        return;
      }
      ranking = {
        size,
        candidates: new Map([...heaps].map(([table, heap]) => [table, heap.items])),
        freshUntil: performance.now() + Math.max(minAgeMs, share * busyMs),
      };
      running = undefined;
      answerWaiting();
    };
    setImmediate(slice);
  };

  return {
    query(top, rule, reply) {
      const tables = chosen(rule);
      let keys = 0;
      for (const table of tables) keys += table.counters.size;
      if (keys <= sliceKeys) return reply(rankNow(tables, top, rule));
      if (ranking && top <= ranking.size && performance.now() < ranking.freshUntil) {
        return reply(rowsFrom(ranking.candidates, top, rule));
      }
      waiting.push({ top, rule, reply });
      if (!running) startRanking();
    },
  };
}
