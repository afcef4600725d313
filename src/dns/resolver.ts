// The caching DNS client the SPF evaluator is given: the `dns.promises.Resolver` subset it uses
// (resolveTxt, resolve4, resolve6, resolveMx, resolvePtr), answered from a TTL-honouring cache, with
// concurrent identical queries sharing one exchange, and stats for /metrics; whether its servers answer at
// all (server-health.ts) for status.
import { DnsCache } from "./cache.ts";
import { canonicalName } from "./answer.ts";
import { dnsError, errorCode } from "./dns-error.ts";
import { exchange, type ExchangeCounters, type ExchangeOptions } from "./exchange.ts";
import { formatServer, parseServer, systemServers } from "./resolv-conf.ts";
import { type DnsHealthChange, type DnsServerHealth, DnsServerWatch } from "./server-health.ts";
import { ServerOrder } from "./server-order.ts";
import type { DnsTransport, MxRecord, Outcome, QueryType, RecordsOf, Server } from "./types.ts";
import { udpTcpTransport } from "./udp-tcp-transport.ts";
import { checkName } from "./wire.ts";

export interface ResolverOptions {
  /** `host`, `host:port`, `[v6]:port`, or parsed. Default: the nameservers of /etc/resolv.conf. */
  servers?: (string | Server)[];
  /** Per try. Default: resolv.conf's `options timeout:`, else 2 000 ms. */
  timeoutMs?: number;
  /** Tries in all, rotating servers. Default: resolv.conf's `options attempts:`, else 3. */
  tries?: number;
  /** Seconds; see cache.ts. Defaults 0, 86 400 and 3 600. */
  cacheMinTtl?: number;
  cacheMaxTtl?: number;
  cacheMaxNegativeTtl?: number;
  /** Cached outcomes at most; default 10 000. */
  cacheMaxEntries?: number;
  /** Estimated bytes of cached outcomes at most; default 16 MiB. */
  cacheMaxBytes?: number;
  /** Distinct queries in flight at most; past it a new one rejects at once with EBUSY. Default 1 000. */
  maxInFlight?: number;
  /** Called for each lookup refused with EBUSY (counted in stats().busy), to say so. */
  onBusy?: () => void;
  /** Advertise EDNS0 with a 1232-byte UDP size. Default true. */
  edns?: boolean;
  /** Called once when the servers stop answering and once when they answer again (server-health.ts). */
  onHealthChange?: DnsHealthChange;
  /**
   * With two servers or more: called when one that gave no reply is put after the others (server-order.ts),
   * once per hold, with the server (`host:port`) and the try's error code.
   */
  onServerHeld?: (server: string, error: string) => void;
  /**
   * For tests: the clock (ms) behind TTLs, the servers' order and the health's `since` (default: the
   * monotonic performance.now() for the first two, the wall clock for `since`, which is shown as a date),
   * and the transport.
   */
  now?: () => number;
  transport?: DnsTransport;
}

/** A cached answer as `cached` gives it. */
export interface CachedRecords {
  records: readonly unknown[];
  missing?: "ENOTFOUND" | "ENODATA";
}

const NO_RECORDS: readonly unknown[] = Object.freeze([]);

/**
 * The resolver shape of the runtime's `dns.promises.Resolver` subset, plus `cached` (a synchronous look
 * into the cache); `checkHost` takes this.
 */
export interface DnsResolver {
  resolveTxt(name: string): Promise<string[][]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  resolveMx(name: string): Promise<MxRecord[]>;
  resolvePtr(name: string): Promise<string[]>;
  cached(type: QueryType, name: string): CachedRecords | undefined;
}

/** Collects the lowest TTL (seconds left) of every answer a chain of lookups used. */
export class TtlCollector {
  /** Infinity until a lookup is noted. */
  min = Infinity;
  note(ttl: number): void {
    if (ttl < this.min) this.min = ttl;
  }
}

