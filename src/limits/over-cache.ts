// The Redis store's local cache of keys over a limit that refuses (defer, reject) in leaky mode: a hot
// sender that is over (a spam run retrying every few seconds) would otherwise cost a Redis round trip per
// attempt only to hear "over" again. Such a refusal counts nothing (leaky), so answering it here and
// committing nothing changes no shared counter.
//
// What it may get wrong, for at most `ttlMs` after Redis last said "over":
// - it never over-grants: it only ever answers "over" (a request it would let through goes to Redis);
// - it may over-refuse: a fixed window that ends, a sliding or bucket level that drains, or a `reset` on
//   another host during that time are not seen, so the key is refused up to ttlMs longer than needed;
// - the refused attempts it answers are not noted on the shared counter (last seen, subjects, client IPs).
// Bounded: at most `maxEntries` keys, the oldest out first.
//
// A request refused from the cache is not counted by any other leaky limit either (the engine counts a
// leaky limit only when the verdict lets the request through), and a limit the cached one outranks cannot
// change the verdict: such limits are not asked either (decidedWithout), so a hot sender costs no round
// trip even under a second limit (per client network, warn). What they miss meanwhile: the same notes, and
// a crossing of theirs is reported on the first request the cache does not refuse. Strict limits are always
// asked: they count every attempt.
import type { LimitConfig } from "../model/limit.ts";
import { capacity } from "../policy/rate.ts";
import { outranks, refuses } from "../policy/verdict.ts";
import type { Probe } from "./counter-store.ts";

interface Entry {
  limit: LimitConfig;
  /** The level without the request that found it over. */
  base: number;
  /** The counter's instance then: another recipient of that message adds nothing, Redis must answer. */
  instance: string;
  until: number;
}

export interface OverCache {
  /** Whether answers for this limit may come from the cache. */
  eligible(limit: LimitConfig): boolean;
  /** Redis said the probe is over: remember it until now + ttl. */
  remember(probe: Probe, counterInstance: string): void;
  /** Fills charge, level, over and isNew when the cache knows the probe is over; false when it does not. */
  answer(probe: Probe): boolean;
  forgetKey(key: string): void;
  clear(): void;
  readonly size: number;
}

export function createOverCache(ttlMs: number, maxEntries: number, now: () => number): OverCache {
  const entries = new Map<string, Entry>();
  const id = (limit: string, key: string) => `${limit}\0${key}`;

  return {
    eligible: (limit) => ttlMs > 0 && limit.mode === "leaky" && refuses(limit.action),

    remember(probe, counterInstance) {
      const key = id(probe.limit.name, probe.key);
      entries.delete(key); // re-inserted last: the oldest is the first in the Map's order
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(key, {
        limit: probe.limit,
        base: probe.level - probe.charge,
        instance: counterInstance,
        until: now() + ttlMs,
      });
    },

    answer(probe) {
      const key = id(probe.limit.name, probe.key);
      const entry = entries.get(key);
      if (entry === undefined) return false;
      if (entry.limit !== probe.limit || entry.until <= now()) {
        entries.delete(key);
        return false;
      }
      if (probe.instance !== undefined && probe.instance === entry.instance) return false;
      const level = entry.base + probe.cost;
      if (!(level > capacity(probe.limit))) return false;
      probe.charge = probe.cost;
      probe.level = level;
      probe.over = true;
      probe.isNew = false;
      return true;
    },

    forgetKey(key) {
      const suffix = `\0${key}`;
      for (const name of entries.keys()) if (name.endsWith(suffix)) entries.delete(name);
    },

    clear: () => entries.clear(),

    get size() {
      return entries.size;
    },
  };
}

/**
 * Whether the verdict of a request refused by `decider` (a cached over probe) needs nothing from `probe`:
 * probe is leaky (not counted when refused) and cannot be the limit that decides (the engine picks the
 * strictest action over, the first of equals; `before`: probe comes before decider).
 */
export function decidedWithout(decider: Probe, probe: Probe, before: boolean): boolean {
  if (probe.limit.mode !== "leaky") return false;
  const action = probe.limit.action;
  const stricter = outranks(action, decider.limit.action);
  const equal = !stricter && !outranks(decider.limit.action, action);
  return !stricter && !(equal && before);
}
