// Which sections and keys exist, how each value converts, and its default. Keys are matched in lower case.
import * as v from "valibot";
import { LOG_LEVELS } from "../log.ts";
import { STAGES } from "../protocols/attributes.ts";
import { exemptionList, keyExpression } from "./limit-values.ts";
import { dnsServerList, domainList, spfExemptionList } from "./spf-values.ts";
import { spamdAddress, spamdUser } from "./spamassassin-values.ts";
import { MAX_DATABASE, redisAddress, redisPrefix } from "./redis-values.ts";
import { SPAMD_COMMANDS } from "../protocols/spamd-client.ts";
import { HELO_CHECKS, SPF_ACTIONS, SPF_STAGES } from "../model/spf.ts";
import {
  POSTFIX_ACCEPT,
  POSTFIX_DEFER,
  POSTFIX_HEADERS,
  POSTFIX_REJECT,
  POSTFIX_WARN,
} from "../model/postfix.ts";
import { RULE_ACTIONS } from "../model/content.ts";
import { attachmentList, extensionList, spamtrapList, subjectPattern } from "./content-values.ts";
import { ALGORITHMS, COUNT_PER, LIMIT_ACTIONS, LIMIT_MODES } from "../model/limit.ts";
import {
  absoluteOrRelativePath,
  address,
  addressList,
  byteSize,
  duration,
  integer,
  loopbackAddress,
  octalMode,
  oneOf,
  oneOfUpperCase,
  optionalLoopbackAddress,
  relayHost,
  score,
  text,
  unixGroup,
  window,
  yesNo,
} from "./values.ts";

// deno-lint-ignore no-explicit-any
type AnySchema = v.GenericSchema<string, any>;

export interface KeySpec {
  schema: AnySchema;
  default?: string;
  required?: boolean;
}

export type SectionSpec = Record<string, KeySpec>;

/**
 * What readSection returns for a section: each key's converted value, typed from its schema. A key with a
 * default or marked required is always there (a missing required key is an error, and no config is built
 * from a file with errors); any other key may be undefined. The checks across keys that run before the
 * errors are counted (config/load.ts) see a required key that is missing or bad as undefined all the same.
 */
export type SectionValues<S extends SectionSpec> = {
  [K in keyof S]: S[K] extends { required: true } | { default: string } ? v.InferOutput<S[K]["schema"]>
    : v.InferOutput<S[K]["schema"]> | undefined;
};

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
// Windows run off the timer wheel, not a timer each, so they could be longer; a month is the longest
// limit a mail host has a use for, and it keeps every window end far from any date arithmetic trouble.
const MAX_WINDOW = 30 * DAY;
const FAIL_MODES = ["open", "closed"] as const;
/** [redis] fallback: count locally while Redis is away, or answer the limits as failed (open, closed). */
export const REDIS_FALLBACKS = ["local", "open", "closed"] as const;

export const DAEMON_SECTION = {
  policy_socket: { schema: absoluteOrRelativePath, default: "/run/mailpolicyd/policy.sock" },
  // Exim's snippets ask here, not on policy_socket: docs/exim.md, "Why TCP".
  policy_listen: { schema: optionalLoopbackAddress, default: "127.0.0.1:10037" },
  control_socket: { schema: absoluteOrRelativePath, default: "/run/mailpolicyd/control.sock" },
  control_listen: { schema: loopbackAddress },
  pidfile: { schema: absoluteOrRelativePath, default: "/run/mailpolicyd/mailpolicyd.pid" },
  state_file: { schema: absoluteOrRelativePath, default: "/var/lib/mailpolicyd/state.json" },
  state_interval: { schema: duration(100, HOUR), default: "5s" },
  // At ~230 bytes a key (docs/performance.md, "Issue 6"), a million keys hold ~230 MB; docs/configuration.md.
  max_keys: { schema: integer(1000, 100_000_000), default: "1000000" },
  max_connections: { schema: integer(16, 1_000_000), default: "1000" },
  socket_mode: { schema: octalMode, default: "0660" },
  socket_group: { schema: unixGroup },
  // The control socket's own group: joining it lets an admin run `status` without also reading Exim's
  // queue and passwords, as joining Debian-exim (the policy socket's group) would.
  control_group: { schema: unixGroup },
  log_level: { schema: oneOf(LOG_LEVELS), default: "info" },
  request_timeout: { schema: duration(10, 10 * MINUTE), default: "5s" },
  fail_mode: { schema: oneOf(FAIL_MODES), default: "open" },
} satisfies SectionSpec;

