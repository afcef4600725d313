// Which of a limit's exemptions it can honour. A limit keyed by the calling login (local_user) holds a site
// that hands mail to sendmail with any sender: Debian's Exim lets every local user set it (`sendmail -f`,
// `untrusted_set_sender = *`). A sender or sender-domain exemption there was an exit for every login (a
// compromised www-data sent as the trusted application's noreply@, uncounted), so such a limit drops those
// items and the config check warns at their line; the login itself (local_user:NAME) may be exempted.
// Pure: the limit's key and exemptions in, what it keeps and what it dropped out (docs/decisions.md,
// "Exemptions matched on what a limit counts").
import type { Exemptions, KeyPart } from "../model/limit.ts";

/** The limit counts a login that chooses its own sender: local_user, and neither sender nor its domain. */
export function loginChoosesSender(key: readonly KeyPart[]): boolean {
  return key.some((part) => part.kind === "local_user") &&
    !key.some((part) => part.kind === "sender" || part.kind === "sender_domain");
}

/** The exemptions the limit honours, and the sender items it dropped as written ("@example.net"). */
export function honouredExemptions(
  key: readonly KeyPart[],
  exempt: Exemptions,
): { exempt: Exemptions; dropped: string[] } {
  if (!loginChoosesSender(key) || (exempt.senders.size === 0 && exempt.domains.length === 0)) {
    return { exempt, dropped: [] };
  }
  const dropped = [...exempt.senders, ...exempt.domains.map((domain) => `@${domain}`)];
  return { exempt: { ...exempt, senders: new Set(), domains: [] }, dropped };
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
