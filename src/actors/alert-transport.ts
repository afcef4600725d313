// How alert mail leaves the host: SMTP to a relay (the local MTA by default) or the local sendmail binary.
// nodemailer runs sendmail with an argument list, never through a shell: the alert carries a sender
// address from the network, and the seed's os.popen of a shell line with it was an injection hole.
// With [alerts] auth_user, it logs in at the relay, never in clear nor to an unchecked relay off loopback
// (model/alert-relay.ts, docs/decisions.md "Alert mail"), and sends nothing without the login
// (alert-login.ts). Each reply of the session has a deadline, so a relay that hangs at a step cannot hold
// the alerts behind it for long (alert-reply-watch.ts).
// nodemailer is loaded with the first alert: loading it took ~30 ms of the daemon's start (docs/decisions.md,
// "Startup").
import { isIP } from "node:net";
import { hostname } from "node:os";
import type { Transporter } from "nodemailer";
import type { AlertsConfig } from "../config/types.ts";
import type { AlertMail } from "../policy/alert-notice.ts";
import { failureKind, relayWantsLogin } from "../policy/alert-failure.ts";
import { NoPasswordMechanism, PASSWORD_MECHANISMS, passwordLogin } from "./alert-login.ts";
import { headerValue } from "../policy/mail-header.ts";
import { relaySecurity } from "../model/alert-relay.ts";
import { readCaFile } from "../store/ca-file.ts";
import { ReplyWatch } from "./alert-reply-watch.ts";
import { SendmailRun } from "./sendmail-run.ts";

/** What became of a mail the relay took: `refused` tells of recipients it refused for good meanwhile. */
export interface AlertSent {
  refused?: string;
}

export type SendAlertMail = (mail: AlertMail) => Promise<AlertSent | void>;

const errorText = (error: unknown) => (error as Error)?.message ?? String(error);

/** A recipient's refusal at RCPT TO, as nodemailer reports it. */
interface RecipientError {
  recipient?: string;
  response?: string;
  message?: string;
  responseCode?: number;
}

/**
 * nodemailer sends the message to the recipients the relay took at RCPT TO and counts it sent: a relay that
 * deferred the postmaster (452, mailbox full for now) while taking a Cc left the postmaster without the
 * alert, for good. A recipient deferred for now is retried (the error names it in `undelivered`, and only
 * it is sent to again); one refused for good is only reported, as a mail refused for good is parked.
 */
function checkRecipients(info: unknown): AlertSent | void {
  // Reported by nodemailer's SMTP transport only (its types leave it out); sendmail takes all or none.
  const rejected = (info as { rejectedErrors?: RecipientError[] } | undefined)?.rejectedErrors ?? [];
  if (rejected.length === 0) return;
  const said = rejected.map((error) => `${error.recipient}: ${error.response ?? error.message}`).join("; ");
  const deferred = rejected.filter((error) => failureKind(error) === "temporary");
  if (deferred.length === 0) return { refused: said };
  throw Object.assign(new Error(`not taken for every recipient: ${said}`), {
    responseCode: deferred[0].responseCode,
    undelivered: deferred.map((error) => String(error.recipient)),
  });
}

/**
 * How long a relay that has greeted may take over a reply: RFC 5321 §4.5.3.2.6's 10 minutes for the reply to
 * the message's end. A relay that scans mail at DATA (an Exim asking spamd) may take longer than
 * smtp_timeout there, and giving up before it answers sent the alert again although the relay had taken it.
 */
export const REPLY_TIMEOUT_MS = 10 * 60_000;

/**
 * The wait for the reply to the message's end, for nodemailer's silent socket, and for a sendmail program's
 * run: smtp_timeout, if longer. Every other reply has smtp_command_timeout (alert-reply-watch.ts).
 */
const replyTimeoutMs = (alerts: AlertsConfig) => Math.max(alerts.smtpTimeoutMs, REPLY_TIMEOUT_MS);

export interface AlertTransportOptions {
  /** How long one run of the sendmail program may take before it is killed; tests shorten it. */
  sendmailDeadlineMs?: number;
}

/**
 * The TLS options of the SMTP session. Unchecked by default: a local MTA usually has a self-signed
 * certificate, and refusing it would mean no alert at all. Checked when credentials go to a relay off
 * loopback (model/alert-relay.ts): against tls_ca_file or the system's CAs, and for the relay's name (an IP
 * address is checked against the certificate's IP entries; as the TLS server name the runtimes refuse it).
 */
function tlsOptions(alerts: AlertsConfig) {
  if (!relaySecurity(alerts).verifyCertificate) return { rejectUnauthorized: false };
  return {
    rejectUnauthorized: true,
    servername: isIP(alerts.smtpHost) === 0 ? alerts.smtpHost : undefined,
    // Read at each attempt: a CA rotated in place is checked against from the next one on. Unreadable, or
    // without a certificate (said as an untrusted relay or, by Bun, "Invalid CA"), the attempt fails for
    // now, saying so; retried.
    ca: alerts.tlsCaFile === undefined ? undefined : readCaFile(alerts.tlsCaFile, "[alerts] tls_ca_file"),
  };
}

