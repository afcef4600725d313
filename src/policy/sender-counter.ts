// The per-key counter: a plain object, not an actor (DESIGN §2: an xstate actor per key costs ~2.8 KB,
// this ~200 B). The counters actor owns them; policy/rate.ts holds the counting algorithms.

export const ALERT_NONE = 0;
export const ALERT_PENDING = 1; // crossed the limit, the alert mail is not yet delivered
export const ALERT_SENT = 2;
export type AlertState = typeof ALERT_NONE | typeof ALERT_PENDING | typeof ALERT_SENT;

const SIGHTING_CAP = 50; // distinct subjects / IPs kept per key: enough for a top 10, bounded memory

/**
 * How often each value was seen, up to SIGHTING_CAP distinct values. Most keys only ever show one client
 * IP (or one subject), so the first value is two plain fields and a Map is made only for a second one:
 * a Map per counter cost ~150 bytes and a cache miss per request with 1e5 keys.
 */
export class Tally {
  private first: string;
  private firstCount: number;
  private others?: Map<string, number>;

  constructor(value: string, count = 1) {
    this.first = value;
    this.firstCount = count;
  }

  /** From [value, count] pairs, as the state file keeps them; undefined when there are none. */
  static from(entries: Iterable<[string, number]>): Tally | undefined {
    let tally: Tally | undefined;
    for (const [value, count] of entries) {
      if (!tally) tally = new Tally(value, count);
      else tally.add(value, count);
    }
    return tally;
  }

  add(value: string, count = 1): void {
    if (value === this.first) {
      this.firstCount += count;
      return;
    }
    const others = this.others ??= new Map();
    const had = others.get(value);
    if (had !== undefined) others.set(value, had + count);
    else if (others.size < SIGHTING_CAP - 1) others.set(value, count);
  }

  get(value: string): number | undefined {
    return value === this.first ? this.firstCount : this.others?.get(value);
  }

  has(value: string): boolean {
    return this.get(value) !== undefined;
  }

  get size(): number {
    return 1 + (this.others?.size ?? 0);
  }

  /** Every value and its count, first the first one seen; no arrays made (the state save calls this per key). */
  forEach(visit: (value: string, count: number) => void): void {
    visit(this.first, this.firstCount);
    this.others?.forEach((count, value) => visit(value, count));
  }

  *[Symbol.iterator](): IterableIterator<[string, number]> {
    yield [this.first, this.firstCount];
    if (this.others) yield* this.others;
  }
}

export interface SenderCounter {
  start: number; // ms: window start (fixed, sliding) or start of the alert period (bucket)
  count: number; // fixed/sliding: counted in the current (sub-)window; bucket: the level
  last: number; // ms, latest request
  alert: AlertState;
  prev?: number; // sliding window: the previous sub-window's count
  instance?: string; // per = message at RCPT: the message last counted, so its other recipients are not
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
  clientIpPool.set(address, address);
  return address;
}

export function recordSighting(counter: SenderCounter, subject?: string, clientIp?: string): void {
  if (subject !== undefined) {
    if (counter.subjects) counter.subjects.add(subject);
    else counter.subjects = new Tally(subject);
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