export interface DnsStats {
  /** Lookups answered from the cache. */
  hits: number;
  /** Lookups the cache could not answer (coalesced ones included). */
  misses: number;
  /** Misses that joined an identical query already in flight instead of sending one. */
  coalesced: number;
  entries: number;
  /** Estimated bytes of the cached outcomes. */
  bytes: number;
  evictions: number;
  /** Packets sent (UDP and TCP), TCP ones, and tries that timed out. */
  queriesSent: number;
  tcpQueries: number;
  timeouts: number;
  /** Lookups that ended in an error other than ENOTFOUND/ENODATA. */
  failures: number;
  /** Lookups refused at once with EBUSY: maxInFlight distinct queries were in flight. Not in failures. */
  busy: number;
  inFlight: number;
  /** Whether the servers answer at all, or since when they do not (server-health.ts). */
  health: DnsServerHealth;
}

interface Settled {
  outcome: Outcome;
  /** Seconds the outcome is good for: the cache's clamped TTL, or what is left of it. */
  ttl: number;
}

export class CachingResolver implements DnsResolver {
  readonly #cache: DnsCache;
  readonly #exchange: ExchangeOptions;
  readonly #counters: ExchangeCounters = { sent: 0, tcp: 0, timeouts: 0 };
  readonly #inFlight = new Map<string, Promise<Settled>>();
  readonly #maxInFlight: number;
  readonly #watch: DnsServerWatch;
  readonly #onBusy: (() => void) | undefined;
  #hits = 0;
  #misses = 0;
  #coalesced = 0;
  #failures = 0;
  #busy = 0;

