// What a limit is: the shape config/ builds from a [limit NAME] section (or [thresholds]) and policy/ and
// the counters actor apply. The choices each key offers are declared here and read by config/schema.ts.
import type { Stage } from "../protocols/attributes.ts";
import type { Cidr } from "./ip.ts";

export const KEY_KINDS = [
  "sender",
  "sender_domain",
  "sasl_username",
  "client_address",
  "recipient",
  "recipient_domain",
  "helo_name",
  "local_user",
] as const;
export type KeyKind = typeof KEY_KINDS[number];

/** One part of a limit's key; client_address may carry prefixes: client_address/24 or /24/64. */
export interface KeyPart {
  kind: KeyKind;
  v4Prefix?: number;
  v6Prefix?: number;
}

export const ALGORITHMS = ["fixed", "sliding", "bucket"] as const;
export type Algorithm = typeof ALGORITHMS[number];
export const LIMIT_ACTIONS = ["alert", "warn", "defer", "reject"] as const;
export type LimitAction = typeof LIMIT_ACTIONS[number];
/** What one request adds to the count: 1, or its number of recipients. */
export const COUNT_PER = ["message", "recipient"] as const;
export const LIMIT_MODES = ["leaky", "strict"] as const;

/** The logins an exemption may name, as `KIND:NAME`: the key kinds no sender can choose for another. */
export const LOGIN_KINDS = ["local_user", "sasl_username"] as const;
export type LoginKind = typeof LOGIN_KINDS[number];

export interface Exemptions {
  senders: Set<string>; // full addresses, lower case
  domains: string[]; // lower case; "example.org" also covers its subdomains
  cidrs: Cidr[];
  localUsers: Set<string>; // `local_user:NAME`, lower case: the login that handed mail to sendmail
  saslUsernames: Set<string>; // `sasl_username:NAME`, lower case: the SMTP AUTH login
}

export function noExemptions(): Exemptions {
  return { senders: new Set(), domains: [], cidrs: [], localUsers: new Set(), saslUsernames: new Set() };
}

/** One named limit: [limit NAME]; the seed's [thresholds] becomes the limit named "thresholds". */
export interface LimitConfig {
  name: string;
  key: KeyPart[];
  keyText: string; // canonical, for messages and alerts: "sender", "client_address/24/64"
  count: number;
  windowMs: number;
  window: string; // as written in the config, for every text that names it: "1h", "90m", "300s"
  per: typeof COUNT_PER[number];
  algorithm: Algorithm;
  burst: number; // bucket capacity; for the other algorithms equal to count
  mode: typeof LIMIT_MODES[number];
  action: LimitAction;
  message?: string;
  exempt: Exemptions;
  stage: Stage;
  alert: boolean;
  legacy: boolean; // answers the seed's one-token requests (only [thresholds])
}
