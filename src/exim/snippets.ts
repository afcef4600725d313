// The Exim configuration a postmaster pastes in, in three shapes: Debian's split config (conf.d files),
// Debian's unsplit config (localmacros + ACL files) and a plain exim.conf. One source for
// `mailpolicyd exim-snippet`, packaging/exim/ and the tests that run them in a real Exim.
//
// Every snippet asks over loopback TCP (`inet:127.0.0.1:PORT`), never over the Unix policy socket: from
// 4.94 on, Exim's readsocket, after a failed connect() to a Unix socket, keeps the closed fd in its
// per-process lookup cache; the next lookup writes into whatever file got that number (a spool file) and
// closes it again. Its inet: path sets the fd to -1 on failure. docs/exim.md, "Why TCP".
import { DAEMON_SECTION } from "../config/schema.ts";
import { SPAMD_STATEMENTS, spamdMainLines } from "./spamd-snippet.ts";

export type SnippetVariant = "debian-split" | "debian-unsplit" | "plain";

export interface SnippetFile {
  path: string; // where it goes on a Debian host (for plain: a description)
  content: string;
}

/** The schema's policy_listen default, as Exim's readsocket names it. */
export const DEFAULT_POLICY_ADDRESS = `inet:${DAEMON_SECTION.policy_listen.default}`;

/** Exim's readsocket spec for a policy_listen address: `inet:127.0.0.1:10037`, `inet:::1:10037`. */
export function eximAddress(address: { hostname: string; port: number }): string {
  return `inet:${address.hostname}:${address.port}`;
}

// Fail-open: when the daemon does not answer, Exim uses this string, the mail goes on and the fallback
// is logged. For fail-closed replace it with: action=defer message="policy service unavailable" fallback=yes
const FALLBACK = "action=accept fallback=yes";

function ask(address: string, request: string, options: string): string {
  return `    set acl_m_mpd = \${readsocket{${address}}\\\n      {${request}}\\\n      {${options}}{}{${FALLBACK}}}\n`;
}

const RCPT_REQUEST = "rcpt sender=${quote:$sender_address} recipient=${quote:$local_part@$domain} \\\n" +
  "       client_address=${quote:$sender_host_address} client_name=${quote:$sender_host_name} \\\n" +
  "       helo_name=${quote:$sender_helo_name} sasl_username=${quote:$authenticated_id} \\\n" +
  "       instance=${quote:$acl_m_mpd_instance}";

const DATA_REQUEST =
  "data sender=${quote:$sender_address} client_address=${quote:$sender_host_address} \\\n" +
  "       helo_name=${quote:$sender_helo_name} sasl_username=${quote:$authenticated_id} \\\n" +
  "       recipient_count=$recipients_count size=$message_size queue_id=$message_exim_id \\\n" +
  "       instance=${quote:$acl_m_mpd_instance} subject=${quote:${length_400:$rh_subject:}}";

const NO_ANSWER = `  warn
    condition   = \${if eq{\${extract{fallback}{$acl_m_mpd}}}{yes}}
    log_message = mailpolicyd: no answer, accepting (fail-open)
  warn
    condition   = \${if !inlist{\${extract{action}{$acl_m_mpd}}}{accept:defer:reject:warn}}
    log_message = mailpolicyd: unexpected answer, accepting (fail-open): \${length_100:$acl_m_mpd}
`;

const WARN_AND_HEADER = `  warn
    condition   = \${if eq{\${extract{action}{$acl_m_mpd}}}{warn}}
    log_message = mailpolicyd: \${extract{message}{$acl_m_mpd}}
  # Header lines come with any answer that lets the mail through: a limit's warning, SPF's Received-SPF.
  warn
    condition   = \${if !eq{\${extract{header}{$acl_m_mpd}}}{}}
    add_header  = \${extract{header}{$acl_m_mpd}}
`;

const VERDICT = `${NO_ANSWER}  defer
    condition   = \${if eq{\${extract{action}{$acl_m_mpd}}}{defer}}
    message     = \${extract{message}{$acl_m_mpd}}
    log_message = mailpolicyd: deferred by rule \${extract{rule}{$acl_m_mpd}}: \${extract{count}{$acl_m_mpd}}/\${extract{limit}{$acl_m_mpd}}
  deny
    condition   = \${if eq{\${extract{action}{$acl_m_mpd}}}{reject}}
    message     = \${extract{message}{$acl_m_mpd}}
    log_message = mailpolicyd: rejected by rule \${extract{rule}{$acl_m_mpd}}: \${extract{count}{$acl_m_mpd}}/\${extract{limit}{$acl_m_mpd}}
${WARN_AND_HEADER}`;

