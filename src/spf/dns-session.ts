// One check's access to DNS: every query goes through here so that the check has one time budget (a
// resolver that never answers ends in temperror, not a hung check), one trace, one reading of node-style
// errors, and the two counters of RFC 7208 §4.6.4 shared across includes and redirects.
import { permError, tempError } from "./spf-error.ts";
import type { SpfQueryType, SpfResolver, SpfTraceEntry } from "./types.ts";

export interface AnswerTypes {
  TXT: string[][];
  A: string[];
  AAAA: string[];
  MX: { exchange: string; priority: number }[];
  PTR: string[];
}

/** An answer; `missing` says the name does not exist (ENOTFOUND) or has no such records (ENODATA). */
export interface Answer<T extends SpfQueryType> {
  records: AnswerTypes[T];
  missing?: "ENOTFOUND" | "ENODATA";
}

export interface DnsSessionOptions {
  timeoutMs: number;
  lookupLimit: number;
  voidLookupLimit: number;
  trace?: SpfTraceEntry[];
}

export interface DnsSession {
  /** Queries; throws temperror on a DNS failure or when the budget is spent. */
  query<T extends SpfQueryType>(type: T, name: string): Promise<Answer<T>>;
  /** Queries where a DNS failure only means "skip this name" (§5.5); still throws when the budget is spent. */
  tryQuery<T extends SpfQueryType>(type: T, name: string): Promise<Answer<T> | undefined>;
  /** Counts a DNS-querying term (include, a, mx, ptr, exists, redirect); permerror past the limit. */
  countLookup(term: string): void;
  /** Counts a void lookup (§4.6.4); permerror past the limit. */
  countVoid(name: string): void;
  readonly lookups: number;
  readonly voidLookups: number;
  /** Stops the budget's timer; call once the check is over. */
  finish(): void;
}

function ask<T extends SpfQueryType>(resolver: SpfResolver, type: T, name: string): Promise<AnswerTypes[T]> {
  switch (type) {
    case "TXT":
      return resolver.resolveTxt(name) as Promise<AnswerTypes[T]>;
    case "A":
      return resolver.resolve4(name) as Promise<AnswerTypes[T]>;
    case "AAAA":
      return resolver.resolve6(name) as Promise<AnswerTypes[T]>;
    case "MX":
      return resolver.resolveMx(name) as Promise<AnswerTypes[T]>;
    default:
      return resolver.resolvePtr(name) as Promise<AnswerTypes[T]>;
  }
}

function traceAnswer(type: SpfQueryType, records: unknown[]): string[] {
  if (type === "TXT") return (records as string[][]).map((strings) => strings.join(""));
  if (type === "MX") {
    return (records as AnswerTypes["MX"]).map((mx) => `${mx.priority} ${mx.exchange}`);
  }
  return records as string[];
}

const BUDGET_SPENT = Symbol("budget spent");

export function createDnsSession(resolver: SpfResolver, options: DnsSessionOptions): DnsSession {
  const { trace } = options;
  let lookups = 0;
  let voidLookups = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // One timer for the whole check, made on the first query: a check that asks nothing costs none.
  let budget: Promise<typeof BUDGET_SPENT> | undefined;
  const started = Date.now();

  function budgetPromise(): Promise<typeof BUDGET_SPENT> {
    budget ??= new Promise((resolve) => {
      const left = Math.max(0, options.timeoutMs - (Date.now() - started));
      timer = setTimeout(() => resolve(BUDGET_SPENT), left);
    });
    return budget;
  }

  const budgetError = () => tempError(`time budget of ${options.timeoutMs} ms spent`);

  /** The answer, or the failure's error code. */
  async function attempt<T extends SpfQueryType>(type: T, name: string): Promise<Answer<T> | string> {
    // The race below catches a query that outlasts the budget; this catches a budget spent between
    // queries (answers from a cache arrive as microtasks, and the timer cannot fire among those).
    if (Date.now() - started >= options.timeoutMs) throw budgetError();
    const cached = resolver.cached?.(type, name) as Answer<T> | undefined;
    if (cached !== undefined) return cachedAnswer(type, name, cached);
    let records: AnswerTypes[T] | typeof BUDGET_SPENT;
    try {
      const pending = ask(resolver, type, name);
      pending.catch(() => {}); // the budget may win the race; its late rejection is nobody's business
      records = await Promise.race([pending, budgetPromise()]);
    } catch (error) {
      const raw = (error as { code?: unknown })?.code;
      const code = typeof raw === "string" ? raw : "error";
      trace?.push({ kind: "dns", type, name, answer: [], error: code });
      if (code !== "ENOTFOUND" && code !== "ENODATA") return code;
      return { records: [] as unknown as AnswerTypes[T], missing: code };
    }
    if (records === BUDGET_SPENT) {
      trace?.push({ kind: "dns", type, name, answer: [], error: "budget" });
      throw budgetError();
    }
    trace?.push({ kind: "dns", type, name, answer: traceAnswer(type, records) });
    // An empty answer is NODATA, whatever the resolver called it.
    return records.length === 0 ? { records, missing: "ENODATA" } : { records };
  }

  function cachedAnswer<T extends SpfQueryType>(type: T, name: string, cached: Answer<T>): Answer<T> {
    if (cached.missing) trace?.push({ kind: "dns", type, name, answer: [], error: cached.missing });
    else trace?.push({ kind: "dns", type, name, answer: traceAnswer(type, cached.records) });
    // An empty answer is NODATA, whatever the resolver called it.
    return cached.records.length === 0 && !cached.missing
      ? { records: cached.records, missing: "ENODATA" }
      : cached;
  }

  return {
    async query(type, name) {
      const answer = await attempt(type, name);
      if (typeof answer === "string") throw tempError(`DNS error ${answer} for ${type} ${name}`);
      return answer;
    },
    async tryQuery(type, name) {
      const answer = await attempt(type, name);
      return typeof answer === "string" ? undefined : answer;
    },
    countLookup(term) {
      if (++lookups > options.lookupLimit) {
        throw permError(`more than ${options.lookupLimit} DNS-querying terms (at "${term}")`);
      }
    },
    countVoid(name) {
      if (++voidLookups > options.voidLookupLimit) {
        throw permError(`more than ${options.voidLookupLimit} void lookups (at ${name})`);
      }
    },
    get lookups() {
      return lookups;
    },
    get voidLookups() {
      return voidLookups;
    },
    finish() {
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}
