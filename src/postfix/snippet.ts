// The main.cf lines a postmaster adds so that Postfix asks mailpolicyd (`mailpolicyd postfix-snippet`,
// docs/postfix.md): check_policy_service at RCPT (smtpd_recipient_restrictions, evaluated after the relay
// check of smtpd_relay_restrictions, so refused relaying uses up no allowance, and after
// reject_unlisted_recipient, so an unknown recipient does neither: UNLISTED_FIRST) and at the end of the
// message (smtpd_end_of_data_restrictions, where recipient_count and size are known: the engine's data
// stage). One source for the command and for the tests that run the lines in a real Postfix.
import * as v from "valibot";
import { POSTFIX_SECTION } from "../config/schema.ts";

/** The schema's [postfix] listen default, as Postfix names a policy server. */
export const DEFAULT_POSTFIX_ENDPOINT = `inet:${POSTFIX_SECTION.listen.default}`;

/**
 * How long Postfix waits for an answer, in seconds: above the timeouts of the concerns a Postfix request
 * asks ([limits] 1 s, [spf] 1.5 s by default), far below Postfix's own 100 s. A site that raises those gets
 * more (policyTimeoutSeconds): Postfix giving up first would wait its retry_delay and send the request
 * again (answered as before, uncounted: listeners/postfix-retries.ts), each SMTP command slower by seconds.
 */
export const DEFAULT_POLICY_TIMEOUT_SECONDS = 3;

/** Postfix's wait for concerns that answer within `concernTimeoutsMs`: a second more, at least the default. */
export function policyTimeoutSeconds(concernTimeoutsMs: readonly number[]): number {
  const longest = Math.max(0, ...concernTimeoutsMs);
  return Math.max(DEFAULT_POLICY_TIMEOUT_SECONDS, Math.ceil(longest / 1000) + 1);
}

/**
 * Debian's queue_directory. Postfix's daemons run in it, and Debian's smtpd chrooted to it (master.cf), so
 * a `unix:` path is written relative to it (`unix:private/mailpolicyd`): an absolute one would be looked
 * up inside the chroot, /var/spool/postfix/var/spool/postfix/…, and every request would fall back to the
 * default_action.
 */
export const POSTFIX_QUEUE_DIRECTORY = "/var/spool/postfix";

/** Whether a socket path lies in the queue directory, where a chrooted smtpd reaches it. */
export function inQueueDirectory(path: string, queueDirectory = POSTFIX_QUEUE_DIRECTORY): boolean {
  return path.startsWith(`${queueDirectory}/`);
}

/** Postfix's policy client endpoint for a [postfix] listen address or socket path. */
export function postfixEndpoint(
  place: { hostname: string; port: number } | { path: string },
  queueDirectory = POSTFIX_QUEUE_DIRECTORY,
): string {
  if ("path" in place) {
    const { path } = place;
    return `unix:${inQueueDirectory(path, queueDirectory) ? path.slice(queueDirectory.length + 1) : path}`;
  }
  return `inet:${place.hostname.includes(":") ? `[${place.hostname}]` : place.hostname}:${place.port}`;
}

/**
 * What the lines need: check_policy_service { endpoint, name=value } and default_action came with Postfix
 * 3.0 (postconf(5)); an older smtpd does not know that syntax and fails on the lines. Said in the lines,
 * where a postmaster pastes them.
 */
export const NEEDS_POSTFIX = "Needs Postfix 3.0 or later (check_policy_service { … } and default_action).";

// Fail-open: without an answer (daemon stopped, timeout) Postfix goes on with the next restriction. Fail-
// closed defers instead; the nested braces let the value hold spaces (Postfix 3.0+ syntax).
const FAIL_OPEN = "default_action=DUNNO";
const FAIL_CLOSED = "{ default_action = 451 4.3.5 mail policy service unavailable, try again later }";

/**
 * Before the check at RCPT. Postfix's own refusal of an unknown recipient (smtpd_reject_unlisted_recipient)
 * comes only after smtpd_recipient_restrictions, and after a DEFER_IF_PERMIT has become a deferral
 * (smtpd_check.c, smtpd_check_rcpt): without this, every RCPT to an address that does not exist (a typo, a
 * dictionary attack under a forged sender) was counted against the sender, and once the sender was over
 * its limit such a recipient got 450 (retried for days) instead of 550 User unknown, and the sender's mail
 * to real recipients was deferred for counts its mistakes had made. Named in the list, it applies also
 * where smtpd_reject_unlisted_recipient = no (said in the lines).
 */
export const UNLISTED_FIRST = "reject_unlisted_recipient";

/** The schema's [postfix] idle_timeout default, in seconds. */
const DEFAULT_IDLE_SECONDS =
  v.parse(POSTFIX_SECTION.idle_timeout.schema, POSTFIX_SECTION.idle_timeout.default) / 1000;

/** The check's waits, in Postfix's unit (seconds): `timeout` for an answer, `maxIdle` on an idle connection. */
export interface PolicyWaits {
  /** The daemon's [postfix] idle_timeout (postfixSnippet). */
  idleSeconds: number;
  /** policyTimeoutSeconds of the config's concerns. */
  timeoutSeconds: number;
}

const DEFAULT_WAITS: PolicyWaits = {
  idleSeconds: DEFAULT_IDLE_SECONDS,
  timeoutSeconds: DEFAULT_POLICY_TIMEOUT_SECONDS,
};

/**
 * The check_policy_service entry for `endpoint`, fail-open or fail-closed. The timeout and max_idle are
 * the check's own (smtpd_policy_service_timeout and _max_idle without the prefix): set as those main.cf
 * parameters they would change every other policy service of the Postfix too (postgrey, policyd-spf), a
 * 100 s timeout cut to 3 s.
 */
