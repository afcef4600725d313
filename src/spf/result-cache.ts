// The SPF concern's cache of final results per (client IP, domain, identity), kept for the shortest TTL of
// the DNS answers the check used: a sender who sends to ten recipients, or retries, costs one check.
// Bounded in entries (least recently used first out); pure, with an injected clock.
import type { SpfCheck, SpfIdentity } from "./types.ts";
import { unsharedText } from "../policy/unshared-text.ts";

/** A result as cached: without its trace (only `mailpolicyd spf` asks for one, and never from here). */
export type CachedCheck = Omit<SpfCheck, "trace">;

interface Entry {
  /** ms (the clock's) after which the entry is stale. */
  until: number;
  /** The cache's insertion count when the entry was last (re)inserted: its place in the LRU order. */
  seq: number;
  /** The check, or SPECIFIC: results for this (client, domain) are cached per sender and HELO. */
  check: CachedCheck | typeof SPECIFIC;
}

const SPECIFIC = Symbol("sender-specific");

export interface ResultCacheOptions {
  /** Entries at most; 0 turns the cache off. */
  maxEntries: number;
  /** Seconds; a TTL above is lowered (a check that used no DNS answer has an infinite one). */
  maxTtl: number;
  /** Milliseconds; default performance.now(), for the reason dns/cache.ts gives. */
  now?: () => number;
}

export class SpfResultCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #maxTtlMs: number;
  readonly #now: () => number;
  #seq = 0;
  hits = 0;
  misses = 0;

  constructor(options: ResultCacheOptions) {
    this.#maxEntries = options.maxEntries;
    this.#maxTtlMs = options.maxTtl * 1000;
    this.#now = options.now ?? (() => performance.now());
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The cached result for this client, sender and HELO, or undefined. */
  get(ip: string, identity: SpfIdentity, sender: string, helo: string): CachedCheck | undefined {
    const general = this.#fresh(generalKey(ip, identity, domainOf(sender, helo, identity)));
    const entry = general?.check === SPECIFIC
      ? this.#fresh(specificKey(ip, identity, sender, helo))
      : general;
    if (entry === undefined || entry.check === SPECIFIC) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    return entry.check;
  }

  /**
   * Keeps `check` for `ttl` seconds (the lowest TTL its DNS answers had left). A temperror is never kept:
   * the next request asks again. A sender-specific result is kept under the sender and HELO, and the
   * (client, domain) entry says to look there.
   */
  set(ip: string, sender: string, helo: string, check: CachedCheck, ttl: number): void {
    if (this.#maxEntries === 0 || check.result === "temperror") return;
    const ms = Math.min(ttl * 1000, this.#maxTtlMs);
    if (!(ms > 0)) return;
    const until = this.#now() + ms;
    check = keptCheck(check);
    const { identity } = check;
    if (!check.senderSpecific) return this.#put(generalKey(ip, identity, check.domain), { until, check });
    this.#put(generalKey(ip, identity, check.domain), { until, check: SPECIFIC });
    this.#put(specificKey(ip, identity, sender, helo), { until, check });
  }

  #fresh(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    // Most recently used last. An entry among the last quarter inserted stays where it is: then at most a
    // quarter of the cache came after it (it outlives size - 1 - maxEntries/4 insertions, not size - 1),
    // and a hot client's hits no longer move it on every request.
    if (this.#seq - entry.seq > this.#maxEntries >> 2) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      entry.seq = ++this.#seq;
    }
    return entry;
  }

  #put(key: string, entry: Omit<Entry, "seq">): void {
    this.#entries.delete(key);
    this.#entries.set(key, { ...entry, seq: ++this.#seq });
    // The oldest first: a Map iterates in insertion order, and every use re-inserts.
    while (this.#entries.size > this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
  }
}

/**
 * The check with texts of its own: its mechanism and problem are cut from the record's text, its domain
 * from the request, and a slice may hold the whole string it came from (a 64 KiB record held by each
 * entry: 55–88 KB an entry where ~1 KB is the result, test/unit/spf/result-cache-heap.test.ts).
 */
function keptCheck(check: CachedCheck): CachedCheck {
  const kept = { ...check, domain: unsharedText(check.domain) };
  if (check.mechanism !== undefined) kept.mechanism = unsharedText(check.mechanism);
  if (check.explanation !== undefined) kept.explanation = unsharedText(check.explanation);
  if (check.problem !== undefined) kept.problem = unsharedText(check.problem);
  return kept;
}

/** The domain checkHost checks for this identity: the sender's, or the HELO name (null sender, HELO). */
export function domainOf(sender: string, helo: string, identity: SpfIdentity): string {
  const address = identity === "helo" ? helo : sender;
  const end = address.endsWith(".") ? address.length - 1 : address.length;
  return address.slice(address.lastIndexOf("@") + 1, end).toLowerCase();
}

const generalKey = (ip: string, identity: SpfIdentity, domain: string) =>
  `${identity} ${ip} ${domain.toLowerCase()}`;
const specificKey = (ip: string, identity: SpfIdentity, sender: string, helo: string) =>
  `${identity} ${ip} ${sender} ${helo}`;
