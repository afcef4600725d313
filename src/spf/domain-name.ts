// Domain-name rules of RFC 7208: which identities are checked at all (§4.3), how a domain-spec must end
// before expansion (§4.6.1, §7.1), and what an expanded target may be queried as (§4.8, §7.3).

const LABEL_MAX = 63;
const NAME_MAX = 253;
// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ): not all
// digits, no leading or trailing dash. One greedy pattern, so "xn--zckzah" is not cut short.
const TOPLABEL = /^(?:[0-9a-z]*[a-z][0-9a-z]*|[0-9a-z]+-[0-9a-z-]*[0-9a-z])$/i;
// A domain-spec may end in a macro-expand instead: "%{d}", "%%", "%_", "%-".
const ENDS_IN_MACRO = /%(?:%|_|-|\{[^}]*\})$/;

/**
 * Whether an unexpanded domain-spec ends in "." toplabel [ "." ] or in a macro, as the ABNF demands.
 * Checked before expansion only: what a macro expands to is never a syntax error (the suite's
 * invalid-hello-macro, hello-domain-literal).
 */
export function hasValidDomainEnd(spec: string): boolean {
  if (ENDS_IN_MACRO.test(spec)) return true;
  const name = spec.endsWith(".") ? spec.slice(0, -1) : spec;
  const dot = name.lastIndexOf(".");
  return dot > 0 && TOPLABEL.test(name.slice(dot + 1));
}

function withoutFinalDot(name: string): string {
  return name.endsWith(".") ? name.slice(0, -1) : name;
}

/**
 * The domain of an identity, or of an include/redirect target, when check_host() can evaluate it: a
 * multi-label name with labels of 1..63 octets, 253 in all, printable, ending in a real top label; else
 * undefined, which §4.3 turns into "none" (domain literals such as "[192.0.2.1]" included).
 */
export function checkableDomain(text: string): string | undefined {
  // Every check asks this of the same few names (the senders' domains, their includes): remembered, in a
  // bounded map emptied when full.
  const known = checkedDomains.get(text);
  if (known !== undefined) return known === NOT_CHECKABLE ? undefined : known;
  const checked = checkDomain(text);
  if (checkedDomains.size >= CHECKED_DOMAINS_MAX) checkedDomains.clear();
  checkedDomains.set(text, checked ?? NOT_CHECKABLE);
  return checked;
}

const CHECKED_DOMAINS_MAX = 4096;
const NOT_CHECKABLE = Symbol("not checkable");
const checkedDomains = new Map<string, string | typeof NOT_CHECKABLE>();

function checkDomain(text: string): string | undefined {
  const name = withoutFinalDot(text);
  if (name.length === 0 || name.length > NAME_MAX) return undefined;
  if (!/^[\x21-\x7e]+$/.test(name) || name.startsWith("[")) return undefined;
  const labels = name.split(".");
  if (labels.length < 2) return undefined;
  for (const label of labels) if (label.length === 0 || label.length > LABEL_MAX) return undefined;
  return TOPLABEL.test(labels[labels.length - 1]) ? name : undefined;
}

/**
 * A macro-expanded name as it is queried (§7.3, for every domain-spec: a, mx, ptr, exists, include,
 * redirect, exp): without a final dot, and over 253 octets cut from the left, label by label, to fit.
 * Undefined when no label boundary leaves it within 253 octets.
 */
export function truncatedName(expanded: string): string | undefined {
  let name = withoutFinalDot(expanded);
  while (octets(name) > NAME_MAX) {
    const dot = name.indexOf(".");
    if (dot < 0) return undefined;
    name = name.slice(dot + 1);
  }
  return name;
}

/**
 * An expanded target as it is queried (`truncatedName`). Undefined when no DNS query can be composed
 * from it (an empty label, or one over 63 octets): the mechanism then simply does not match, as for a
 * name that does not exist (the suite allows fail or permerror; a non-match cannot be turned against the
 * sender by whoever sets the macro's input).
 */
export function queryableName(expanded: string): string | undefined {
  const name = truncatedName(expanded);
  if (!name) return undefined;
  for (const label of name.split(".")) if (label.length === 0 || octets(label) > LABEL_MAX) return undefined;
  return name;
}

/**
 * The UTF-8 octets of `text`, as the DNS client writes it: a macro's value (the sender's local-part, the
 * HELO name) may hold non-ASCII characters, which take two to four octets each.
 */
function octets(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) count += 1;
    else if (code >= 0xd800 && code <= 0xdbff) {
      count += 2; // a surrogate pair: two units, four octets
      i++;
    } else count += 2;
  }
  return count;
}

/** Whether `name` is `domain` or one of its subdomains, ignoring case and a final dot. */
export function isWithinDomain(name: string, domain: string): boolean {
  const n = withoutFinalDot(name).toLowerCase();
  const d = withoutFinalDot(domain).toLowerCase();
  return n === d || n.endsWith(`.${d}`);
}
