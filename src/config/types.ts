import type { LogLevel } from "../log.ts";
import type { LimitConfig } from "../model/limit.ts";
import type { SpfConfig } from "../model/spf.ts";
import type { PostfixConfig } from "../model/postfix.ts";
import type { ContentPolicy } from "../model/content.ts";
import type { ListenAddress } from "./values.ts";
import type { SpamdAddress } from "./spamassassin-values.ts";
import type { RedisAddress } from "./redis-values.ts";
import type { SpamdCommand } from "../protocols/spamd-client.ts";
import type { DAEMON_SECTION, REDIS_FALLBACKS, SectionValues } from "./schema.ts";

// The shapes below are the ones the rest of the code reads (camelCase, paths resolved, durations in ms);
// where a field holds a schema's value as it is, its type is taken from that schema (config/schema.ts).
// A limit's shape is model/limit.ts's: policy/ reads it too, and config/ and policy/ import neither each
// other.
type DaemonValues = SectionValues<typeof DAEMON_SECTION>;

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
  smtpTimeoutMs: number; // connecting, the greeting and a STARTTLS handshake, in all
  smtpCommandTimeoutMs: number; // each reply after the greeting, but the message's end's (10 minutes)
  sendmail?: string;
  retryMinMs: number;
  retryMaxMs: number;
  exemptAlerts: boolean; // the daemon's own alert mail is never counted (policy/own-alert.ts)
  /** SMTP AUTH at the relay; the password is never logged nor shown (model/alert-relay.ts). */
  auth?: { user: string; password: string };
  /** With auth to a relay off loopback: check its certificate (against tlsCaFile, or the system's CAs). */
  tlsVerify: boolean;
  tlsCaFile?: string;
}

/** [alerts]' bounds on the alert queue (read with their defaults also without an [alerts] section). */
export interface AlertQueueConfig {
  outboxMax: number; // undelivered notices kept; beyond it the oldest is dropped
  digestAfter: number; // notices per digestWindow mailed one by one; more go into one digest
  digestWindowMs: number;
  retryForMs: number; // a temporary failure is retried this long after the key crossed, then parked
  parkedMax: number; // parked notices listed in status
}

/** A concern's [section] `timeout` and `fail_mode` (fail_mode defaults to [daemon] fail_mode). */
export interface ConcernSettings {
  timeoutMs: number;
  failMode: DaemonValues["fail_mode"];
}

/** The engine's settings for each concern (engine/concern.ts), by concern id. */
export interface ConcernsConfig {
  limits: ConcernSettings;
  /** [spf]'s timeout and fail_mode, with their defaults also when there is no [spf] section. */
  spf: ConcernSettings;
  /** [spamassassin]'s, likewise. */
  spamassassin: ConcernSettings;
  /** [content]'s timeout and fail_mode, with their defaults also when there is no [content] section. */
  content: ConcernSettings;
}

/** [spamassassin]: the SpamAssassin client (docs/spamassassin.md). */
export interface SpamAssassinConfig {
  address: SpamdAddress; // a Unix socket path is resolved against the config file's folder
  /** Sent as `User:`; "" sends the user the MTA named (Exim's `spam = USER`), or none. */
  user: string;
  command: SpamdCommand;
  maxInFlight: number; // scans at once, each its own connection (spamd closes after each answer)
  maxQueue: number; // scans waiting for a connection; one more fails at once ("busy")
  maxSize: number; // bytes; a bigger message is not sent (accept, score 0, SPAMASSASSIN_NOT_SCANNED)
  breakerFailures: number;
  breakerResetMs: number;
}

/** [spamd]: the spamd front (listeners/spamd-front.ts, docs/spamd-front.md). */
export interface SpamdConfig {
  /** Loopback TCP (Exim's spamd_address); undefined: listen = none. */
  listen?: ListenAddress;
  /** A Unix socket as well (spamc -U); undefined: none. */
  socket?: string;
  markThreshold: number;
  rejectThreshold: number;
  /** Bytes of a message kept and scanned; the rest is read and dropped, the report says "not scanned". */
  maxMessageSize: number;
  /** Scans in flight; one more is answered EX_TEMPFAIL at once. */
  maxScans: number;
  timeoutMs: number;
}

/** [redis]: the counters shared through Redis (limits/redis-store.ts, docs/redis.md). */
export interface RedisConfig {
  /** Where, and the URL's credentials and database; username, password and database keys win over it. */
  address: RedisAddress;
  username?: string;
  password?: string;
  database: number;
  tlsCaFile?: string; // resolved against the config file's folder
  prefix: string;
  timeoutMs: number; // per command
  connectTimeoutMs: number;
  fallback: typeof REDIS_FALLBACKS[number];
  overCacheMs: number;
  answerAhead: boolean; // accept requests far from their limits before Redis answers (docs/redis.md)
  retryEveryMs: number; // while Redis is away: how often it is asked again (a script that writes)
}

export interface Config {
  file: string; // where it was read from, "(embedded default config)" for the built-in default
  daemon: DaemonConfig;
  alerts?: AlertsConfig; // absent: threshold crossings are logged, no mail is sent
  alertQueue: AlertQueueConfig;
  limits: LimitConfig[];
  concerns: ConcernsConfig;
  spf?: SpfConfig; // absent (no [spf] section, or enabled = no): no SPF concern
  spamassassin?: SpamAssassinConfig; // absent: no SpamAssassin concern
  postfix?: PostfixConfig; // absent (no [postfix] section): no Postfix listener
  content?: ContentPolicy; // absent (no [content] section): no content concern
  spamd?: SpamdConfig; // absent (no [spamd] section): no spamd front
  redis?: RedisConfig; // absent (no [redis] section): counters in memory, this host's own
}