// local_user: the login that called sendmail. A script can set any sender with -f, not its login.
// recipients: up to 10, at most 1000 bytes, so that the daemon knows its own alert (policy/own-alert.ts)
// and a request stays well under the policy socket's 4 KB: a cut list is no alert's.
const LOCAL_REQUEST = "local sender=${quote:$sender_address} local_user=${quote:$sender_ident} \\\n" +
  "       recipient_count=$recipients_count size=$message_size queue_id=$message_exim_id \\\n" +
  "       recipients=${quote:${length_1000:${if <={$recipients_count}{10}{$recipients}}}} \\\n" +
  "       subject=${quote:${length_400:$rh_subject:}}";

// A message submitted on this host without SMTP is never refused: the program that handed it to sendmail
// (a web application, cron) has nobody to tell. Over a limit it is frozen in the queue instead, where
// it waits for the postmaster, told by the alert, to release (exim -Mt) or remove (exim -Mrm) it (until
// timeout_frozen_after: Debian's is 7 days, docs/exim.md).
// no_tell: Exim would otherwise mail freeze_tell (Debian: postmaster) about every message it freezes, a
// notice per message of a spam run; the daemon's alert is the one notice.
const LOCAL_VERDICT = `${NO_ANSWER}  warn
    condition   = \${if inlist{\${extract{action}{$acl_m_mpd}}}{defer:reject}}
    control     = freeze/no_tell
    log_message = mailpolicyd: frozen by rule \${extract{rule}{$acl_m_mpd}}: \${extract{count}{$acl_m_mpd}}/\${extract{limit}{$acl_m_mpd}} (exim -Mt to release)
${WARN_AND_HEADER}`;

/**
 * The wrapper Exim's acl_smtp_rcpt / acl_smtp_data names: the site's own ACL first, then, for what it
 * accepts, mailpolicyd's (`ask`, a named ACL or an ACL file). One `accept` with `endpass` keeps every
 * verdict of the site's ACL its own: its deny (with its message), defer and drop end the wrapper as they
 * are, and its discard stays a discard. (`require acl =` made a nested discard an error, a 451 for every
 * message the site meant to drop silently: Exim allows a nested discard only under accept or discard.)
 * mailpolicyd's ACL then accepts, defers or denies the wrapper in turn.
 */
function wrapperStatements(siteAcl: string, ask: string, what: "recipients" | "messages"): string {
  // At DATA the limits counted at RCPT (the default stage) have counted the message already: only those
  // counted at DATA are spared what the site refuses there.
  const comment = what === "recipients"
    ? `  # The site's own checks first: recipients it refuses use up no allowance, and what it discards stays
  # discarded. What it accepts goes on to mailpolicyd (${ask}).`
    : `  # The site's own checks first: what it discards stays discarded, and messages it refuses use up no
  # allowance of the limits counted at DATA (those counted at RCPT, the default, have counted them
  # already). What it accepts goes on to mailpolicyd (${ask}).`;
  return `${comment}
  accept
    endpass
    acl         = ${siteAcl}
    acl         = ${ask}
`;
}

// Mail submitted on this host over SMTP on stdin (sendmail -bs, the default of Symfony Mailer's and
// SwiftMailer's sendmail transports) runs the SMTP ACLs, with no client address: it is asked about once, at
// DATA, as mail handed to sendmail is (localStatements: its login, frozen over a limit, never refused).
const SUBMITTED_HERE = "${if !def:sender_host_address}";

/** mailpolicyd's RCPT statements, run once the site's own RCPT ACL has accepted the recipient. */
function rcptStatements(address: string): string {
  return `  # Mail submitted on this host with sendmail -bs (no client address) is asked about at DATA.
  accept
    condition   = ${SUBMITTED_HERE}
  # One id per message, so limits counted per message count it once across its recipients.
  warn
    set acl_m_mpd_instance = \${if def:acl_m_mpd_instance {$acl_m_mpd_instance}{$tod_epoch_l.$pid}}
${ask(address, RCPT_REQUEST, "2s")}${VERDICT}  accept
`;
}

/**
 * acl_not_smtp: mail handed to sendmail (PHP's mail(), cron) is asked about once, with its recipient count;
 * the limits counted at mail, rcpt or data count it (limit-key.ts, stage local). Exim has no such ACL of
 * its own by default (neither its exim.conf nor Debian's templates set acl_not_smtp), so no wrapper.
 */