async function createTransporter(
  alerts: AlertsConfig,
  plaintext: boolean,
  watch: ReplyWatch,
  run: SendmailRun | undefined,
): Promise<Transporter> {
  const { default: nodemailer } = await import("nodemailer");
  if (alerts.sendmail && run) {
    return run.attach(nodemailer.createTransport({ sendmail: true, path: alerts.sendmail, newline: "unix" }));
  }
  const { tlsRequired } = relaySecurity(alerts);
  return nodemailer.createTransport({
    host: alerts.smtpHost,
    port: alerts.smtpPort,
    secure: false,
    name: hostname(),
    // Connecting, the greeting and a STARTTLS handshake: smtp_timeout in all (nodemailer's deadline).
    connectionTimeout: alerts.smtpTimeoutMs,
    greetingTimeout: alerts.smtpTimeoutMs,
    // Each reply after the greeting: the watch's deadline, the session reported to it as its logger. The
    // socket's own is the last resort, for a relay silent while no reply is awaited (taking the message).
    socketTimeout: replyTimeoutMs(alerts),
    logger: watch.logger,
    transactionLog: true,
    tls: tlsOptions(alerts),
    // PLAIN, else LOGIN, else CRAM-MD5, as the relay offers them; where it offers none, nothing is sent.
    auth: alerts.auth && { user: alerts.auth.user, pass: alerts.auth.password },
    ...(alerts.auth && passwordLogin),
    // With credentials to a relay off loopback, STARTTLS or nothing: the password never goes in clear.
    requireTLS: tlsRequired,
    // Otherwise on in plaintext when the relay answers STARTTLS with an error: Exim that cannot read its
    // certificate still announces STARTTLS and answers it "454 TLS currently unavailable", and every
    // attempt failed there until the alert was parked. Not with a login: nodemailer goes on without the
    // AUTH the relay offered in plaintext, and the alert was not sent (then 530 at MAIL FROM, parked); the
    // STARTTLS error is a failed TLS setup instead, and the mail goes at once on the plaintext connection
    // below, which logs in (at a loopback relay: off loopback, STARTTLS is required).
    opportunisticTLS: !alerts.auth,
    ignoreTLS: plaintext && !tlsRequired,
  });
}

/**
 * True when an attempt failed while setting up TLS after STARTTLS: a handshake the relay broke off (no
 * protocol version or cipher in common), or one that never finished. nodemailer reports these as socket
 * errors; the runtimes' TLS error codes (ERR_SSL_…, also in Bun and Deno) tell them from the others.
 */
function tlsSetupFailed(error: unknown): boolean {
  const { code, originalCode } = (error ?? {}) as { code?: unknown; originalCode?: unknown };
  return code === "ETLS" || /^(ERR_SSL_|ERR_TLS_|UPGRADE_TIMEOUT$)/.test(String(originalCode ?? ""));
}

/**
 * True when the relay's certificate failed the check (tls_verify): an unknown or missing CA, a self-signed
 * certificate, one expired or for another name. The runtimes report these with OpenSSL's verify codes
 * (also Bun and Deno) as socket errors.
 */
function certificateRefused(error: unknown): boolean {
  const { originalCode } = (error ?? {}) as { originalCode?: unknown };
  return /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS_CERT_ALTNAME/.test(String(originalCode ?? ""));
}

/**
 * The error an attempt failed with, said so a postmaster can act on it (the password is in none: nodemailer
 * reports the relay's reply, never the credentials). A login the relay refused names the relay and the user;
 * its reply code stays, so a 535 is refused for good (parked) and a 454 retried; a 421 there is the relay
 * closing the session, said so, and retried. A relay that wants a login none is configured for gets the
 * settings named, one that offers no login the configured one is sent with gets the mechanisms named.
 */
