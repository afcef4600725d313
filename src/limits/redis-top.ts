// `top` over the shared counters in Redis: SCAN MATCH over the counters' keys in slices of SCAN_COUNT,
// each slice's counters read with one pipelined HMGET, a bounded candidate list kept (never a row per
// key). Cost: two round trips per slice (SCAN, HMGET), Redis work in proportion to every key in the
// database (SCAN walks the whole keyspace, MATCH filters), so at most MAX_SCANNED counters are looked at
// per ranking; beyond, the ranking is of those seen (logged). One ranking serves every reader asking while
// it runs and, when it took more than one slice, for FRESH_MS after, so a dashboard polling /status does
// not scan a large database once per poll; a small one is ranked afresh each time (exact and current).
import type { Redis } from "ioredis";
import type { Logger } from "../log.ts";
import type { LimitConfig } from "../model/limit.ts";
import { capacity, currentLevel, wholeCount } from "../policy/rate.ts";
import type { SenderCounter } from "../policy/sender-counter.ts";
import { type SenderRow, senderRow } from "../policy/sender-report.ts";
import { COUNTER_FIELDS } from "./redis-scripts.ts";
import { counterFromReply } from "./redis-counter.ts";
import { counterPattern, parseCounterKey } from "./redis-keys.ts";
import { isWrongType } from "./redis-admin.ts";

const SCAN_COUNT = 1000;
export const MAX_SCANNED = 100_000;
const FRESH_MS = 1000;

export interface RedisTopOptions {
  client: Redis;
  prefix: string;
  limits: () => readonly LimitConfig[];
  /** The kind a limit's counters are named with (redis-counter-kinds.ts); undefined: none. */
  kindOf: (limit: string) => string | undefined;
  /** Redis's time (ms). */
  now: () => Promise<number>;
  roundTrip: () => void;
  log: Logger;
}

interface Candidate {
  limit: LimitConfig;
  key: string;
  counter: SenderCounter;
  ratio: number;
  count: number;
}

// As the memory store ranks (store/top-senders.ts); ties, which it leaves in the order keys were first
// seen, go to the older window here and then by key (SCAN's order is the hash table's).
const order = (a: Candidate, b: Candidate) =>
  b.ratio - a.ratio || b.count - a.count || a.counter.start - b.counter.start ||
  (a.key < b.key ? -1 : a.key > b.key ? 1 : a.limit.name < b.limit.name ? -1 : 1);

interface Ranking {
  rule: string | undefined;
  top: number;
  rows: Promise<{ rows: SenderRow[]; small: boolean }>;
  until: number; // Date.now() ms; Infinity while it runs
}

export function createRedisTop(options: RedisTopOptions) {
  const { client, prefix } = options;
  let rankings: Ranking[] = [];

  /** Every key of the counters (of `rule`, or all), a slice of SCAN at a time; returns how many. */
  const scan = async (rule: string | undefined, slice: (keys: string[]) => Promise<void>, max = Infinity) => {
    let cursor = "0";
    let seen = 0;
    do {
      options.roundTrip();
      const [next, keys] = await client.scan(
        cursor,
        "MATCH",
        counterPattern(prefix, rule, rule === undefined ? undefined : options.kindOf(rule)),
        "COUNT",
        SCAN_COUNT,
      );
      cursor = next;
      if (keys.length > 0) await slice(keys);
      seen += keys.length;
    } while (cursor !== "0" && seen < max);
    return { seen, complete: cursor === "0" };
  };

  const rank = async (rule: string | undefined, top: number) => {
    const limits = new Map(options.limits().map((limit) => [limit.name, limit]));
    const at = await options.now();
    let kept: Candidate[] = [];
    const { seen, complete } = await scan(rule, async (keys) => {
      const named = keys.map((redisKey) => parseCounterKey(prefix, redisKey));
      const pipeline = client.pipeline();
      for (const key of keys) pipeline.hmget(key, ...COUNTER_FIELDS);
      options.roundTrip();
      const replies = (await pipeline.exec())!;
      named.forEach((parsed, i) => {
        // Another kind's counter: the limit's key was changed, and the counter counts by the old one.
        const limit = parsed && parsed.kind === options.kindOf(parsed.limit) && limits.get(parsed.limit);
        const [error, values] = replies[i];
        if (isWrongType(error)) return; // not a counter: another program's key (redis-admin.ts)
        if (error) throw error;
        if (!parsed || !limit || (values as unknown[])[0] === null) return;
        const counter = counterFromReply(values as unknown[], 0);
        const count = wholeCount(currentLevel(counter, limit, at));
        if (count <= 0) return;
        kept.push({ limit, key: parsed.key, counter, ratio: count / capacity(limit), count });
      });
      if (kept.length > 4 * top + SCAN_COUNT) kept = kept.sort(order).slice(0, top);
    }, MAX_SCANNED);
    if (!complete) {
      options.log.warn("redis", "top: ranked the first counters only", { scanned: seen, max: MAX_SCANNED });
    }
    const rows = kept.sort(order).slice(0, top).map((c) => senderRow(c.limit, c.key, c.counter, at));
    return { rows, small: complete && seen <= SCAN_COUNT };
  };

  return {
    scan,

    /** A reset on this host: the rankings made before it listed what it removed. */
    forget() {
      rankings = [];
    },

    query(top: number, rule: string | undefined, reply: (rows: SenderRow[] | undefined | null) => void) {
      const now = Date.now();
      rankings = rankings.filter((ranking) => ranking.until > now);
      let ranking = rankings.find((r) => r.rule === rule && r.top >= top);
      if (!ranking) {
        const made: Ranking = { rule, top, rows: rank(rule, top), until: Infinity };
        made.rows.then(({ small }) => made.until = small ? 0 : Date.now() + FRESH_MS, () => made.until = 0);
        rankings.push(ranking = made);
      }
      ranking.rows.then(({ rows }) => reply(rows.slice(0, top)), (error) => {
        options.log.warn("redis", "top failed", { error: String(error) });
        reply(null); // Redis did not answer (counter-store.ts)
      });
    },
  };
}
