// The Redis store's local cache of keys over a limit: a hot sender that is over (a spam run retrying every
// few seconds) would otherwise cost a Redis round trip per attempt only to hear "over" again. Two kinds of
// limit are cached (docs/redis.md, "The local cache of keys over a limit"):
// - leaky limits that refuse (defer, reject): a refusal counts nothing there, so answering it here and
//   committing nothing changes no shared counter;
// - strict limits, whatever their action: every attempt counts, so the attempts answered here are added up
//   (`pending`) and carried to Redis by the key's next call there, or by the store's tick once the entry
//   has ended (FLUSH_SCRIPT). Until then Redis's counter lacks them: at most `ttlMs` of this host's
//   attempts per key, invisible to the other hosts meanwhile.
//
// What it may get wrong, for at most `ttlMs` after Redis last said "over" (never past the end of a fixed
// or sliding window's current period, which Redis reports with "over"):
// - it never over-grants: it only ever answers "over" (a request it would let through goes to Redis);
// - it may over-refuse: a bucket level that drains, or a `reset` on another host during that time are not
//   seen, so the key is refused up to ttlMs longer than needed;
// - the attempts it answers are not noted on the shared counter (last seen, subjects, client IPs).
// Bounded: at most `maxEntries` keys, the oldest out first (its pending counts are handed to the flush); an
// entry keeps copies of its key and message, never the request they came in.
//
// A request refused from the cache is not counted by any other leaky limit either (the engine counts a
// leaky limit only when the verdict lets the request through), and a limit the cached one outranks cannot
// change the verdict: such limits are not asked either (decidedWithout), so a hot sender costs no round
// trip even under a second limit (per client network, warn). What they miss meanwhile: the same notes, and
// a crossing of theirs is reported on the first request the cache does not refuse.
import type { LimitConfig } from "../model/limit.ts";
import { holdsInstance, mergedInstances, withInstance, withNewInstance } from "../policy/counted-messages.ts";
import { capacity } from "../policy/rate.ts";
import { outranks, refuses } from "../policy/verdict.ts";
import { unsharedText } from "../policy/unshared-text.ts";
import type { Probe } from "./counter-store.ts";

interface Entry {
  limit: LimitConfig;
  key: string;
  /** Redis's level after the request that found it over (without it, leaky: it was not counted). */
  base: number;
  /** Strict limits: what the attempts answered here added since, not yet in Redis. */
  pending: number;
  /** The messages counted lately (per = message): another recipient of one adds nothing, Redis must answer. */
  instance: string;
  until: number;
  /**
   * Redis's time when it said "over" (ms; 0: not known) for the counter the pending counts belong to: it
   * began before. `latest`: that of Redis's last answer, which the counts after a carry belong to.
   */
  since: number;
  latest: number;
}

/** Counts answered here that Redis has yet to hear of: what a key's next call or the flush carries. */
export interface Carry {
  limit: LimitConfig;
  key: string;
  pending: number;
  /** The messages they counted ("" none), newest first: Redis notes them, so their other recipients add nothing. */
  instance: string;
  /**
   * Redis's time when it said the key is over (0: not known): a counter that began later is one started
   * afresh after a reset on another host, and Redis drops the carry rather than add it there.
   */
  since: number;
}

/**
 * A carried count as the scripts take it (COUNTER's carry_of): "count@since", or the count alone when there
 * is none or `since` is not known (0).
 */
export const carryText = (count: number, since = 0): string | number =>
  count > 0 && since > 0 ? `${count}@${since}` : count;

/** A carry's word (carryText). */
export const carryWord = (carry: Carry): string | number => carryText(carry.pending, carry.since);

export interface OverCache {
  /** Whether answers for this limit may come from the cache. */
  eligible(limit: LimitConfig): boolean;
  /**
   * Redis said the probe is over at `redisNow` (its clock, ms; 0: not known): remember it until now + ttl,
   * or until its period ends (`periodLeftMs` after Redis's answer, 0: not known). Counts pending from
   * before keep waiting for the flush.
   */
  remember(probe: Probe, counterInstance: string, periodLeftMs: number, redisNow?: number): void;
  /** Whether the cache has an entry for the probe's key, ended or not (nothing is filled nor dropped). */
  holds(probe: Probe): boolean;
  /** Fills charge, level, over and isNew when the cache knows the probe is over; false when it does not. */
  answer(probe: Probe): boolean;
  /** A strict probe answered here is counted: its charge is added to the pending counts. False: no entry. */
  count(probe: Probe): boolean;
  /** The pending counts of the probe's key, left in place (a check reads them). */
  peek(probe: Probe): Carry | undefined;
  /** The pending counts of the probe's key, taken: the call being sent carries them to Redis. */
  take(probe: Probe): Carry | undefined;
  /** Takes what ended entries (and those pushed out) still hold; drops ended entries. */
  drain(select?: (key: string) => boolean): Carry[];
  forgetKey(key: string): void;
  clear(): void;
  readonly size: number;
}

