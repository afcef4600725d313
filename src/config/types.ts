import type { LogLevel } from "../log.ts";
import type { Stage } from "../protocols/attributes.ts";
import type { Cidr } from "../policy/ip.ts";
import type { ListenAddress } from "./values.ts";
import type { DAEMON_SECTION, LIMIT_SECTION, SectionValues } from "./schema.ts";

// The shapes below are the ones the rest of the code reads (camelCase, paths resolved, windows in ms);
// where a field holds a schema's value as it is, its type is taken from that schema (config/schema.ts).
type DaemonValues = SectionValues<typeof DAEMON_SECTION>;
type LimitValues = SectionValues<typeof LIMIT_SECTION>;

export interface DaemonConfig {
  policySocket: string;
  /** Loopback TCP for the same requests (Exim's snippets use it); undefined: policy_listen = none. */
  policyListen?: ListenAddress;
  controlSocket: string;
  controlListen?: ListenAddress;
  pidfile: string;
  stateFile: string;
  stateIntervalMs: number;
  maxKeys: number;
  maxConnections: number; // unanswered connections per listener; more get "error busy" // counters kept over all limits; then the least recently seen give way
  socketMode: number;
  socketGroup?: string; // the policy socket's
  controlGroup?: string;
  logLevel: LogLevel;
  requestTimeoutMs: number;
  failMode: DaemonValues["fail_mode"];
}

export interface AlertsConfig {
  from: string;
  to: string[];
  cc: string[];
  subject: string;
  smtpHost: string;
  smtpPort: number;
  smtpTimeoutMs: number;
  sendmail?: string;
  retryMinMs: number;
  retryMaxMs: number;
  exemptAlerts: boolean; // the daemon's own alert mail is never counted (policy/own-alert.ts)
}

/** [alerts]' bounds on the alert queue (read with their defaults also without an [alerts] section). */
export interface AlertQueueConfig {
  outboxMax: number; // undelivered notices kept; beyond it the oldest is dropped
  digestAfter: number; // notices per digestWindow mailed one by one; more go into one digest
  digestWindowMs: number;
  retryForMs: number; // a temporary failure is retried this long after the key crossed, then parked
  parkedMax: number; // parked notices listed in status
}

export const KEY_KINDS = [
  "sender",
  "sender_domain",
  "sasl_username",
  "client_address",
  "recipient",
  "recipient_domain",
  "helo_name",
] as const;
export type KeyKind = typeof KEY_KINDS[number];

/** One part of a limit's key; client_address may carry prefixes: client_address/24 or /24/64. */
export interface KeyPart {
  kind: KeyKind;
  v4Prefix?: number;
  v6Prefix?: number;
}

export type Algorithm = LimitValues["algorithm"];
export type LimitAction = LimitValues["action"];

export interface Exemptions {
  senders: Set<string>; // full addresses, lower case
  domains: string[]; // lower case; "example.org" also covers its subdomains
  cidrs: Cidr[];
}

/** One named limit: [limit NAME]; the seed's [thresholds] becomes the limit named "thresholds". */
export interface LimitConfig {
  name: string;
  key: KeyPart[];
  keyText: string; // canonical, for messages and alerts: "sender", "client_address/24/64"
  count: number;
  windowMs: number;
  window: string; // as written in the config, for every text that names it: "1h", "90m", "300s"
  per: LimitValues["per"];
  algorithm: Algorithm;
  burst: number; // bucket capacity; for the other algorithms equal to count
  mode: LimitValues["mode"];
  action: LimitAction;
  message?: string;
  exempt: Exemptions;
  stage: Stage;
  alert: boolean;
  legacy: boolean; // answers the seed's one-token requests (only [thresholds])
}

export interface Config {
  file: string; // where it was read from, "(embedded default config)" for the built-in default
  daemon: DaemonConfig;
  alerts?: AlertsConfig; // absent: threshold crossings are logged, no mail is sent
  alertQueue: AlertQueueConfig;
  limits: LimitConfig[];
}
