// The shapes the SPF evaluator (check-host.ts) shares with its callers and its helper files. The resolver
// is the subset of the runtime's `dns.promises.Resolver` it uses, so a caller can pass that, a caching DNS
// client, or a test zone; nothing in src/spf imports a DNS module.

export interface SpfResolver {
  resolveTxt(name: string): Promise<string[][]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  resolveMx(name: string): Promise<{ exchange: string; priority: number }[]>;
  resolvePtr(name: string): Promise<string[]>;
  /**
   * Optional, for a caching resolver: the answer it holds for (type, name) right now, without a promise,
   * or undefined when it must ask. A warm check
   * then runs without a promise, race or timer per query (docs/spf.md, "Figures").
   */
  cached?(type: SpfQueryType, name: string): CachedAnswer | undefined;
}

/** What a caching resolver holds: records, or why there are none (as the promise would have rejected). */
export interface CachedAnswer {
  records: readonly unknown[];
  missing?: "ENOTFOUND" | "ENODATA";
}

export type SpfResult = "pass" | "fail" | "softfail" | "neutral" | "none" | "permerror" | "temperror";

/** Which identity was checked (RFC 7208 §2.3, §2.4). */
export type SpfIdentity = "mailfrom" | "helo";

/** The record types the evaluator asks for. */
export type SpfQueryType = "TXT" | "A" | "AAAA" | "MX" | "PTR";

/** One step of a check, for `mailpolicyd spf IP SENDER` and logs: kept only with `trace: true`. */
export type SpfTraceEntry =
  | {
    kind: "dns";
    type: SpfQueryType;
    name: string;
    /** The answer's records (TXT joined per record); empty for NXDOMAIN/NODATA. */
    answer: string[];
    /** The node-style error code when the query failed (ENOTFOUND, ENODATA, ETIMEOUT, …). */
    error?: string;
  }
  | { kind: "record"; domain: string; record: string }
  | { kind: "match"; domain: string; mechanism: string; result: SpfResult }
  | { kind: "redirect"; domain: string; target: string }
  | { kind: "error"; domain: string; result: "permerror" | "temperror" | "none"; problem: string };

export interface SpfCheck {
  result: SpfResult;
  /** The domain whose policy was checked: the MAIL FROM domain, or the HELO name. */
  domain: string;
  identity: SpfIdentity;
  /**
   * The term that decided the result, as written, in the record that decided it (the checked domain's,
   * or a redirect target's): "-all", "include:_spf.example.net", "ip4:192.0.2.0/24". Absent when no
   * mechanism matched (default neutral) or the check ended in an error.
   */
  mechanism?: string;
  /** The expanded `exp=` text, only for `fail` and only when the record's `exp=` yielded one. */
  explanation?: string;
  /** Why the result is none, permerror or temperror, for logs and the Received-SPF comment. */
  problem?: string;
  /** DNS-querying terms evaluated (limit 10) and void lookups seen (limit 2). */
  lookups: number;
  voidLookups: number;
  /**
   * A macro used the sender, its local-part, the HELO name or the time (%{s} %{l} %{h} %{t}): the result
   * may differ for another sender of the same domain, so a cache keyed by (client, domain) must not share it.
   */
  senderSpecific?: true;
  trace?: SpfTraceEntry[];
}

export interface CheckHostOptions {
  resolver: SpfResolver;
  /**
   * The identity to check. Default: "mailfrom" when the sender is not empty, else "helo" (the null
   * sender is checked as postmaster@helo, RFC 7208 §2.4).
   */
  identity?: SpfIdentity;
  /** The whole check's time budget; when it runs out the result is temperror. Default 20 000 ms. */
  timeoutMs?: number;
  /** The `%{r}` macro (exp only): this host's domain name. Default "unknown". */
  receivingHost?: string;
  /** The clock behind `%{t}` (exp only), in ms since the epoch. Default Date.now. */
  now?: () => number;
  /** Keep a trace of each DNS query and each match. Default false (it costs an allocation a step). */
  trace?: boolean;
  /** RFC 7208 §4.6.4 limits; the defaults are the RFC's. */
  lookupLimit?: number;
  voidLookupLimit?: number;
}