  constructor(options: ResolverOptions = {}) {
    const system = options.servers === undefined ? systemServers() : undefined;
    const servers = options.servers?.map((s) => typeof s === "string" ? parseServer(s) : s) ??
      system!.nameservers;
    if (servers.length === 0) throw new TypeError("a DNS resolver needs at least one server");
    this.#exchange = {
      servers,
      timeoutMs: options.timeoutMs ?? system?.timeoutMs ?? 2_000,
      tries: options.tries ?? system?.attempts ?? 3,
      transport: options.transport ?? udpTcpTransport,
      edns: options.edns ?? true,
      order: new ServerOrder(
        servers,
        options.now ?? (() => performance.now()),
        options.onServerHeld && ((server, error) => options.onServerHeld!(formatServer(server), error)),
      ),
    };
    this.#maxInFlight = options.maxInFlight ?? 1_000;
    this.#onBusy = options.onBusy;
    this.#watch = new DnsServerWatch(options.now ?? Date.now, options.onHealthChange);
    this.#cache = new DnsCache({
      minTtl: options.cacheMinTtl,
      maxTtl: options.cacheMaxTtl,
      maxNegativeTtl: options.cacheMaxNegativeTtl,
      maxEntries: options.cacheMaxEntries,
      maxBytes: options.cacheMaxBytes,
      now: options.now,
    });
  }

  resolveTxt = (name: string) => this.lookup("TXT", name);
  resolve4 = (name: string) => this.lookup("A", name);
  resolve6 = (name: string) => this.lookup("AAAA", name);
  resolveMx = (name: string) => this.lookup("MX", name);
  resolvePtr = (name: string) => this.lookup("PTR", name);

  /**
   * The same resolver, noting into `ttl` the TTL left of every answer it gives (negative ones too): a
   * result built from these lookups stays true for `ttl.min` seconds.
   */
  withTtl(ttl: TtlCollector): DnsResolver {
    return {
      resolveTxt: (name) => this.lookup("TXT", name, ttl),
      resolve4: (name) => this.lookup("A", name, ttl),
      resolve6: (name) => this.lookup("AAAA", name, ttl),
      resolveMx: (name) => this.lookup("MX", name, ttl),
      resolvePtr: (name) => this.lookup("PTR", name, ttl),
      cached: (type, name) => this.cached(type, name, ttl),
    };
  }

  /**
   * What the cache holds for (type, name) now, without a promise (spf/types.ts SpfResolver.cached): the
   * records, or which of ENOTFOUND / ENODATA the lookup would reject with; undefined when not cached.
   */
  cached(type: QueryType, name: string, ttl?: TtlCollector): CachedRecords | undefined {
    const cached = this.#cache.get(`${type} ${canonicalName(name)}`);
    if (cached === undefined) return undefined;
    this.#hits++;
    ttl?.note(cached.ttlLeft);
    const { outcome } = cached;
    if (outcome.kind === "answer") return { records: outcome.records as unknown[] };
    return { records: NO_RECORDS, missing: outcome.kind === "nxdomain" ? "ENOTFOUND" : "ENODATA" };
  }

  /** Records of `type` at `name`; rejects like the runtime resolver (ENOTFOUND, ENODATA, ETIMEOUT, …). */
  async lookup<T extends QueryType>(type: T, name: string, ttl?: TtlCollector): Promise<RecordsOf[T]> {
    const key = `${type} ${canonicalName(name)}`;
    const cached = this.#cache.get(key);
    let settled: Settled;
    if (cached !== undefined) {
      // A name only gets into the cache after checkName passed it.
      this.#hits++;
      settled = { outcome: cached.outcome, ttl: cached.ttlLeft };
    } else {
      checkName(name, type);
      this.#misses++;
      try {
        settled = await this.#settle(key, type, name);
      } catch (error) {
        // A failure is not cached, and neither may be a result built on it: a caller that goes on past it
        // (a failed PTR query makes ptr not match, RFC 7208 §5.5) holds its result for no time at all.
        ttl?.note(0);
        throw error;
      }
    }
    ttl?.note(settled.ttl);
    const { outcome } = settled;
    if (outcome.kind === "answer") return outcome.records as RecordsOf[T];
    throw dnsError(outcome.kind === "nxdomain" ? "ENOTFOUND" : "ENODATA", type, name);
  }

  /** One exchange per key at a time: later askers wait for the first one's outcome (coalescing). */
  #settle(key: string, type: QueryType, name: string): Promise<Settled> {
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) {
      this.#coalesced++;
      return pending;
    }
    if (this.#inFlight.size >= this.#maxInFlight) {
      // Said and counted: it ends a check in temperror, which read as a DNS failure with nothing to show it.
      this.#busy++;
      this.#onBusy?.();
      return Promise.reject(dnsError("EBUSY", type, name));
    }
    // Every exchange's end tells the watch whether the servers answer, also one that ends after the SPF
    // check that started it gave up (its time budget is shorter than dns_timeout × dns_tries by default).
    const settling = exchange(name, type, this.#exchange, this.#counters).then(
      (outcome) => {
        this.#watch.answered();
        return { outcome: freeze(outcome), ttl: this.#cache.set(key, outcome) };
      },
      (error) => {
        this.#failures++;
        this.#watch.failed(name, errorCode(error));
        throw error;
      },
    ).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, settling);
    return settling;
  }

  stats(): DnsStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      coalesced: this.#coalesced,
      entries: this.#cache.size,
      bytes: this.#cache.bytes,
      evictions: this.#cache.evictions,
      queriesSent: this.#counters.sent,
      tcpQueries: this.#counters.tcp,
      timeouts: this.#counters.timeouts,
      failures: this.#failures,
      busy: this.#busy,
      inFlight: this.#inFlight.size,
      health: this.#watch.health(),
    };
  }
}

/**
 * Cached records are shared by every caller that asks: frozen, so a caller that sorts or edits an answer
 * in place gets a TypeError instead of changing everyone's answer.
 */
function freeze(outcome: Outcome): Outcome {
  if (outcome.kind === "answer") {
    for (const record of outcome.records as unknown[]) Object.freeze(record);
    Object.freeze(outcome.records);
  }
  return outcome;
}
