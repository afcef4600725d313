// Converters for [limit NAME] values whose syntax is ours: the key expression and the exemption list.
import * as v from "valibot";
import { parseCidr } from "../model/ip.ts";
import {
  type Exemptions,
  KEY_KINDS,
  type KeyKind,
  type KeyPart,
  LOGIN_KINDS,
  type LoginKind,
  noExemptions,
} from "../model/limit.ts";

function isKeyKind(text: string): text is KeyKind {
  return KEY_KINDS.some((kind) => kind === text);
}

function isLoginKind(text: string): text is LoginKind {
  return LOGIN_KINDS.some((kind) => kind === text);
}

/**
 * A schema step that runs `parse` on the string: its result, or the text it returns as the issue. (A
 * v.check after a transform cannot narrow the type, so the old pipes cast the result afterwards.)
 */
export const parsedBy = <T>(parse: (text: string) => T | string) =>
  v.rawTransform<string, T>(({ dataset, addIssue, NEVER }) => {
    const result = parse(dataset.value);
    if (typeof result !== "string") return result;
    addIssue({ message: result });
    return NEVER;
  });

/** "sender", "client_address/24", "client_address/24/64", "sasl_username+client_address/24". */
export function parseKeyExpression(text: string): KeyPart[] | string {
  const parts: KeyPart[] = [];
  for (const raw of text.split("+").map((part) => part.trim().toLowerCase())) {
    const [kind, ...prefixes] = raw.split("/");
    if (!isKeyKind(kind)) {
      return `unknown key '${kind}' (known: ${KEY_KINDS.join(", ")}; join several with +)`;
    }
    if (prefixes.length > 0 && kind !== "client_address") return `only client_address takes a /prefix`;
    if (prefixes.length > 2 || prefixes.some((p) => !/^\d+$/.test(p))) {
      return `expected client_address/N (N up to 32: IPv4 prefix; 33-128: IPv6 prefix) or client_address/V4/V6`;
    }
    const [first, second] = prefixes.map(Number);
    const part: KeyPart = { kind };
    if (first !== undefined) {
      // One number: an IPv4 prefix (IPv6 then uses /64), or an IPv6 one when it is over 32.
      if (second === undefined && first > 32) part.v6Prefix = first;
      else part.v4Prefix = first;
      if (second !== undefined) part.v6Prefix = second;
      part.v6Prefix ??= 64;
      part.v4Prefix ??= 32;
      if (part.v4Prefix > 32 || part.v6Prefix > 128) return `prefix too long`;
    }
    if (parts.some((existing) => existing.kind === part.kind)) return `key '${kind}' given twice`;
    parts.push(part);
  }
  return parts;
}

export const keyExpression = v.pipe(v.string(), parsedBy(parseKeyExpression));

const DOMAIN = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

// `local_user:www-data`, `sasl_username:alice` (on Postfix a local_user is an address: docs/postfix.md). An
// IPv6 network may read the same (`face:b00c::/32`), so an item shaped like a network is one; any other
// word before the colon leaves the item to the other forms (a local part may hold a colon).
const LOGIN_ITEM = /^([a-z_]+):(.+)$/;
const NETWORK_SHAPED = /^[0-9a-f:.]+(?:\/\d+)?$/;
const NOT_AN_ITEM =
  "is not an address, a domain, a network nor a login (local_user:NAME, sasl_username:NAME)";

/** "boss@example.org, @example.net, example.com, 192.0.2.0/24, 2001:db8::/32, local_user:app" */
export function parseExemptions(text: string): Exemptions | string {
  const exempt = noExemptions();
  for (const item of text.split(/[,\s]+/).map((part) => part.trim().toLowerCase()).filter(Boolean)) {
    const networkShaped = NETWORK_SHAPED.test(item) && /[.:]/.test(item);
    const cidr = networkShaped ? parseCidr(item) : undefined;
    const login = networkShaped ? null : LOGIN_ITEM.exec(item);
    if (cidr) exempt.cidrs.push(cidr);
    else if (login && isLoginKind(login[1])) {
      (login[1] === "local_user" ? exempt.localUsers : exempt.saslUsernames).add(login[2]);
    } else if (item.startsWith("@") && DOMAIN.test(item.slice(1))) exempt.domains.push(item.slice(1));
    else if (item.indexOf("@") > 0 && DOMAIN.test(item.slice(item.lastIndexOf("@") + 1))) {
      exempt.senders.add(item);
    } else if (DOMAIN.test(item) && !/^[\d.]+$/.test(item)) exempt.domains.push(item);
    else return `'${item}' ${NOT_AN_ITEM}`;
  }
  return exempt;
}

export const exemptionList = v.pipe(v.string(), parsedBy(parseExemptions));