// The client commands' options with a default (cli/command-line.ts): not a config section, the command
// line's. timeout: how long status, top, show, reset, reload and check wait for the daemon's answer.
export const CLIENT_COMMAND_OPTIONS = {
  timeout: { schema: duration(10, 10 * MINUTE), default: "5s" },
} satisfies SectionSpec;

// How alerts may pile up, fail and storm (docs/configuration.md, [alerts]). Read also without an [alerts]
// section: crossings are then only logged, but the outbox still needs its bound.
export const ALERT_QUEUE_KEYS = {
  outbox_max: { schema: integer(10, 100_000), default: "1000" },
  digest_after: { schema: integer(1, 10_000), default: "10" },
  digest_window: { schema: duration(1000, HOUR), default: "1m" },
  retry_for: { schema: duration(10_000, 30 * DAY), default: "1d" },
  parked_max: { schema: integer(1, 10_000), default: "100" },
} satisfies SectionSpec;

export const ALERTS_SECTION = {
  fromaddr: { schema: address, required: true },
  toaddr: { schema: v.pipe(addressList, v.minLength(1, "must name at least one address")), required: true },
  ccaddr: { schema: addressList, default: "" },
  subject: { schema: text, default: "Mail Abuse Alert" },
  smtp_host: { schema: relayHost("smtp_port"), default: "127.0.0.1" },
  smtp_port: { schema: integer(1, 65535), default: "25" },
  smtp_timeout: { schema: duration(100, 10 * MINUTE), default: "10s" },
  // Each reply after the greeting but the message's end's (docs/decisions.md, "A relay that hangs at a
  // step"): Postfix and Exim wait 5 minutes, but a command given up on here sends nothing twice (only the
  // message's end may have been taken), and a relay that hangs held the alerts behind it that long.
  smtp_command_timeout: { schema: duration(100, 10 * MINUTE), default: "1m" },
  sendmail: { schema: absoluteOrRelativePath },
  retry_min: { schema: duration(10, DAY), default: "10s" },
  retry_max: { schema: duration(10, DAY), default: "10m" },
  exempt_alerts: { schema: yesNo, default: "yes" },
  // SMTP AUTH at the relay (docs/decisions.md, "Alert mail"): both or neither. Sent to a relay that is not
  // on loopback only over STARTTLS, to a certificate checked against tls_ca_file (or the system's CAs)
  // unless tls_verify = no.
  auth_user: { schema: text },
  auth_password: { schema: text },
  tls_ca_file: { schema: absoluteOrRelativePath },
  tls_verify: { schema: yesNo, default: "yes" },
  ...ALERT_QUEUE_KEYS,
} satisfies SectionSpec;

/**
 * Every concern's section has these (docs/configuration.md, "Concerns"): how long the engine waits for its
 * answer, and what it answers instead when the concern is down, fails or is late. fail_mode has no default
 * of its own: a concern without one follows [daemon] fail_mode.
 */
export const CONCERN_KEYS = {
  timeout: { schema: duration(10, 10 * MINUTE), default: "1s" },
  fail_mode: { schema: oneOf(FAIL_MODES) },
} satisfies SectionSpec;

/** [limits]: the rate limits as a concern (the limits themselves are the [limit NAME] sections). */
export const LIMITS_SECTION = { ...CONCERN_KEYS } satisfies SectionSpec;

const SECOND = 1000;
const spfAction = (fallback: typeof SPF_ACTIONS[number]) => ({
  schema: oneOf(SPF_ACTIONS),
  default: fallback,
});

/**
 * [spf]: the SPF concern (docs/spf.md, docs/configuration.md). Its timeout stays under the 2 s the Exim
 * snippets wait, or Exim's own fallback (accept) would answer before [spf] fail_mode or temperror could.
 */