export function policyCheck(endpoint: string, failClosed = false, waits: Partial<PolicyWaits> = {}): string {
  const idleSeconds = waits.idleSeconds ?? DEFAULT_WAITS.idleSeconds;
  const timeoutSeconds = waits.timeoutSeconds ?? DEFAULT_WAITS.timeoutSeconds;
  const options = `timeout=${timeoutSeconds}s, max_idle=${idleSeconds}s`;
  return `check_policy_service { ${endpoint}, ${options}, ${failClosed ? FAIL_CLOSED : FAIL_OPEN} }`;
}

/**
 * The non_smtpd_milters entry for the milter at `endpoint` ([postfix] milter_socket or milter_listen, as
 * postfixEndpoint names it: a socket in the queue directory relative to it, where a chrooted cleanup looks
 * it up, as a chrooted smtpd does the policy socket): the mail handed to
 * sendmail (PHP's mail(), cron), which no policy service sees. default_action = accept is the entry's own
 * (Postfix 3.0+): set as milter_default_action it would make every other milter of the Postfix fail open
 * too (a DKIM signer in smtpd_milters). Fail-closed is tempfail: the message then waits in the maildrop
 * queue, and pickup tries it again, until the daemon answers. protocol=6 is the entry's own too: the milter
 * needs version 6 (quarantine), and a main.cf with `milter_protocol = 2` (old DKIM milter guides) would
 * otherwise offer version 2, which the milter must refuse: every message then went on unasked.
 */
export function milterEntry(endpoint: string, failClosed = false): string {
  return `{ ${endpoint}, default_action=${failClosed ? "tempfail" : "accept"}, protocol=6 }`;
}

/**
 * The milter's lines: counted and, over a limit, held (docs/postfix.md, "Mail handed to sendmail"). Printed
 * after the policy lines, or alone for a [postfix] with a milter only.
 */
export function milterLines(endpoint: string, failClosed: boolean): string {
  const mode = failClosed
    ? "Fail-closed: while mailpolicyd does not answer, such mail waits in the maildrop queue."
    : "Fail-open: while mailpolicyd does not answer, such mail goes on (default_action=accept).";
  return `# Mail handed to sendmail (PHP's mail(), cron) reaches no policy service: cleanup asks mailpolicyd's
# milter ([postfix] milter_socket or milter_listen) once a message, and over a limit puts it on hold
# (postqueue -p marks it "!"; postsuper -H QUEUE_ID releases it, postsuper -d deletes it).
# ${mode}
# If main.cf already sets non_smtpd_milters, add this entry to it, last: Postfix shows a message
# mailpolicyd holds to none of the milters after it (a DKIM signer, a virus scanner).
non_smtpd_milters = ${milterEntry(endpoint, failClosed)}
`;
}

/**
 * The lines for main.cf (then `postfix reload`). `waits.idleSeconds`: the daemon's [postfix] idle_timeout,
 * which Postfix's max_idle matches (rounded down: an smtpd between sessions lets a connection go no later
 * than the daemon does; within a session smtpd does not apply max_idle, docs/postfix.md). `milter`: the
 * endpoint of [postfix] milter_socket or milter_listen, when set.
 */
export function postfixSnippet(
  endpoint = DEFAULT_POSTFIX_ENDPOINT,
  failClosed = false,
  waits: Partial<PolicyWaits> = {},
  milter?: string,
): string {
  const check = policyCheck(endpoint, failClosed, waits);
  const other = policyCheck(endpoint, !failClosed, waits);
  return `# mailpolicyd: Postfix asks at each RCPT TO and once the message is received (docs/postfix.md).
# Generated by \`mailpolicyd postfix-snippet\`; add to /etc/postfix/main.cf, then \`postfix reload\`.
# ${NEEDS_POSTFIX}
# Relaying is checked first (smtpd_relay_restrictions), unknown recipients next (${UNLISTED_FIRST}),
# so refused recipients use up no allowance. If main.cf already sets smtpd_recipient_restrictions, add
# both entries to it, after the checks that refuse recipients. (With smtpd_reject_unlisted_recipient = no,
# leave out the first.)
# ${
    failClosed
      ? "Fail-closed: while mailpolicyd does not answer, mail is deferred (451 4.3.5)."
      : "Fail-open: while mailpolicyd does not answer, mail goes on (default_action=DUNNO)."
  }
# ${
    failClosed
      ? "Fail-open instead"
      : "Fail-closed instead (mail deferred while it does not answer)"
  }: use, in both places,
#   ${other}
# timeout: Postfix's default waits 100 s for an answer; mailpolicyd answers within its concerns' timeouts.
# max_idle: Postfix keeps one connection per smtpd process open while idle, up to this (mailpolicyd's
# [postfix] idle_timeout, after which the daemon closes it). Both apply to this check only.
smtpd_recipient_restrictions =
    ${UNLISTED_FIRST},
    ${check}
smtpd_end_of_data_restrictions =
    ${check}
${milter === undefined ? "" : milterLines(milter, failClosed)}`;
}

/**
 * The restriction list Postfix evaluates at each stage before RCPT, where a site adds the check for limits
 * (or [spf]) counted there (config/unasked-stages.ts). Only with `smtpd_delay_reject = no`: under Postfix's
 * default (yes) these lists run at each RCPT TO, and a real Postfix 3.7 sent their check as
 * protocol_state=RCPT, once per list and recipient: the early limits counted nothing and every per-recipient
 * limit counted a recipient once per list (test/integration/postfix-early-stages.test.ts).
 */
export const EARLY_STAGE_RESTRICTIONS = {
  connect: "smtpd_client_restrictions",
  helo: "smtpd_helo_restrictions",
  mail: "smtpd_sender_restrictions",
} as const;