export function createOverCache(ttlMs: number, maxEntries: number, now: () => number): OverCache {
  const entries = new Map<string, Entry>();
  // How many entries each key has: a probe whose key has none (nearly every probe: few keys are over) is
  // answered without making its entry's name, a new string to hash (5 % of the store's JavaScript, uniform
  // senders: docs/decisions.md, "A request's numbers as one argument").
  const keysHeld = new Map<string, number>();
  let pushedOut: Carry[] = [];
  const id = (limit: string, key: string) => `${limit}\0${key}`;
  const put = (name: string, entry: Entry) => {
    if (!entries.has(name)) keysHeld.set(entry.key, (keysHeld.get(entry.key) ?? 0) + 1);
    entries.set(name, entry);
  };
  const drop = (name: string) => {
    const entry = entries.get(name);
    if (entry === undefined) return;
    entries.delete(name);
    const held = keysHeld.get(entry.key)! - 1;
    if (held === 0) keysHeld.delete(entry.key);
    else keysHeld.set(entry.key, held);
  };
  const carryOf = (entry: Entry): Carry => ({
    limit: entry.limit,
    key: entry.key,
    pending: entry.pending,
    instance: entry.instance,
    since: entry.since,
  });
  const entryOf = (probe: Probe): Entry | undefined => {
    if (!keysHeld.has(probe.key)) return undefined;
    const entry = entries.get(id(probe.limit.name, probe.key));
    return entry !== undefined && entry.limit === probe.limit ? entry : undefined;
  };

  return {
    eligible: (limit) => ttlMs > 0 && (limit.mode === "strict" || refuses(limit.action)),

    remember(probe, counterInstance, periodLeftMs, redisNow = 0) {
      const key = id(probe.limit.name, probe.key);
      const old = entries.get(key);
      drop(key); // re-inserted last: the oldest is the first in the Map's order
      if (entries.size >= maxEntries) {
        const [oldest, entry] = entries.entries().next().value!;
        drop(oldest);
        if (entry.pending > 0) pushedOut.push(carryOf(entry));
      }
      const at = now();
      const pending = old !== undefined && old.limit === probe.limit ? old.pending : 0;
      // The request that found it over counts too under a strict limit (and its message is the last one).
      const strict = probe.limit.mode === "strict";
      const counted = strict && probe.instance !== undefined
        ? withInstance(counterInstance, probe.instance)
        : counterInstance;
      const instance = pending > 0 ? mergedInstances(old!.instance, counted)! : counted;
      // The key and the message an entry keeps are copies, not slices of the request (or of Redis's reply)
      // that brought them: a slice may hold all of it for as long as the entry lives (unshared-text.ts).
      put(key, {
        limit: probe.limit,
        key: old?.key ?? unsharedText(probe.key),
        base: strict ? probe.level : probe.level - probe.charge,
        pending,
        instance: instance === old?.instance ? instance : unsharedText(instance),
        until: periodLeftMs > 0 ? at + Math.min(ttlMs, periodLeftMs) : at + ttlMs,
        // The counts pending from before belong to the earlier answer's counter.
        since: pending > 0 ? old!.since : redisNow,
        latest: redisNow,
      });
    },

    holds: (probe) => entryOf(probe) !== undefined,

    answer(probe) {
      const entry = entryOf(probe);
      if (entry === undefined) return false;
      if (entry.until <= now()) {
        if (entry.pending === 0) drop(id(probe.limit.name, probe.key)); // else the call takes it
        return false;
      }
      if (probe.instance !== undefined && holdsInstance(entry.instance, probe.instance)) return false;
      const level = entry.base + entry.pending + probe.cost;
      if (!(level > capacity(probe.limit))) return false;
      probe.charge = probe.cost;
      probe.level = level;
      probe.over = true;
      probe.isNew = false;
      return true;
    },

    count(probe) {
      const entry = entryOf(probe);
      if (entry === undefined) return false;
      entry.pending += probe.charge;
      if (probe.instance !== undefined && !holdsInstance(entry.instance, probe.instance)) {
        entry.instance = withNewInstance(entry.instance, unsharedText(probe.instance));
      }
      return true;
    },

    peek(probe) {
      const entry = entryOf(probe);
      return entry !== undefined && entry.pending > 0 ? carryOf(entry) : undefined;
    },

    take(probe) {
      const entry = entryOf(probe);
      if (entry === undefined || entry.pending === 0) return undefined;
      const carry = carryOf(entry);
      entry.pending = 0;
      entry.since = entry.latest;
      if (entry.until <= now()) drop(id(probe.limit.name, probe.key));
      return carry;
    },

    drain(select) {
      const taken = pushedOut;
      pushedOut = [];
      const at = now();
      for (const [name, entry] of entries) {
        const ended = entry.until <= at;
        if (select !== undefined ? !select(entry.key) : !ended) continue;
        if (entry.pending > 0) taken.push(carryOf(entry));
        entry.pending = 0;
        entry.since = entry.latest;
        if (ended) drop(name);
      }
      return taken;
    },

    forgetKey(key) {
      const suffix = `\0${key}`;
      for (const name of [...entries.keys()]) if (name.endsWith(suffix)) drop(name);
      pushedOut = pushedOut.filter((carry) => carry.key !== key);
    },

    clear() {
      entries.clear();
      keysHeld.clear();
      pushedOut = [];
    },

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
