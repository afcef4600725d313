// The Exim lines for the spamd front ([spamd], docs/spamd-front.md): spamd_address pointing at it, and the
// DATA ACL statements that scan each message with `spam =`, reject above reject_threshold and add the
// X-Spam-* headers above mark_threshold. Part of the snippets (snippets.ts) when the config has [spamd].
//
// variant=rspamd, because its reply carries the front's verdict in $spam_action ("reject", "add header",
// "soft reject", "no action"); SpamAssassin's protocol only has a score and one threshold, and Exim makes
// $spam_action "reject" for any score at or over it (docs/protocol.md, "spamd front").
import { readConfigText } from "../config/config-file.ts";
import { dirname, resolve } from "node:path";
import * as v from "valibot";
import { concernTimeouts } from "../config/concern-timeouts.ts";
import { parseIni } from "../config/ini.ts";
import { CONTENT_SECTION, SPAMASSASSIN_SECTION, SPAMD_SECTION } from "../config/schema.ts";

/**
 * How long Exim waits for the whole scan (spam.c: tmo=, 120 s by default), in seconds: 30, or 5 more than
 * the longest of the front's concerns' timeouts ([spamassassin] 20 s, [content] 2 s by default), so that
 * the front always answers first, with its fail_mode; past tmo= Exim passes the message on unscanned.
 */
export const DEFAULT_SPAMD_WAIT_SECONDS = 30;

export function spamdWaitSeconds(concernTimeoutsMs: readonly number[]): number {
  const longest = Math.max(0, ...concernTimeoutsMs);
  return Math.max(DEFAULT_SPAMD_WAIT_SECONDS, Math.ceil(longest / 1000) + 5);
}

/** Exim's spamd_address for the front: `127.0.0.1 10783 variant=rspamd tmo=30s`, or a socket path. */
export function spamdAddressSpec(
  front: { hostname: string; port: number } | string,
  waitSeconds = DEFAULT_SPAMD_WAIT_SECONDS,
): string {
  const where = typeof front === "string" ? front : `${front.hostname} ${front.port}`;
  return `${where} variant=rspamd tmo=${waitSeconds}s`;
}

/**
 * The front's spamd_address from the config's [spamd] (listen, else socket), or undefined without a
 * [spamd] section. Only [spamd] and the timeouts of [spamassassin] and [content] are read, as
 * socket-paths.ts reads [daemon]: a typo elsewhere must not stop the snippet; a bad value is left to
 * config-test.
 */
export function spamdAddressFromConfig(file: string): string | undefined {
  let text = "";
  try {
    text = readConfigText(file); // a FIFO would block, 3 GB be read: config-file.ts
  } catch {
    return undefined;
  }
  const document = parseIni(text);
  const section = document.sections.find((found) => found.name === "spamd");
  if (!section) return undefined;
  const value = (key: string) => section.entries.find((entry) => entry.key === key)?.value;
  const wait = spamdWaitSeconds(concernTimeouts(document, [
    { name: "spamassassin", spec: SPAMASSASSIN_SECTION },
    { name: "content", spec: CONTENT_SECTION },
  ]));
  const listen = v.safeParse(SPAMD_SECTION.listen.schema, value("listen") ?? SPAMD_SECTION.listen.default);
  if (listen.success && listen.output && listen.output.port !== 0) {
    return spamdAddressSpec(listen.output, wait);
  }
  const socket = value("socket");
  return socket ? spamdAddressSpec(resolve(dirname(resolve(file)), socket), wait) : undefined;
}

/** The main-section line. */
export function spamdMainLines(spec: string): string {
  return `# The spamd front of mailpolicyd ([spamd]): Exim's spam = condition asks it.\nspamd_address = ${spec}\n`;
}

/**
 * DATA ACL statements. `spam = mailpolicyd:true/defer_ok`: true whenever the front answered (so the verdict
 * is read from $spam_action, not from the condition), and false, the mail going on unscanned, when it did
 * not (stopped, hung past tmo=, busy, an answer Exim cannot parse): the front never harms mail.
 */
export const SPAMD_STATEMENTS =
  `  # The spamd front ([spamd]): without an answer the message goes on unscanned (fail-open).
  warn
    set acl_m_mpd_spam = unscanned
  warn
    spam        = mailpolicyd:true/defer_ok
    set acl_m_mpd_spam = $spam_action
  warn
    condition   = \${if eq{$acl_m_mpd_spam}{unscanned}}
    log_message = mailpolicyd: spamd front did not answer, accepting unscanned (fail-open)
  deny
    condition   = \${if eq{$acl_m_mpd_spam}{reject}}
    message     = This message was classified as spam (score $spam_score)
    log_message = mailpolicyd: spam rejected, score $spam_score
  defer
    condition   = \${if eq{$acl_m_mpd_spam}{soft reject}}
    message     = The message could not be checked now, please try again later
    log_message = mailpolicyd: content check deferred
  warn
    condition   = \${if eq{$acl_m_mpd_spam}{add header}}
    add_header  = X-Spam-Score: $spam_score\\nX-Spam-Bar: $spam_bar\\nX-Spam-Report: $spam_report
`;
