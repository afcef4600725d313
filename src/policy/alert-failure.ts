// What the alerter does with an alert mail that failed: retry it later or give up on it ("park" it). The
// rule exists because retrying everything forever let one mail that the relay refused for good (554) sit at
// the head of the queue and hold back every later alert. Pure: the alerter acts on the answer.

export type FailureKind = "permanent" | "temporary";

// sysexits.h codes a sendmail binary uses for "this message or recipient will never go": EX_DATAERR,
// EX_NOUSER, EX_NOHOST. Every other exit (EX_TEMPFAIL 75, a missing binary, a crash) may pass.
const SENDMAIL_PERMANENT = new Set([65, 67, 68]);

interface MailError {
  responseCode?: unknown;
  cannotCompose?: unknown;
  message?: unknown;
  /** The relay's reply, as nodemailer keeps it beside the message. */
  response?: unknown;
}

const mailErrorOf = (error: unknown) =>
  (typeof error === "object" && error !== null ? error : {}) as MailError;

/**
 * Permanent: an SMTP reply 5xx (RFC 5321's permanent negative completion; 503 "bad sequence" excepted, as
 * nodemailer does: a new connection may pass), a sendmail exit status saying the message or recipient is
 * bad, or a notice that cannot be made into a mail at all (a malformed entry). Everything else (4xx, no
 * connection, a timeout, TLS, sendmail's EX_TEMPFAIL) is temporary.
 */
export function failureKind(error: unknown): FailureKind {
  const mailError = mailErrorOf(error);
  if (mailError.cannotCompose === true) return "permanent";
  const code = mailError.responseCode;
  if (typeof code === "number" && code >= 500 && code < 600 && code !== 503) return "permanent";
  const exit = /^Sendmail exited with code (\d+)/.exec(String(mailError.message ?? ""));
  if (exit && SENDMAIL_PERMANENT.has(Number(exit[1]))) return "permanent";
  return "temporary";
}

/**
 * True when the relay refused the mail for want of a login: RFC 4954's `530 5.7.0 Authentication required`
 * at MAIL FROM, worded as each relay does ("530 Error: authentication Required", "530 5.7.57 Client was not
 * authenticated"), or another 5xx that says "authentication required". Not "530 5.7.0 Must issue a STARTTLS
 * command first": the same code, another want.
 */
export function relayWantsLogin(error: unknown): boolean {
  const mailError = mailErrorOf(error);
  const code = mailError.responseCode;
  if (typeof code !== "number" || code < 500 || code >= 600) return false;
  const reply = String(mailError.response ?? mailError.message ?? "");
  return code === 530 ? /authenticat/i.test(reply) : /authentication required/i.test(reply);
}

/**
 * After a failure: "park" (give up: logged, counted, listed in status, out of the queue) when it is
 * permanent or when the alert is older than `retryForMs` (counted from the moment its key crossed, so a
 * relay down for longer than that does not deliver stale alerts days later), otherwise "retry".
 */
export function afterFailure(
  kind: FailureKind,
  crossedAt: number,
  now: number,
  retryForMs: number,
): "park" | "retry" {
  return kind === "permanent" || !(now - crossedAt < retryForMs) ? "park" : "retry";
}