export const SPF_SECTION = {
  ...CONCERN_KEYS,
  timeout: { schema: duration(10, 10 * MINUTE), default: "1500ms" },
  enabled: { schema: yesNo, default: "yes" },
  stage: { schema: oneOf(SPF_STAGES), default: "rcpt" },
  // RFC 7208 §8: fail may be rejected; softfail SHOULD NOT be on its own (§8.5); temperror is a 4xx (§8.6).
  fail: spfAction("reject"),
  softfail: spfAction("accept"),
  neutral: spfAction("accept"),
  none: spfAction("accept"),
  permerror: spfAction("accept"),
  temperror: spfAction("defer"),
  exempt: { schema: spfExemptionList, default: "authenticated, 127.0.0.0/8, ::1" },
  exempt_domains: { schema: domainList, default: "" },
  dns_servers: { schema: dnsServerList },
  dns_timeout: { schema: duration(10, 30 * SECOND), default: "500ms" },
  dns_tries: { schema: integer(1, 10), default: "3" },
  cache_min_ttl: { schema: duration(0, DAY), default: "0" },
  cache_max_ttl: { schema: duration(SECOND, 7 * DAY), default: "1d" },
  cache_max_entries: { schema: integer(100, 10_000_000), default: "10000" },
  result_cache_entries: { schema: integer(0, 10_000_000), default: "10000" },
  helo_check: { schema: oneOf(HELO_CHECKS), default: "log" },
  time_budget: { schema: duration(100, 10 * MINUTE), default: "20s" },
  received_spf: { schema: yesNo, default: "yes" },
} satisfies SectionSpec;

/**
 * [spamassassin]: the SpamAssassin client (docs/spamassassin.md). timeout: a small message takes spamd 0.1-0.7 s
 * here, and SpamAssassin's slowest normal scan waits for its DNS lists (rbl_timeout, 15 s); Exim waits
 * 120 s for its spamd server (SPAMD_TIMEOUT in spam.h), so at 20 s the answer is always ours (fail_mode),
 * never Exim's own timeout. max_in_flight: Debian's spamd runs 5 children; 4 leave one for spamc and
 * monitoring. max_size: spamc's default (-s 500k).
 */
export const SPAMASSASSIN_SECTION = {
  ...CONCERN_KEYS,
  timeout: { schema: duration(100, 10 * MINUTE), default: "20s" },
  address: { schema: spamdAddress, default: "127.0.0.1:783" },
  user: { schema: spamdUser, default: "" },
  command: { schema: oneOf(SPAMD_COMMANDS), default: "report" },
  max_in_flight: { schema: integer(1, 1000), default: "4" },
  max_queue: { schema: integer(0, 10_000), default: "32" },
  max_size: { schema: byteSize(1024, 256 * 1024 * 1024), default: "500k" },
  breaker_failures: { schema: integer(1, 1000), default: "5" },
  breaker_reset: { schema: duration(100, HOUR), default: "30s" },
} satisfies SectionSpec;

/**
 * [postfix]: the Postfix policy delegation listener (docs/postfix.md). Without the section there is none.
 * 10038 is the port after the Exim listener's 10037, clear of the other policy servers' usual ones
 * (postgrey 10023, postfwd 10040, policyd-weight 12525). idle_timeout is Postfix's own
 * smtpd_policy_service_max_idle; a request of Postfix 3.x is under 1 KB, with certificates under 4 KB.
 * milter_listen: the milter cleanup asks about mail handed to sendmail (non_smtpd_milters), off by default;
 * 10039 is the port after the policy listener's. milter_socket: the same milter on a Unix socket, which only
 * the socket's group reaches (loopback TCP any local user does: docs/postfix.md, "The milter's Unix
 * socket"). socket_mode and socket_group are both sockets': smtpd and cleanup connect as one user, Postfix's
 * mail_owner. milter_timeout: how long the milter waits for Postfix's next frame; cleanup opens a connection
 * per message, so every wait is within a message, while Postfix asks the milters before this one (each up to
 * its milter_content_timeout, 300 s): three of them. Closed sooner, the message goes on uncounted.
 */
