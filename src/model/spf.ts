// What the SPF concern is configured with: the shape config/ builds from the [spf] section and the SPF
// concern (spf/verdict.ts, actors/spf.ts) applies. The choices each key offers are declared here and read
// by config/schema.ts.
import type { Action } from "./answer.ts";
import type { Cidr } from "./ip.ts";
import type { SpfResult } from "../spf/types.ts";

export const SPF_RESULTS = ["pass", "fail", "softfail", "neutral", "none", "permerror", "temperror"] as const;
export const SPF_ACTIONS = ["accept", "warn", "defer", "reject"] as const;
/** off: no HELO check; log: checked and logged, never acted on; enforce: its action counts too. */
export const HELO_CHECKS = ["off", "log", "enforce"] as const;
export type HeloCheck = typeof HELO_CHECKS[number];
/** The stages whose requests carry a sender; the Exim snippets ask at rcpt and data. */
export const SPF_STAGES = ["mail", "rcpt", "data"] as const;

/** [spf] exempt: client networks, and whether an authenticated client (sasl_username set) is exempt. */
export interface SpfExemptions {
  authenticated: boolean;
  cidrs: Cidr[];
}

/** The SPF concern's policy: what the verdict and the exemptions need (the DNS settings are apart). */
export interface SpfPolicy {
  stage: typeof SPF_STAGES[number];
  actions: Readonly<Record<SpfResult, Action>>;
  exempt: SpfExemptions;
  /** Sender domains never checked; a domain covers its subdomains. Lower case. */
  exemptDomains: readonly string[];
  heloCheck: HeloCheck;
  /** Add a Received-SPF: header (RFC 7208 §9.1) to the answer. */
  receivedSpf: boolean;
  /** checkHost's own budget, ms; the actor bounds it by the concern's timeout (docs/spf.md). */
  timeBudgetMs: number;
}

/** The caching DNS client's and the result cache's settings. */
export interface SpfDnsSettings {
  /** `host`, `host:port`, `[v6]:port`; undefined: the nameservers of /etc/resolv.conf. */
  servers?: readonly string[];
  timeoutMs: number;
  tries: number;
  cacheMinTtl: number; // seconds
  cacheMaxTtl: number; // seconds
  cacheMaxEntries: number;
  resultCacheEntries: number;
}

export interface SpfConfig extends SpfPolicy {
  dns: SpfDnsSettings;
}
