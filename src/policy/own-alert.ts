// The daemon's own alert mail is never limited by the daemon. Sent through the local MTA, it is asked
// about like any mail; counted, the alert after `count` others from the same fromAddr would be deferred
// by the very daemon that sends it (and retried, and deferred again, for the whole window).
//
// Recognised narrowly, so that forging it is worth nothing (docs/decisions.md, issue 15): the sender is
// [alerts] fromAddr, the client is this host (a loopback address, or none: a local submission), and at
// RCPT the recipient is one of toAddr/ccAddr, at DATA the message has no more recipients than those (and
// the one Postfix names, with a single recipient, is one of them). A remote client never matches; a local
// one reaches only the alert recipients. Handed to Exim's sendmail (stage local), the alert is known by the
// daemon's own login instead (isOwnSubmission); handed to Postfix's, which names no login, by its
// recipients and its sender, or an alert handed over and not yet seen, since Postfix may rewrite the sender
// (isOwnSenderSubmission). Pure: tested directly.
//
// The same mail is not scanned for spam either (isOwnAlertMessage): it quotes the subjects of the mail
// that made a sender cross a limit, and a spammer's subjects are what SpamAssassin scores.
import { parseIp } from "../model/ip.ts";
import type { MessageEnvelope } from "../model/message.ts";
import { requestSender } from "./limit-key.ts";
import type { PolicyRequest } from "./request.ts";
import type { Attributes } from "../protocols/attributes.ts";

/** The [alerts] settings that say what the alert mail looks like (config's AlertsConfig has them). */
export interface AlertAddresses {
  from: string;
  to: string[];
  cc: string[];
  exemptAlerts: boolean;
}

export interface OwnAlertMail {
  sender: string; // fromAddr, lower case
  recipients: Set<string>; // toAddr and ccAddr, lower case
  login?: string; // the daemon's own login, lower case: who hands `sendmail =` alerts to the MTA
}

/**
 * What the alert mail looks like, or undefined when there is none or exempt_alerts = no. `login`: the
 * user the daemon runs as (the caller passes it: this module does no I/O).
 */
export function ownAlertMail(alerts: AlertAddresses | undefined, login?: string): OwnAlertMail | undefined {
  if (!alerts?.exemptAlerts) return undefined;
  return {
    sender: alerts.from.toLowerCase(),
    recipients: new Set([...alerts.to, ...alerts.cc].map((address) => address.toLowerCase())),
    login: login?.toLowerCase(),
  };
}

function fromThisHost(clientAddress: string | undefined): boolean {
  if (clientAddress === undefined || clientAddress.trim() === "") return true;
  const ip = parseIp(clientAddress.trim());
  if (!ip) return false;
  // 127.0.0.0/8 (and ::ffff:127.x, which parseIp reads as IPv4), or ::1.
  return ip.version === 4 ? ip.bytes[0] === 127 : ip.bytes.every((byte, i) => byte === (i === 15 ? 1 : 0));
}

/**
 * True when `request` is (a step of) the daemon's own alert mail: no limit counts it. `alertHandedOver`: an
 * alert the daemon handed to sendmail has not been seen yet (the caller keeps the count; see
 * isOwnSenderSubmission).
 */
export function isOwnAlert(
  request: PolicyRequest,
  own: OwnAlertMail | undefined,
  alertHandedOver = false,
): boolean {
  if (own === undefined || request.form !== "attributes") return false;
  const { attributes } = request;
  if (request.stage === "local") {
    return request.localUserIsSender
      ? isOwnSenderSubmission(attributes, own, alertHandedOver)
      : isOwnSubmission(attributes, own);
  }
  if (requestSender(attributes) !== own.sender || !fromThisHost(attributes.client_address)) return false;
  switch (request.stage) {
    case "rcpt":
      return own.recipients.has(attributes.recipient?.trim().toLowerCase() ?? "");
    case "data":
      return toAlertRecipientsOnly(attributes, own) && namedRecipientIsAlert(attributes, own);
    case "mail":
      return true;
    default: // connect, helo: no sender yet
      return false;
  }
}

