// How the alert mail logs in at the relay with [alerts] auth_user/auth_password (alert-transport.ts).
// nodemailer logs in only when the relay's EHLO reply lists AUTH and otherwise sends the mail without a
// login: a relay that offered none (at all, after STARTTLS, or in plaintext after a failed STARTTLS) took
// the alert unauthenticated, the configured login silently unused. With its forceAuth it always logs in, but
// then picks PLAIN also when the relay offers no mechanism it can use with a password (none, or only XOAUTH2
// or GSSAPI), and sends the password under a mechanism the relay never offered. So PLAIN, the mechanism it
// falls back to, is done here, and refuses to start where the relay did not offer it; LOGIN and CRAM-MD5
// stay nodemailer's, which it picks only where the relay offers them.
import { Buffer } from "node:buffer";

/** The mechanisms the alert mail logs in with, nodemailer's order of preference. */
export const PASSWORD_MECHANISMS = ["PLAIN", "LOGIN", "CRAM-MD5"];

/** The relay offered none of PASSWORD_MECHANISMS; `offered` lists those it did that nodemailer knows. */
export class NoPasswordMechanism extends Error {
  constructor(readonly offered: string[]) {
    super("no SMTP AUTH mechanism to log in with a password");
  }
}

/** What nodemailer hands a custom login (its customAuth option), as far as it is used here. */
interface LoginContext {
  auth: { credentials: { user: string; pass: string } };
  /** What the relay's last EHLO reply offered of those nodemailer knows: PLAIN, LOGIN, CRAM-MD5, XOAUTH2. */
  authMethods: string[];
  sendCommand(command: string): Promise<{ status: number }>;
}

/**
 * AUTH PLAIN with the initial response (RFC 4616: no authorization identity, as nodemailer sends it), where
 * the relay offers PLAIN; NoPasswordMechanism, before any command, where it does not. A refusal is thrown as
 * nodemailer's own PLAIN throws it: it adds the relay's reply and its code ("Invalid login: 535 …", EAUTH).
 */
async function plainLogin(context: LoginContext): Promise<void> {
  if (!context.authMethods.includes("PLAIN")) throw new NoPasswordMechanism(context.authMethods);
  const { user, pass } = context.auth.credentials;
  const response = Buffer.from(`\u0000${user}\u0000${pass}`, "utf8").toString("base64");
  const reply = await context.sendCommand(`AUTH PLAIN ${response}`); // nodemailer logs it masked
  if (reply.status < 200 || reply.status > 299) throw new Error("Invalid login");
}

/** The nodemailer SMTP options for a login that never falls back to sending without it. */
export const passwordLogin = { forceAuth: true, customAuth: { PLAIN: plainLogin } };