function localStatements(address: string): string {
  return `  # Mail submitted on this host without SMTP (sendmail, PHP's mail(), cron): over a limit it is
  # frozen in the queue, never refused (exim -Mt releases it, exim -Mrm removes it). Exim hands its own
  # bounces and delay warnings to itself the same way, as its own user: those are not asked about.
  accept
    condition   = \${if eq{$originator_uid}{$exim_uid}}
  warn
${ask(address, LOCAL_REQUEST, "2s")}${LOCAL_VERDICT}  accept
`;
}

/** `localAcl`: the name or file of the variant's acl_not_smtp ACL (localStatements). */
function dataStatements(address: string, spamd: string | undefined, localAcl: string): string {
  return `  # Mail submitted on this host with sendmail -bs: counted as sendmail mail is, frozen over a limit.
  accept
    condition   = ${SUBMITTED_HERE}
    acl         = ${localAcl}
  warn
${ask(address, DATA_REQUEST, "2s:cache=yes")}${VERDICT}${spamd ? SPAMD_STATEMENTS : ""}  accept
`;
}

/** The two wrappers, mailpolicyd's two named ACLs and its acl_not_smtp, for a config file's ACL section. */
function namedAcls(address: string, spamd: string | undefined): string {
  return `acl_mailpolicyd_rcpt:\n${
    wrapperStatements("acl_check_rcpt", "acl_mailpolicyd_rcpt_ask", "recipients")
  }\nacl_mailpolicyd_rcpt_ask:\n${rcptStatements(address)}` +
    `\nacl_mailpolicyd_data:\n${
      wrapperStatements("acl_check_data", "acl_mailpolicyd_data_ask", "messages")
    }` +
    `\nacl_mailpolicyd_data_ask:\n${dataStatements(address, spamd, "acl_mailpolicyd_not_smtp")}` +
    `\nacl_mailpolicyd_not_smtp:\n${localStatements(address)}`;
}

const notSmtpComment = (acl: string) =>
  "# Mail handed to sendmail (PHP's mail(), cron) is counted too, and frozen over a limit.\n" +
  `# If your config already sets acl_not_smtp, add \`acl = ${acl}\` to that ACL instead.\n`;

const HEADER = (what: string) =>
  `# mailpolicyd — ${what}\n# Generated by \`mailpolicyd exim-snippet\`; see /usr/share/doc/mailpolicyd/exim.md.\n` +
  `# Without an answer from the daemon (stopped, 2 s timeout) mail is accepted and the event logged\n` +
  `# (fail-open). For fail-closed, replace the fallback "${FALLBACK}" with\n` +
  `# "action=defer message=\\"policy service unavailable\\" fallback=yes".\n`;

/**
 * The files of one variant; `address` is Exim's readsocket spec of the policy listener (eximAddress),
 * `confdir` is where Debian's Exim config lives (tests use a copy), `spamd` the spamd_address of the
 * spamd front (spamd-snippet.ts) when the config has [spamd]: the DATA ACL then scans with `spam =`.
 */