function explained(error: unknown, alerts: AlertsConfig): unknown {
  const relay = `${alerts.smtpHost}:${alerts.smtpPort}`;
  const { code, responseCode } = (error ?? {}) as { code?: unknown; responseCode?: unknown };
  if (error instanceof NoPasswordMechanism && alerts.auth) {
    // No reply code: retried, as the relay may offer AUTH again (an Exim that offers it over TLS only,
    // while its TLS is broken), and parked retry_for after the key crossed.
    const offered = error.offered.length > 0 ? ` (it offers ${error.offered.join(", ")})` : "";
    const wanted = PASSWORD_MECHANISMS.join(", ").replace(/, ([^,]*)$/, " or $1");
    return new Error(
      `${relay} offers no SMTP AUTH mechanism to log in with a password (${wanted})${offered}: ` +
        `the alert is not sent without logging in as ${alerts.auth.user}; retried`,
    );
  }
  if (code === "EAUTH" && responseCode === 421 && alerts.auth) {
    // RFC 5321's "service not available, closing transmission channel", which a relay may answer to any
    // command: it is going away (shutting down, overloaded), and has not judged the login. Said as
    // "authentication failed", it read as a wrong password. The code stays: retried.
    const { command, response } = error as { command?: unknown; response?: unknown };
    const step = /^AUTH [A-Z0-9_-]+$/.test(String(command)) ? String(command) : "AUTH";
    const closing = "the relay is closing the session, the login was not refused; retried";
    return Object.assign(
      new Error(`${relay} answered ${step} with ${String(response)}: ${closing}`),
      { responseCode },
    );
  }
  if (code === "EAUTH" && alerts.auth) {
    return Object.assign(
      new Error(`authentication failed at ${relay} as ${alerts.auth.user}: ${errorText(error)}`),
      { responseCode, code },
    );
  }
  if (!alerts.auth && relayWantsLogin(error)) {
    // The relay's words alone ("530 … authentication required") left the postmaster to guess which
    // setting it wants; the reply code stays: parked until the config has credentials.
    return Object.assign(
      new Error(`${errorText(error)}; ${relay} requires SMTP AUTH: set [alerts] auth_user and auth_password`),
      { responseCode, code },
    );
  }
  if (!relaySecurity(alerts).tlsRequired) return error;
  if (certificateRefused(error)) {
    return new Error(
      `the certificate of ${relay} is not trusted (${errorText(error)}): name its CA with [alerts] ` +
        `tls_ca_file, or set tls_verify = no; no credentials were sent; retried`,
    );
  }
  if (tlsSetupFailed(error)) {
    // No reply code: a relay that answers STARTTLS 502 (not offered) has not refused the alert for good.
    return new Error(
      `no TLS with ${relay} (${errorText(error)}): credentials are never sent in clear to a relay off ` +
        `loopback; retried`,
    );
  }
  return error;
}

export function createAlertTransport(
  alerts: AlertsConfig,
  options: AlertTransportOptions = {},
): SendAlertMail {
  const deadlines = { commandMs: alerts.smtpCommandTimeoutMs, messageEndMs: replyTimeoutMs(alerts) };
  // The sendmail program's deadline is the SMTP path's: a sendmail that speaks SMTP itself may wait as long
  // for the relay's reply.
  const sendmailDeadlineMs = options.sendmailDeadlineMs ?? replyTimeoutMs(alerts);
  // A transporter an attempt: its logger is the attempt's watch, its program the attempt's sendmail run (a
  // transporter is cheap to make; the module is loaded once).
  const send = async (mail: AlertMail, kind: "opportunistic" | "plaintext") => {
    const watch = new ReplyWatch(`${alerts.smtpHost}:${alerts.smtpPort}`, deadlines);
    const run = alerts.sendmail ? new SendmailRun(sendmailDeadlineMs) : undefined;
    try {
      return await sendWith(
        await createTransporter(alerts, kind === "plaintext", watch, run),
        mail,
        watch,
      );
    } catch (error) {
      throw run ? await run.failure(error) : watch.failure(error);
    } finally {
      watch.stop();
    }
  };
  const sendWith = async (transporter: Transporter, mail: AlertMail, watch: ReplyWatch) => {
    const info = await transporter.sendMail({
      from: mail.from,
      to: mail.to,
      cc: mail.cc.length > 0 ? mail.cc : undefined,
      // After a partial delivery, only those still to reach; the headers stay the alert's.
      envelope: mail.envelopeTo ? { from: mail.from, to: mail.envelopeTo } : undefined,
      text: mail.text,
      headers: {
        // Encoded and folded here (policy/mail-header.ts): nodemailer would pass a key that looks like an
        // encoded word through as one, and cannot fold a long key.
        Subject: { prepared: true, value: headerValue("Subject", mail.subject) },
        "Auto-Submitted": "auto-generated",
        "X-Mailer": "mailpolicyd",
      },
      signal: watch.signal,
    });
    return checkRecipients(info);
  };
  return async (mail) => {
    try {
      return await send(mail, "opportunistic");
    } catch (error) {
      if (alerts.sendmail) throw error;
      if (relaySecurity(alerts).tlsRequired || !tlsSetupFailed(error)) throw explained(error, alerts);
      // A TLS session that cannot be set up: the mail goes at once on a new connection in plaintext, as
      // Exim's tls_tempfail_tryclear does; retried over STARTTLS it failed the same way until parked.
      try {
        return await send(mail, "plaintext");
      } catch (unexplained) {
        const plainError = explained(unexplained, alerts);
        // A relay that refuses plaintext (530, STARTTLS first) has not refused the alert: it is retried.
        // A login it refused (535) is the credentials', wherever they were sent: parked.
        // No login offered in plaintext, where the relay may offer one over TLS only (Debian's Exim
        // authenticators): the failed TLS is named first, the cause to fix; retried.
        const refusedLogin = (plainError as { code?: unknown }).code === "EAUTH";
        const noLogin = unexplained instanceof NoPasswordMechanism;
        if ((failureKind(plainError) !== "permanent" || refusedLogin) && !noLogin) throw plainError;
        throw new Error(`${errorText(error)}; in plaintext: ${errorText(plainError)}`);
      }
    }
  };
}