/**
 * At DATA the recipient named, if any, is an alert recipient. Postfix names it at DATA and END-OF-MESSAGE
 * when the message has exactly one (smtpd_check.c); Exim's DATA request names none. Without this, mail
 * from this host that forged fromAddr to any one recipient was not counted by a `data` limit (a real
 * Postfix 3.7: test/integration/postfix-own-alert.test.ts).
 */
function namedRecipientIsAlert(attributes: Attributes, own: OwnAlertMail): boolean {
  const named = attributes.recipient?.trim().toLowerCase();
  return named === undefined || named === "" || own.recipients.has(named);
}

function toAlertRecipientsOnly(attributes: Attributes, own: OwnAlertMail): boolean {
  const recipients = Number(attributes.recipient_count);
  return Number.isInteger(recipients) && recipients >= 1 && recipients <= own.recipients.size;
}

/**
 * The alert handed to sendmail (`[alerts] sendmail =`, Exim's acl_not_smtp) is known by who handed it over,
 * the daemon's own login, which no other local user can claim (Exim sets it from the caller's uid; only
 * trusted callers can name another), and by its recipients, all alert recipients. Not by its sender: Exim
 * ignores `-f fromAddr` from an untrusted caller such as the packaged daemon's user, while any local user
 * whom Exim lets set a sender could name fromAddr.
 */
function isOwnSubmission(attributes: Attributes, own: OwnAlertMail): boolean {
  const login = attributes.local_user?.trim().toLowerCase();
  return own.login !== undefined && login === own.login && toAlertRecipientsListed(attributes, own);
}

/**
 * The alert handed to Postfix's sendmail (its milter, which is told no login): to alert recipients only,
 * every one listed, and sent by fromAddr (the daemon's `-f`) or while an alert the daemon handed over is
 * unseen. The milter sees the sender after cleanup's sender_canonical_maps, canonical_maps and
 * masquerade_domains (`root@host` made `postmaster@domain`), so fromAddr alone missed the alert there and
 * counted it (tested with the real Postfix). Any local user may name fromAddr with `-f` (unless
 * local_login_sender_maps forbids it), or send to the alert recipients while an alert is on its way, but
 * such mail is uncounted only when it reaches nobody but the alert recipients, who would be alerted about
 * it anyway, and the second way leaves one message uncounted per alert: forging it is worth nothing.
 */
function isOwnSenderSubmission(attributes: Attributes, own: OwnAlertMail, alertHandedOver: boolean): boolean {
  return (alertHandedOver || requestSender(attributes) === own.sender) &&
    toAlertRecipientsListed(attributes, own);
}

/** True when a request is asked the way isOwnSenderSubmission recognises an alert (Postfix's milter). */
export function isSenderSubmission(request: PolicyRequest): boolean {
  return request.form === "attributes" && request.stage === "local" && request.localUserIsSender === true;
}

/** Every recipient listed by name (up to 10), and each an alert recipient. */
function toAlertRecipientsListed(attributes: Attributes, own: OwnAlertMail): boolean {
  if (!toAlertRecipientsOnly(attributes, own)) return false;
  const recipients = (attributes.recipients ?? "").split(",").map((address) => address.trim().toLowerCase());
  return recipients.length === Number(attributes.recipient_count) &&
    recipients.every((address) => own.recipients.has(address));
}

/**
 * True when a whole message (the spamd front's request) is the daemon's own alert mail: sent by fromAddr
 * from a loopback client, to alert recipients only. The client address must be there: SpamAssassin's
 * protocol (Exim's spamd_address without variant=rspamd) does not carry it, and a message whose client is
 * unknown may come from anywhere.
 */
export function isOwnAlertMessage(envelope: MessageEnvelope, own: OwnAlertMail | undefined): boolean {
  const client = envelope.clientAddress?.trim();
  if (own === undefined || !client || !fromThisHost(client)) return false;
  if (envelope.sender.trim().toLowerCase() !== own.sender || envelope.recipients.length === 0) return false;
  return envelope.recipients.every((recipient) => own.recipients.has(recipient.trim().toLowerCase()));
}
