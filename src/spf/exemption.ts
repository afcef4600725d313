// Which requests the SPF concern leaves alone: [spf] exempt (client networks such as relay hosts, and
// authenticated clients) and exempt_domains (sender domains, subdomains included). Pure.
import { cidrContains, parseIp } from "../model/ip.ts";
import type { SpfPolicy } from "../model/spf.ts";

export interface SpfRequestParts {
  clientAddress?: string;
  sender?: string;
  saslUsername?: string;
}

/** Why a request is not checked, or undefined when it is. */
export function spfExemption(policy: SpfPolicy, parts: SpfRequestParts): string | undefined {
  const ip = parts.clientAddress ? parseIp(parts.clientAddress) : undefined;
  // No client address: a local submission (sendmail, exim -bs); SPF has nothing to check.
  if (ip === undefined) return "no client address";
  if (policy.exempt.authenticated && parts.saslUsername) return "authenticated";
  if (policy.exempt.cidrs.some((cidr) => cidrContains(cidr, ip))) return "exempt client";
  const sender = parts.sender ?? "";
  if (sender !== "" && policy.exemptDomains.length > 0) {
    const domain = sender.slice(sender.lastIndexOf("@") + 1).toLowerCase().replace(/\.$/, "");
    const covered = (exempt: string) => domain === exempt || domain.endsWith(`.${exempt}`);
    if (policy.exemptDomains.some(covered)) return "exempt domain";
  }
  return undefined;
}