export const POSTFIX_SECTION = {
  listen: { schema: optionalLoopbackAddress, default: "127.0.0.1:10038" },
  socket: { schema: absoluteOrRelativePath },
  socket_mode: { schema: octalMode, default: "0660" },
  socket_group: { schema: unixGroup },
  accept: { schema: oneOfUpperCase(POSTFIX_ACCEPT), default: "DUNNO" },
  defer: { schema: oneOfUpperCase(POSTFIX_DEFER), default: "DEFER_IF_PERMIT" },
  reject: { schema: oneOfUpperCase(POSTFIX_REJECT), default: "REJECT" },
  warn: { schema: oneOfUpperCase(POSTFIX_WARN), default: "WARN" },
  headers: { schema: oneOfUpperCase(POSTFIX_HEADERS), default: "PREPEND" },
  idle_timeout: { schema: duration(1000, HOUR), default: "300s" },
  max_request_size: { schema: integer(1024, 1024 * 1024), default: "16384" },
  milter_listen: { schema: optionalLoopbackAddress, default: "none" },
  milter_socket: { schema: absoluteOrRelativePath },
  milter_timeout: { schema: duration(1000, HOUR), default: "15m" },
} satisfies SectionSpec;

const MB = 1024 * 1024;

/**
 * The extensions Gmail refuses in attachments (support.google.com/mail/answer/6590, 2024), and .reg:
 * programs, scripts, installers, shortcuts and disk images Windows opens with a double click.
 */
const EXECUTABLE_EXTENSIONS = "ade, adp, apk, appx, appxbundle, bat, cab, chm, cmd, com, cpl, diagcab, " +
  "diagcfg, diagpack, dll, dmg, ex, ex_, exe, hta, img, ins, iso, isp, jar, jnlp, js, jse, lib, lnk, mde, " +
  "msc, msi, msix, msixbundle, msp, mst, nsh, pif, ps1, reg, scr, sct, shb, sys, vb, vbe, vbs, vhd, vxd, " +
  "wsc, wsf, wsh, xll";

/**
 * [content]: the content rules' concern and the bounds of a scan (docs/content.md). The rules are the
 * [rule NAME] sections. zip_max_message_entries: every zip or tar entry and gzip member costs a call into
 * zlib or a header's parsing however empty it is, and nothing against zip_max_bytes; 5000, five archives at
 * zip_max_entries, cost about what inflating zip_max_bytes does, tens of milliseconds (docs/decisions.md,
 * "Archive entries bounded per message (session 44)").
 */
export const CONTENT_SECTION = {
  ...CONCERN_KEYS,
  timeout: { schema: duration(10, 10 * MINUTE), default: "2s" },
  max_scan_size: { schema: byteSize(1024, 1024 * MB), default: "10M" },
  max_depth: { schema: integer(1, 100), default: "10" },
  max_parts: { schema: integer(1, 10_000), default: "500" },
  zip: { schema: yesNo, default: "yes" },
  zip_max_depth: { schema: integer(1, 10), default: "2" },
  zip_max_bytes: { schema: byteSize(0, 1024 * MB), default: "4M" },
  zip_max_entries: { schema: integer(1, 100_000), default: "1000" },
  zip_max_message_entries: { schema: integer(1, 1_000_000), default: "5000" },
  executable_extensions: { schema: extensionList, default: EXECUTABLE_EXTENSIONS },
} satisfies SectionSpec;

/** [rule NAME]: one content rule; exactly one of subject, subject_prefix, recipients, attachments. */
export const RULE_SECTION = {
  subject: { schema: subjectPattern },
  subject_prefix: { schema: text },
  recipients: { schema: spamtrapList },
  attachments: { schema: attachmentList },
  score: { schema: score, default: "0" },
  action: { schema: oneOf(RULE_ACTIONS), default: "accept" },
  message: { schema: v.pipe(text, v.maxLength(300, "at most 300 characters")) },
} satisfies SectionSpec;

export const RULE_SECTION_PREFIX = "rule ";

/**
 * [spamd]: the spamd front Exim's `spam =` and spamc talk to (docs/spamd-front.md). Port 10783: spamd's own
 * 783 in mailpolicyd's 10xxx range beside policy_listen's 10037, so a real spamd keeps 783 (the
 * SpamAssassin concern asks it there). A scan in flight holds up to max_message_size (docs/spamd-front.md,
 * "Bounds").
 */
