// The Exim ACL that asks mailpolicyd before RCPT: at connect, HELO/EHLO or MAIL. The shipped snippets
// (snippets.ts) ask only at RCPT, DATA and for mail handed to sendmail, so a limit (or [spf]) counted at
// one of these stages counts nothing until the site adds this ACL; the config check says so
// (config/unasked-stages.ts) and names it. Printed in docs/exim.md, "Stages before RCPT", and run in a
// real Exim by test/integration/exim-early-stages.test.ts.

/** The stages the snippets do not ask at, and the request they need. */
export type EarlyStage = "connect" | "helo" | "mail";

/** Exim's main option for each stage's ACL. */
export const EXIM_ACL_OPTION: Readonly<Record<EarlyStage, string>> = {
  connect: "acl_smtp_connect",
  helo: "acl_smtp_helo",
  mail: "acl_smtp_mail",
};

// The attributes Exim knows at each stage, in the request form of protocols/readsocket.ts.
const CLIENT = "client_address=${quote:$sender_host_address} client_name=${quote:$sender_host_name}";
const HELO = `${CLIENT} helo_name=\${quote:$sender_helo_name}`;
const REQUEST: Readonly<Record<EarlyStage, string>> = {
  connect: `connect ${CLIENT}`,
  helo: `helo ${HELO}`,
  mail: `mail sender=\${quote:$sender_address} ${HELO} sasl_username=\${quote:$authenticated_id}`,
};

/** The request line Exim sends at `stage`. */
export function earlyStageRequest(stage: EarlyStage): string {
  return REQUEST[stage];
}

/** The ACL's name, as the main option names it. */
export function earlyStageAclName(stage: EarlyStage): string {
  return `acl_mailpolicyd_${stage}`;
}

/**
 * The named ACL asking at `stage` on `address` (Exim's readsocket spec, eximAddress), fail-open as the
 * snippets are. Mail submitted on this host with sendmail -bs has no client address and is asked about
 * at DATA by the snippets: accepted here without asking. At MAIL a site's own acl_smtp_mail (Debian's
 * acl_check_mail) must call this one (`acl = acl_mailpolicyd_mail`) instead of being replaced.
 */
export function earlyStageAcl(stage: EarlyStage, address: string): string {
  return `${earlyStageAclName(stage)}:
  accept
    condition   = \${if !def:sender_host_address}
  warn
    set acl_m_mpd = \${readsocket{${address}}{${REQUEST[stage]}}{2s}{}{action=accept fallback=yes}}
  warn
    condition   = \${if eq{\${extract{fallback}{$acl_m_mpd}}}{yes}}
    log_message = mailpolicyd: no answer at ${stage}, accepting (fail-open)
  defer
    condition   = \${if eq{\${extract{action}{$acl_m_mpd}}}{defer}}
    message     = \${extract{message}{$acl_m_mpd}}
    log_message = mailpolicyd: deferred at ${stage} by rule \${extract{rule}{$acl_m_mpd}}
  deny
    condition   = \${if eq{\${extract{action}{$acl_m_mpd}}}{reject}}
    message     = \${extract{message}{$acl_m_mpd}}
    log_message = mailpolicyd: rejected at ${stage} by rule \${extract{rule}{$acl_m_mpd}}
  accept
`;
}
