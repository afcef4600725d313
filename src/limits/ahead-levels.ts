// Which requests the Redis store accepts before Redis answers ([redis] answer_ahead = yes; docs/redis.md,
// docs/decisions.md "Answering ahead of Redis"). Pure: no I/O; the clock is injected.
//
// An answer ahead is an accept sent at once; the request's hit goes to Redis all the same, and its counts,
// crossings, alerts and sightings follow from Redis's answer as for any request. What this host keeps, per
// (limit, key) it has answered ahead: the level Redis last reported, and the costs sent since whose answer
// has not come yet (answered ahead, or waiting for Redis: follow). A request is answered ahead only when, under every limit it counts for, the key
// stays within half the limit's capacity by what this host knows:
// - a key with no level yet (first seen here): one request in flight at a time;
// - a key with one: its level + what is in flight + the cost ≤ capacity / 2, and at most perKey(limit)
//   requests in flight (16, or a 64th of a larger capacity: a busy key far from a large limit, a network's,
//   must not wait for Redis because 16 of its requests are on their way).
// Everything else waits for Redis as before, so a refusal is still decided by Redis. One host's own counts
// are all in the level or in flight, so alone it only over-grants one request of a key it has no level for
// (after a start or a reload, or while its first requests wait for Redis); with several hosts, each can grant up to perKey(limit) past a limit whose
// second half the others filled within one of its round trips, and then waits for Redis for that key.
import type { LimitConfig } from "../model/limit.ts";
import { capacity } from "../policy/rate.ts";
import { unsharedText } from "../policy/unshared-text.ts";
import type { Probe, ProbeBatch } from "./counter-store.ts";

/**
 * Requests of one key answered ahead at once, at most: what a host may grant past a limit the others
 * filled. At least 16, at most a 64th of the limit's capacity beyond that (1.6 %).
 */
export const perKey = (limit: LimitConfig): number => Math.max(PER_KEY, Math.floor(capacity(limit) / 64));
const PER_KEY = 16;
/** Requests answered ahead whose answers have not come, at most (then requests wait: back-pressure). */
export const IN_FLIGHT = 1024;
// The sweep walks every level kept (up to max_keys a limit): once a minute, not on every tick of the store.
const SWEEP_EVERY_MS = 60_000;

interface Level {
  /** Redis's last level for the key (NaN: none yet). */
  level: number;
  /** Costs answered ahead, not answered by Redis yet, and how many requests they are. */
  pending: number;
  flights: number;
  /** When Redis last reported the level, or a request was answered ahead (ms). */
  seen: number;
}

export interface AheadLevels {
  /** Whether every probe of the batch may be answered ahead; if so their costs are in flight (release). */
  take(batch: ProbeBatch): boolean;
  /**
   * A batch sent to Redis without an answer ahead: its costs are in flight, until release, in the levels
   * kept for its keys (none made). Else Redis counted them before this host's next answers ahead unseen,
   * and one host alone let a key past its limit. False: it has no key with a level (nothing to release).
   */
  follow(batch: ProbeBatch): boolean;
  /** Redis answered the probe (ahead or not): its level now. Only keys answered ahead before are kept. */
  observe(probe: Probe): void;
  /**
   * The answer to a batch `take` accepted or `follow` holds came (Redis's or the fallback's): its costs are
   * no longer in flight.
   */
  release(batch: ProbeBatch): void;
  /** Forgets the levels of keys neither answered ahead nor reported for two windows of their limit. */
  sweep(): void;
  forgetKey(key: string): void;
  /**
   * Redis was given counts no answer reported (this host's own, merged after an incident): every level kept,
   * and those of `keys` (made while there is room), wait for Redis until it reports them again.
   */
  stale(keys: readonly (readonly [LimitConfig, string, ...unknown[]])[]): void;
  /** The limits changed: every level is forgotten (their counters may be others). */
  configure(limits: readonly LimitConfig[], maxKeys: number): void;
  readonly size: number;
  readonly inFlight: number;
}

