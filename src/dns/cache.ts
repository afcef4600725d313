// The answer cache: each outcome kept for its TTL clamped by the configured bounds (RFC 2308 negative
// answers by their own bound), at most `maxEntries` outcomes and about `maxBytes` of them, least recently
// used evicted first. Pure: the clock is passed in, so tests move time without waiting.
import type { Outcome } from "./types.ts";

export interface CacheOptions {
  /** Seconds; a TTL below is raised to it (0: honour the server's, even 0 = do not cache). Default 0. */
  minTtl?: number;
  /** Seconds; a TTL above is lowered to it. Default 86 400 (one day, as unbound's cache-max-ttl). */
  maxTtl?: number;
  /** Seconds; the bound for NXDOMAIN/NODATA (RFC 2308 §5 suggests 1–3 hours). Default 3 600. */
  maxNegativeTtl?: number;
  /** Default 10 000. */
  maxEntries?: number;
  /** Estimated bytes of all outcomes (see `outcomeBytes`). Default 16 MiB. */
  maxBytes?: number;
  /**
   * Milliseconds; default performance.now(): a TTL is time that passes, so a wall clock stepped back (NTP,
   * a wrong RTC corrected) must not keep answers longer, nor one stepped ahead drop them.
   */
  now?: () => number;
}

interface Entry {
  outcome: Outcome;
  expires: number; // ms on the cache's clock
  bytes: number;
}

export interface Cached {
  outcome: Outcome;
  /** Seconds left, rounded up: what a caller that caches results further may keep them for. */
  ttlLeft: number;
}

const DEFAULTS: Required<CacheOptions> = {
  minTtl: 0,
  maxTtl: 86_400,
  maxNegativeTtl: 3_600,
  maxEntries: 10_000,
  maxBytes: 16 * 1024 * 1024,
  now: () => performance.now(),
};

export class DnsCache {
  readonly #entries = new Map<string, Entry>(); // insertion order = least recently used first
  readonly #options: Required<CacheOptions>;
  #bytes = 0;
  evictions = 0;

  constructor(options: CacheOptions = {}) {
    const given = Object.entries(options).filter(([, value]) => value !== undefined); // undefined: default
    this.#options = { ...DEFAULTS, ...Object.fromEntries(given) };
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  now(): number {
    return this.#options.now();
  }

  /** The live outcome for `key`, marked as recently used; an expired one is dropped. */
  get(key: string): Cached | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    const left = entry.expires - this.#options.now();
    this.#delete(key, entry);
    if (left <= 0) return undefined;
    this.#entries.set(key, entry);
    this.#bytes += entry.bytes;
    return { outcome: entry.outcome, ttlLeft: Math.ceil(left / 1000) };
  }

  /** Stores `outcome` for its clamped TTL; returns that TTL in seconds (0: not stored). */
  set(key: string, outcome: Outcome): number {
    const ttl = this.clampedTtl(outcome);
    const old = this.#entries.get(key);
    if (old !== undefined) this.#delete(key, old);
    if (ttl <= 0) return 0;
    const entry = { outcome, expires: this.#options.now() + ttl * 1000, bytes: outcomeBytes(key, outcome) };
    this.#entries.set(key, entry);
    this.#bytes += entry.bytes;
    this.#evict();
    return ttl;
  }

  clampedTtl(outcome: Outcome): number {
    const { minTtl, maxTtl, maxNegativeTtl } = this.#options;
    const upper = outcome.kind === "answer" ? maxTtl : maxNegativeTtl;
    return Math.max(minTtl, Math.min(upper, outcome.ttl));
  }

  #evict(): void {
    const { maxEntries, maxBytes } = this.#options;
    for (const [key, entry] of this.#entries) {
      if (this.#entries.size <= maxEntries && this.#bytes <= maxBytes) return;
      this.#delete(key, entry);
      this.evictions++;
    }
  }

  #delete(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
  }
}

/**
 * A rough size of one cached outcome, for the byte bound: UTF-16 strings (2 bytes a character) plus fixed
 * costs per entry and per record measured on Bun and Deno (docs/dns.md, "Figures"). An estimate, not an
 * accounting: it keeps a cache of long TXT answers from growing to entries × 64 KiB.
 */
export function outcomeBytes(key: string, outcome: Outcome): number {
  let bytes = ENTRY_OVERHEAD + 2 * key.length;
  if (outcome.kind !== "answer") return bytes;
  for (const record of outcome.records as unknown[]) {
    bytes += RECORD_OVERHEAD;
    if (typeof record === "string") bytes += 2 * record.length;
    else if (Array.isArray(record)) { for (const part of record) bytes += 16 + 2 * part.length; }
    else bytes += 2 * (record as { exchange: string }).exchange.length;
  }
  return bytes;
}

const ENTRY_OVERHEAD = 450;
const RECORD_OVERHEAD = 40;