export function eximSnippet(
  variant: SnippetVariant,
  address = DEFAULT_POLICY_ADDRESS,
  confdir = "/etc/exim4",
  spamd?: string,
): SnippetFile[] {
  const spamdMain = spamd ? spamdMainLines(spamd) : "";
  switch (variant) {
    case "debian-split":
      return [
        {
          path: `${confdir}/conf.d/main/01_mailpolicyd`,
          content: `${HEADER("Debian split config, main section")}` +
            `# Debian's acl_check_rcpt accepts relayed and authenticated senders before its local hook, so\n` +
            `# mailpolicyd wraps the whole ACL instead of hooking into it.\n` +
            `MAILPOLICYD_ADDRESS = ${address}\nMAIN_ACL_CHECK_RCPT = acl_mailpolicyd_rcpt\n` +
            `MAIN_ACL_CHECK_DATA = acl_mailpolicyd_data\n${
              notSmtpComment("acl_mailpolicyd_not_smtp")
            }acl_not_smtp = acl_mailpolicyd_not_smtp\n${spamdMain}`,
        },
        {
          path: `${confdir}/conf.d/acl/50_mailpolicyd`,
          content: `${HEADER("Debian split config, ACL section")}\n${
            namedAcls("MAILPOLICYD_ADDRESS", spamd)
          }`,
        },
      ];
    case "debian-unsplit":
      // The unsplit template has no ACL hook we can add a named ACL with, but acl_smtp_rcpt may name a
      // file holding an ACL; macros are not expanded in such files, hence the literal address. Each
      // mailpolicyd part comes before the wrapper that reads it: exim-setup writes them in this order, so
      // a running Exim never finds a wrapper whose part is not there yet.
      return [
        {
          path: `${confdir}/exim4.conf.localmacros`,
          content: `${HEADER("Debian unsplit config: add these lines")}` +
            `MAIN_ACL_CHECK_RCPT = ${confdir}/mailpolicyd_rcpt.acl\n` +
            `MAIN_ACL_CHECK_DATA = ${confdir}/mailpolicyd_data.acl\n` +
            `${
              notSmtpComment(`${confdir}/mailpolicyd_not_smtp.acl`)
            }acl_not_smtp = ${confdir}/mailpolicyd_not_smtp.acl\n${spamdMain}`,
        },
        {
          path: `${confdir}/mailpolicyd_rcpt_ask.acl`,
          content: `${HEADER("RCPT ACL, mailpolicyd's part (read by Exim at run time)")}${
            rcptStatements(address)
          }`,
        },
        {
          path: `${confdir}/mailpolicyd_rcpt.acl`,
          content: `${HEADER("RCPT ACL (read by Exim at run time)")}${
            wrapperStatements("acl_check_rcpt", `${confdir}/mailpolicyd_rcpt_ask.acl`, "recipients")
          }`,
        },
        {
          path: `${confdir}/mailpolicyd_data_ask.acl`,
          content: `${HEADER("DATA ACL, mailpolicyd's part (read by Exim at run time)")}${
            dataStatements(address, spamd, `${confdir}/mailpolicyd_not_smtp.acl`)
          }`,
        },
        {
          path: `${confdir}/mailpolicyd_data.acl`,
          content: `${HEADER("DATA ACL (read by Exim at run time)")}${
            wrapperStatements("acl_check_data", `${confdir}/mailpolicyd_data_ask.acl`, "messages")
          }`,
        },
        {
          path: `${confdir}/mailpolicyd_not_smtp.acl`,
          content: `${HEADER("non-SMTP ACL: mail submitted on this host (read by Exim at run time)")}${
            localStatements(address)
          }`,
        },
      ];
    case "plain":
      return [
        {
          path: "exim.conf: main section",
          content: `${HEADER("plain exim.conf, main section")}` +
            `# Point the RCPT and DATA ACLs at the wrappers; they call your own ACLs (renamed below to\n` +
            `# acl_check_rcpt / acl_check_data if yours are called differently).\n` +
            `MAILPOLICYD_ADDRESS = ${address}\nacl_smtp_rcpt = acl_mailpolicyd_rcpt\nacl_smtp_data = acl_mailpolicyd_data\n` +
            `${
              notSmtpComment("acl_mailpolicyd_not_smtp")
            }acl_not_smtp = acl_mailpolicyd_not_smtp\n${spamdMain}`,
        },
        {
          path: "exim.conf: after `begin acl`",
          content: namedAcls("MAILPOLICYD_ADDRESS", spamd),
        },
      ];
  }
}

/** `mailpolicyd exim-snippet` output: every file with a `# ==> path <==` banner. */
export function formatSnippet(files: SnippetFile[]): string {
  return files.map((file) => `# ==> ${file.path} <==\n${file.content}`).join("\n");
}

/** The classic daemons' one-token request, for a drop-in replacement of the Twisted daemons. */
export function legacySnippet(address = DEFAULT_POLICY_ADDRESS): string {
  return `# mailpolicyd: drop-in for the classic sender_warn daemon (one-token form, the [thresholds] limit).
# In an ACL that sees outbound mail (on Debian, see the debian-split snippet: Debian's acl_check_rcpt
# accepts relayed and authenticated senders before its local hook). The classic one-line
#   condition = \${readsocket{${address}}{$sender_address\\n}{5s}{}{no}}
# works too; this form also logs when the daemon does not answer. Without an answer mail flows
# (fail-open); to defer instead (fail-closed), add a defer statement on the fallback value.

  warn
    hosts       = +relay_from_hosts
    set acl_m_mpd = \${readsocket{${address}}{$sender_address\\n}{5s}{}{fallback}}
  warn
    condition   = \${if eq{$acl_m_mpd}{fallback}}
    log_message = mailpolicyd: no answer, accepting (fail-open)
  warn
    condition   = \${if and{{def:acl_m_mpd}{!inlist{$acl_m_mpd}{yes:no:fallback}}}}
    log_message = mailpolicyd: unexpected answer, accepting (fail-open): \${length_100:$acl_m_mpd}
  warn
    condition   = \${if eq{$acl_m_mpd}{yes}}
    log_message = mailpolicyd: $sender_address over its sending limit
`;
}