export const SPAMD_SECTION = {
  listen: { schema: optionalLoopbackAddress, default: "127.0.0.1:10783" },
  socket: { schema: absoluteOrRelativePath },
  mark_threshold: { schema: score, default: "5.0" },
  reject_threshold: { schema: score, default: "10.0" },
  max_message_size: { schema: byteSize(1024, 512 * 1024 * 1024), default: "10M" },
  max_scans: { schema: integer(1, 10_000), default: "32" },
  // How long a client may take to send its request; the answer then takes at most the concerns' timeouts.
  timeout: { schema: duration(100, 10 * MINUTE), default: "30s" },
} satisfies SectionSpec;

/**
 * [redis]: counters shared by several MX hosts (docs/redis.md). timeout: a check or commit is one round trip
 * of well under a millisecond on a LAN; 200 ms leaves the 2 s the Exim snippets wait (and [limits] timeout,
 * 1 s) for the fallback's answer. over_cache: a sender over a limit that refuses or counts every attempt
 * (strict) is answered here for 1 s without a round trip (it can only refuse up to 1 s longer than needed,
 * never grant; a strict limit's attempts reach Redis up to 1 s late: docs/redis.md). answer_ahead: off, so
 * that a sender split across hosts is refused at exactly N+1; on, a request far from its limits is accepted
 * without waiting for Redis, which may over-grant (limits/ahead-levels.ts bounds it).
 */
export const REDIS_SECTION = {
  url: { schema: redisAddress, required: true },
  username: { schema: text },
  password: { schema: text },
  database: { schema: integer(0, MAX_DATABASE) },
  tls_ca_file: { schema: absoluteOrRelativePath },
  prefix: { schema: redisPrefix, default: "mailpolicyd:" },
  timeout: { schema: duration(10, 10 * SECOND), default: "200ms" },
  connect_timeout: { schema: duration(100, MINUTE), default: "2s" },
  fallback: { schema: oneOf(REDIS_FALLBACKS), default: "local" },
  over_cache: { schema: duration(0, MINUTE), default: "1s" },
  answer_ahead: { schema: yesNo, default: "no" },
  retry_every: { schema: duration(100, MINUTE), default: "1s" },
} satisfies SectionSpec;

export const THRESHOLDS_SECTION = {
  time: { schema: window(1000, MAX_WINDOW), default: "300" },
  count: { schema: integer(1, 1_000_000_000), default: "20" },
} satisfies SectionSpec;

/** [limit NAME]: one named limit. See docs/configuration.md. */
export const LIMIT_SECTION = {
  key: { schema: keyExpression, default: "sender" },
  count: { schema: integer(1, 1_000_000_000), required: true },
  time: { schema: window(1000, MAX_WINDOW), required: true },
  per: { schema: oneOf(COUNT_PER), default: "message" },
  algorithm: { schema: oneOf(ALGORITHMS), default: "fixed" },
  burst: { schema: integer(1, 1_000_000_000) },
  mode: { schema: oneOf(LIMIT_MODES), default: "leaky" },
  action: { schema: oneOf(LIMIT_ACTIONS), default: "defer" },
  message: { schema: v.pipe(text, v.maxLength(300, "at most 300 characters")) },
  exempt: { schema: exemptionList, default: "" },
  stage: { schema: oneOf(STAGES), default: "rcpt" },
  alert: { schema: yesNo, default: "yes" },
} satisfies SectionSpec;

export const LIMIT_SECTION_PREFIX = "limit ";

export const SECTIONS: Record<string, SectionSpec> = {
  daemon: DAEMON_SECTION,
  alerts: ALERTS_SECTION,
  thresholds: THRESHOLDS_SECTION,
  limits: LIMITS_SECTION,
  spf: SPF_SECTION,
  spamassassin: SPAMASSASSIN_SECTION,
  postfix: POSTFIX_SECTION,
  content: CONTENT_SECTION,
  spamd: SPAMD_SECTION,
  redis: REDIS_SECTION,
};
