// Which of a limit's exemptions it can honour. A sender exempts whoever names it, and whoever a limit counts
// names its own sender: a limit that does not count the sender (or its domain) is escaped by sending as the
// exempt one. A limit keyed by the calling login (local_user) holds a site that hands mail to sendmail with
// any sender: Debian's Exim lets every local user set it (`sendmail -f`, `untrusted_set_sender = *`), and
// nothing ties a login to a sender there, so such a limit drops its sender and domain items (a compromised
// www-data sent as the trusted program's noreply@, uncounted). Over SMTP the MTA may tie logins to senders
// (Postfix's reject_sender_login_mismatch), which the daemon cannot see: there the items stay, warned about.
// The login itself (local_user:NAME, sasl_username:NAME) or a network is what to exempt instead. Pure: the
// limit's key and exemptions in, what it keeps and the warning out (docs/decisions.md, "Exemptions matched on
// what a limit counts").
import type { Exemptions, KeyPart } from "../model/limit.ts";

const countsSender = (key: readonly KeyPart[]) =>
  key.some((part) => part.kind === "sender" || part.kind === "sender_domain");

/** The limit counts the calling login and not the sender: the login chooses its way out. */
export function loginChoosesSender(key: readonly KeyPart[]): boolean {
  return key.some((part) => part.kind === "local_user") && !countsSender(key);
}

/**
 * The exemptions the limit honours, and its sender items as written ("@example.net") that either it dropped
 * (local_user) or whatever it counts may claim (kept).
 */
export function honouredExemptions(
  key: readonly KeyPart[],
  exempt: Exemptions,
): { exempt: Exemptions; dropped: string[]; claimable: string[] } {
  if (countsSender(key) || (exempt.senders.size === 0 && exempt.domains.length === 0)) {
    return { exempt, dropped: [], claimable: [] };
  }
  const items = [...exempt.senders, ...exempt.domains.map((domain) => `@${domain}`)];
  if (!loginChoosesSender(key)) return { exempt, dropped: [], claimable: items };
  return { exempt: { ...exempt, senders: new Set(), domains: [] }, dropped: items, claimable: [] };
}

/** The config check's line for the dropped items: why, and what to write instead. */
export function droppedSenderWarning(
  file: string,
  line: number,
  limitName: string,
  dropped: string[],
): string {
  return `${file}:${line}: limit ${limitName}.exempt: warning: ${dropped.join(", ")}: not exempt from this ` +
    `limit, which counts local_user: any local user may hand mail over as any sender (sendmail -f; ` +
    `Debian's Exim: untrusted_set_sender = *), so a sender exemption would exempt every login; exempt the ` +
    `login that sends as it instead (local_user:NAME)`;
}

/** The config check's line for sender items kept on a limit that does not count the sender. */
export function claimableSenderWarning(
  file: string,
  line: number,
  limitName: string,
  keyText: string,
  claimable: string[],
): string {
  return `${file}:${line}: limit ${limitName}.exempt: warning: ${claimable.join(", ")}: this limit counts ` +
    `${keyText}, not the sender, and a client names its own sender (MAIL FROM), so whatever it counts escapes ` +
    `it by sending as one of these, unless the MTA ties senders to logins (Postfix: ` +
    `reject_sender_login_mismatch); exempt a login (sasl_username:NAME) or a network instead`;
}