export function createAheadLevels(now: () => number): AheadLevels {
  let tables = new Map<LimitConfig, Map<string, Level>>();
  let maxKeys = 0;
  let inFlight = 0;
  let sweptAt = now();
  const found: (Level | undefined)[] = []; // take's lookups, reused from request to request
  // The levels each batch in flight holds costs in: a release gives back to those, not to a level made again
  // for the same key since (a reset, a reload), which never held them.
  const taken = new WeakMap<ProbeBatch, Level[]>();
  // follow's: the levels a batch not answered ahead holds costs in, by probe (undefined: no level kept).
  const followed = new WeakMap<ProbeBatch, (Level | undefined)[]>();

  const fits = (probe: Probe, level: Level | undefined, table: Map<string, Level> | undefined): boolean => {
    const half = capacity(probe.limit) / 2;
    if (probe.cost > half) return false;
    if (level === undefined) return table !== undefined && table.size < maxKeys;
    if (level.flights >= perKey(probe.limit)) return false;
    if (Number.isNaN(level.level)) return level.flights === 0;
    return level.level + level.pending + probe.cost <= half;
  };

  return {
    take(batch) {
      if (inFlight >= IN_FLIGHT) return false;
      for (let i = 0; i < batch.size; i++) {
        const probe = batch.probes[i];
        const table = tables.get(probe.limit);
        const level = table?.get(probe.key);
        if (!fits(probe, level, table)) return false;
        found[i] = level;
      }
      const at = now();
      const held: Level[] = [];
      for (let i = 0; i < batch.size; i++) {
        const probe = batch.probes[i];
        let level = found[i];
        found[i] = undefined;
        if (level === undefined) {
          level = { level: NaN, pending: 0, flights: 0, seen: at };
          // A copy: the probe's key may be a slice of the request, which the table would then hold.
          tables.get(probe.limit)!.set(unsharedText(probe.key), level);
        }
        level.pending += probe.cost;
        level.flights++;
        level.seen = at;
        held.push(level);
      }
      taken.set(batch, held);
      inFlight++;
      return true;
    },

    follow(batch) {
      let held: (Level | undefined)[] | undefined;
      for (let i = 0; i < batch.size; i++) {
        const probe = batch.probes[i];
        const level = tables.get(probe.limit)?.get(probe.key);
        if (level === undefined) continue;
        held ??= new Array(batch.size);
        held[i] = level;
        level.pending += probe.cost;
      }
      if (held === undefined) return false;
      followed.set(batch, held);
      return true;
    },

    observe(probe) {
      const level = tables.get(probe.limit)?.get(probe.key);
      if (level === undefined) return;
      level.level = probe.level;
      level.seen = now();
    },

    release(batch) {
      const following = followed.get(batch);
      if (following !== undefined) {
        followed.delete(batch);
        for (let i = 0; i < following.length; i++) {
          const level = following[i];
          if (level !== undefined) level.pending -= batch.probes[i].cost;
        }
      }
      const held = taken.get(batch);
      if (held === undefined) return;
      taken.delete(batch);
      inFlight--;
      for (let i = 0; i < held.length; i++) {
        held[i].pending -= batch.probes[i].cost;
        held[i].flights--;
      }
    },

    sweep() {
      const at = now();
      if (at - sweptAt < SWEEP_EVERY_MS) return;
      sweptAt = at;
      for (const [limit, table] of tables) {
        for (const [key, level] of table) {
          if (level.flights === 0 && at - level.seen > 2 * limit.windowMs) table.delete(key);
        }
      }
    },

    forgetKey(key) {
      for (const table of tables.values()) table.delete(key);
    },

    stale(keys) {
      for (const table of tables.values()) for (const level of table.values()) level.level = Infinity;
      const at = now();
      for (const [limit, key] of keys) {
        const table = tables.get(limit);
        if (table === undefined || table.has(key) || table.size >= maxKeys) continue;
        table.set(unsharedText(key), { level: Infinity, pending: 0, flights: 0, seen: at });
      }
    },

    configure(limits, nextMaxKeys) {
      tables = new Map(limits.map((limit) => [limit, new Map()]));
      maxKeys = nextMaxKeys;
    },

    get size() {
      let size = 0;
      for (const table of tables.values()) size += table.size;
      return size;
    },
    get inFlight() {
      return inFlight;
    },
  };
}
