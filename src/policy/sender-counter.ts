// The per-key counter: a plain object, not an actor (DESIGN §2: an xstate actor per key costs ~2.8 KB,
// this ~200 B). The memory store (limits/memory-store.ts) owns them; policy/rate.ts holds the counting
// algorithms.
import { unsharedText } from "./unshared-text.ts";

export const ALERT_NONE = 0;
export const ALERT_PENDING = 1; // crossed the limit, the alert mail is not yet delivered
export const ALERT_SENT = 2; // the alert mail went out (to some recipients at least)
// The alerter is done with the alert and no mail went out: parked (refused for good, or still failing
// retry_for after the crossing), dropped from a full outbox, or only logged (no [alerts] mail). Apart from
// ALERT_SENT only for `top` and `show`: a postmaster read "(alert sent)" for a mail the relay had refused.
export const ALERT_UNSENT = 3;
export type AlertState = typeof ALERT_NONE | typeof ALERT_PENDING | typeof ALERT_SENT | typeof ALERT_UNSENT;

const SIGHTING_CAP = 50; // distinct subjects / IPs kept per key: enough for a top 10, bounded memory

/**
 * How often each value was seen, up to SIGHTING_CAP distinct values. Most keys only ever show one client
 * IP (or one subject), so the first value is two plain fields and a Map is made only for a second one:
 * a Map per counter cost ~150 bytes and a cache miss per request with 1e5 keys.
 *
 * A sliding window's tally has two generations (policy/rate.ts): `aged` makes what was seen so far the
 * older one, and forgets the older one before it. Reading (`get`, `size`, `forEach`, iterating) sums both;
 * `add` counts into the newer one. The older generation is one more field here, not on the counter: a
 * counter with one more field took 112 bytes instead of 80 on Bun, a Tally is 48 either way.
 */
export class Tally {
  private first: string;
  private firstCount: number; // 0: this generation has seen nothing yet (only once aged)
  private others?: Map<string, number>; // never made while firstCount is 0
  private older?: Tally; // the previous generation; it has no older one of its own

  constructor(value: string, count = 1) {
    this.first = value;
    this.firstCount = count;
  }

  /**
   * From [value, count] or [value, count, older] entries, as the state file keeps them (`count` sums both
   * generations, `older` is the older one's part); undefined when there are none.
   */
  static from(entries: Iterable<[string, number] | [string, number, number]>): Tally | undefined {
    let tally: Tally | undefined;
    for (const [value, count, older = 0] of entries) {
      tally ??= new Tally(value, 0);
      if (count > older) tally.add(value, count - older);
      if (older > 0) (tally.older ??= new Tally(value, 0)).add(value, older);
    }
    return tally?.firstCount === 0 && !tally.older ? undefined : tally;
  }

  add(value: string, count = 1): void {
    if (value === this.first) {
      this.firstCount += count;
      return;
    }
    // A value seen for the first time is kept: a copy of its own (policy/unshared-text.ts).
    if (this.firstCount === 0) {
      this.first = unsharedText(value);
      this.firstCount = count;
      return;
    }
    const others = this.others ??= new Map();
    const had = others.get(value);
    if (had !== undefined) others.set(value, had + count);
    else if (others.size < SIGHTING_CAP - 1) others.set(unsharedText(value), count);
  }

  /** Adds another tally's counts into this one, generation by generation. */
  addAll(from: Tally): void {
    from.forEachNewer((value, count) => this.add(value, count));
    const older = from.older;
    if (older) older.forEachNewer((value, count) => (this.older ??= new Tally(value, 0)).add(value, count));
  }

  /**
   * Starts a new generation: what was seen so far becomes the older one, and the older one is forgotten.
   * Returns undefined when nothing is left (this generation had seen nothing).
   */
  aged(): Tally | undefined {
    if (this.firstCount === 0) return undefined;
    const older = new Tally(this.first, this.firstCount);
    older.others = this.others;
    this.older = older;
    this.firstCount = 0; // `first` stays: a pooled client address still compares without a cold read
    this.others = undefined;
    return this;
  }

  private newer(value: string): number | undefined {
    if (value === this.first) return this.firstCount === 0 ? undefined : this.firstCount;
    return this.others?.get(value);
  }

  get(value: string): number | undefined {
    const newer = this.newer(value);
    const older = this.older?.newer(value);
    return older === undefined ? newer : (newer ?? 0) + older;
  }

  has(value: string): boolean {
    return this.get(value) !== undefined;
  }

