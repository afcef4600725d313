// The shared counters a host copied into its memory store when it switched from Redis back to memory
// ([redis] removed, docs/redis.md "Upgrade"), as they were then. They stay in Redis (other hosts may go on
// counting there), so when this host adds its counters into Redis again, it adds only what it counted
// since the copy, counts and sightings (policy/restored-counter.ts, countedSince): else every shared count
// would come back doubled, once per host that made the round trip. One copy per key copied, dropped once
// merged or once its window has ended. store/exported-file.ts keeps them across a restart.
import type { LimitConfig } from "../model/limit.ts";
import { counterExpiresAt } from "../policy/rate.ts";
import { countedSince } from "../policy/restored-counter.ts";
import { makeCounter, type SenderCounter } from "../policy/sender-counter.ts";

export interface ExportedCounters {
  /** A shared counter copied into memory: kept as it is now. */
  remember(limit: string, key: string, counter: SenderCounter): void;
  /** What to add into Redis for this local counter: all of it, or what was counted since its copy. */
  toMerge(limit: LimitConfig, key: string, counter: SenderCounter, now: number): SenderCounter;
  /** The counter is in Redis again: its copy goes. */
  merged(limit: string, key: string): void;
  /**
   * The key was reset here: its copies go (every limit's). The counter they were copied into is gone, and a
   * copy was subtracted from the key's next counter, what was counted after the reset.
   */
  forgetKey(key: string): void;
  /** Drops the copies whose window has ended by `now` and those of limits no longer configured. */
  expire(limits: readonly LimitConfig[], now: number): void;
  /** Whether a copy came or went since the last `saved()`. */
  readonly changed: boolean;
  /** The copies by limit and key, for the file. */
  tables(): ReadonlyMap<string, ReadonlyMap<string, SenderCounter>>;
  saved(): void;
}

/** `restored`: the copies a previous run kept (store/exported-file.ts). */
export function createExportedCounters(
  restored: Map<string, Map<string, SenderCounter>> = new Map(),
): ExportedCounters {
  const copies = restored;
  let changed = false;
  return {
    remember(limit, key, counter) {
      let table = copies.get(limit);
      if (!table) copies.set(limit, table = new Map());
      const copy = makeCounter(counter.start, counter.count, counter.last, counter.alert);
      copy.prev = counter.prev ?? 0;
      copy.subjects = counter.subjects?.copy(); // the counter goes on noting sightings in memory
      copy.clientIps = counter.clientIps?.copy();
      table.set(key, copy);
      changed = true;
    },
    toMerge(limit, key, counter, now) {
      const copy = copies.get(limit.name)?.get(key);
      return copy === undefined ? counter : countedSince(counter, copy, limit, now);
    },
    merged(limit, key) {
      const table = copies.get(limit);
      if (table?.delete(key)) changed = true;
    },
    forgetKey(key) {
      for (const [name, table] of copies) {
        if (table.delete(key)) changed = true;
        if (table.size === 0) copies.delete(name);
      }
    },
    expire(limits, now) {
      for (const [name, table] of copies) {
        const limit = limits.find((candidate) => candidate.name === name);
        for (const [key, copy] of table) {
          if (limit !== undefined && now < counterExpiresAt(copy, limit)) continue;
          table.delete(key);
          changed = true;
        }
        if (table.size === 0) copies.delete(name);
      }
    },
    get changed() {
      return changed;
    },
    tables: () => copies,
    saved() {
      changed = false;
    },
  };
}