  get size(): number {
    let size = 0;
    this.forEach(() => size++);
    return size;
  }

  private forEachNewer(visit: (value: string, count: number) => void): void {
    if (this.firstCount !== 0) visit(this.first, this.firstCount);
    this.others?.forEach((count, value) => visit(value, count));
  }

  /**
   * Every value, its count over both generations and the older generation's part of it, the newer
   * generation's values first, each in the order first seen; no arrays made (the state save calls this
   * per key).
   */
  forEach(visit: (value: string, count: number, older: number) => void): void {
    const older = this.older;
    if (this.firstCount !== 0) {
      const before = older?.newer(this.first) ?? 0;
      visit(this.first, this.firstCount + before, before);
    }
    this.others?.forEach((count, value) => {
      const before = older?.newer(value) ?? 0;
      visit(value, count + before, before);
    });
    older?.forEachNewer((value, count) => {
      if (this.newer(value) === undefined) visit(value, count, count);
    });
  }

  /** A copy that later counting here does not change, generations included. */
  copy(): Tally | undefined {
    const entries: [string, number, number][] = [];
    this.forEach((value, count, older) => entries.push([value, count, older]));
    return Tally.from(entries);
  }

  /**
   * What this tally saw beyond `before`, an earlier copy of it brought to the same generation: each value's
   * count less the copy's, generation by generation, never below zero; undefined when nothing is left.
   */
  since(before: Tally): Tally | undefined {
    const had = new Map<string, [newer: number, older: number]>();
    before.forEach((value, count, older) => had.set(value, [count - older, older]));
    const entries: [string, number, number][] = [];
    this.forEach((value, count, older) => {
      const [newerBefore, olderBefore] = had.get(value) ?? [0, 0];
      const newer = Math.max(0, count - older - newerBefore);
      const olderLeft = Math.max(0, older - olderBefore);
      if (newer + olderLeft > 0) entries.push([value, newer + olderLeft, olderLeft]);
    });
    return Tally.from(entries);
  }

  *[Symbol.iterator](): IterableIterator<[string, number]> {
    const entries: [string, number][] = [];
    this.forEach((value, count) => entries.push([value, count]));
    yield* entries;
  }
}

export interface SenderCounter {
  start: number; // ms: window start (fixed, sliding) or start of the alert period (bucket)
  count: number; // fixed/sliding: counted in the current (sub-)window; bucket: the level
  last: number; // ms, latest request
  alert: AlertState;
  prev?: number; // sliding window: the previous sub-window's count
  // per = message at RCPT: the messages counted lately (counted-messages.ts), whose other recipients count
  // nothing
  instance?: string;
  subjects?: Tally; // only once a request carried a subject
  clientIps?: Tally; // only once a request carried a client address
}

/**
 * A counter with every field present: counters made here all share one object shape, so the code that
 * reads them stays monomorphic (fields added later changed the shape, a different one per combination).
 */
export function makeCounter(start: number, count: number, last: number, alert: AlertState): SenderCounter {
  return {
    start,
    count,
    last,
    alert,
    prev: 0,
    instance: undefined,
    subjects: undefined,
    clientIps: undefined,
  };
}

// Client addresses repeat across keys (a relay sends for many senders). The first address of each counter
// is stored as one shared string per address, which stays in the CPU cache: comparing the next request's
// address with it then reads no cold memory. With 1e5 keys, each cold read cost more than the comparison.
const CLIENT_IP_POOL_SIZE = 4096;
const clientIpPool = new Map<string, string>();

function pooledClientIp(address: string): string {
  const pooled = clientIpPool.get(address);
  if (pooled !== undefined) return pooled;
  if (clientIpPool.size >= CLIENT_IP_POOL_SIZE) clientIpPool.clear();
  const kept = unsharedText(address);
  clientIpPool.set(kept, kept);
  return kept;
}

export function recordSighting(counter: SenderCounter, subject?: string, clientIp?: string): void {
  if (subject !== undefined) {
    if (counter.subjects) counter.subjects.add(subject);
    else counter.subjects = new Tally(unsharedText(subject));
  }
  if (clientIp !== undefined) {
    if (counter.clientIps) counter.clientIps.add(clientIp);
    else counter.clientIps = new Tally(pooledClientIp(clientIp));
  }
}

export function topEntries(tally: Iterable<[string, number]> | undefined, n: number): [string, number][] {
  if (!tally) return [];
  return [...tally].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, n);
}
