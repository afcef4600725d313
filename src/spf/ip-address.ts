// Addresses as SPF sees them: the client (an IPv4-mapped IPv6 client is an IPv4 client, RFC 7208 §5),
// the ip4:/ip6: networks of a record, prefix matching, and the address forms macros and PTR names need.
import { type ParsedIp, parseIp } from "../model/ip.ts";

export type { ParsedIp };

/** The client address; undefined when the text is not an IP address. */
export function clientAddress(text: string): ParsedIp | undefined {
  return parseIp(text);
}

/**
 * Whether the dotted quad in `text` (the whole text, or an IPv6 address's IPv4 tail) has a part written with a
 * leading zero ("01.2.3.4", "::ffff:192.0.2.010"). parseIp reads such a part as decimal; inet_aton, ping and
 * many tools read it as octal (010 is 8): an address typed so is ambiguous, and is refused where a person
 * types one (`mailpolicyd spf`), not guessed at.
 */
export function hasLeadingZeroPart(text: string): boolean {
  const quad = text.slice(text.lastIndexOf(":") + 1);
  return quad.includes(".") && /(?:^[\s[]*|\.)0\d/.test(quad);
}

/**
 * Why an address a person typed (`mailpolicyd spf IP`, `check … client_address=IP`) is refused: "" for no
 * address at all, a parenthesised reason for an ambiguous one; undefined when it is an address. A part with
 * a leading zero is refused rather than read as decimal: the check would be of another address than the one
 * meant (octal) and print it as typed in client-ip=.
 */
export function typedAddressProblem(text: string): string | undefined {
  if (!clientAddress(text)) return "";
  if (hasLeadingZeroPart(text)) return " (a part with a leading zero: decimal or octal?)";
  return undefined;
}

// RFC 7208 ip4-network: dotted quad, no leading zeros ("01.2.3.4" is not one).
const IP4_NETWORK = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
// Only hex digits, colons and the dots of an embedded IPv4 tail; parseIp checks the rest.
const IP6_NETWORK = /^[0-9A-Fa-f:.]+$/;

export function parseIp4Network(text: string): Uint8Array | undefined {
  return IP4_NETWORK.test(text) ? parseIp(text)?.bytes : undefined;
}

/** An ip6: network's 16 bytes. "::ffff:1.2.3.4" stays an IPv6 network (it never matches IPv4 clients). */
export function parseIp6Network(text: string): Uint8Array | undefined {
  if (!text.includes(":") || !IP6_NETWORK.test(text)) return undefined;
  const ip = parseIp(text);
  if (!ip) return undefined;
  if (ip.version === 6) return ip.bytes;
  const bytes = new Uint8Array(16);
  bytes[10] = 0xff;
  bytes[11] = 0xff;
  bytes.set(ip.bytes, 12);
  return bytes;
}

/** Whether the first `bits` bits of two same-length addresses agree. */
export function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  if (a.length !== b.length) return false;
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (a[whole] & mask) === (b[whole] & mask);
}

/** Whether an address from an A/AAAA answer and the client share the first `bits` bits. */
export function addressInPrefix(text: string, ip: ParsedIp, bits: number): boolean {
  const other = parseIp(text);
  return other !== undefined && other.version === ip.version && samePrefix(other.bytes, ip.bytes, bits);
}

const HEX = "0123456789ABCDEF";

/** IPv6 as 32 dot-separated nibbles, most significant first: the `%{i}` form. */
function nibbles(bytes: Uint8Array): string[] {
  const out: string[] = [];
  for (const byte of bytes) out.push(HEX[byte >> 4], HEX[byte & 15]);
  return out;
}

/**
 * `%{i}`: dotted quad for IPv4, dotted nibbles for IPv6 (RFC 7208 §7.3). The nibbles are upper-case as
 * in the OpenSPF suite's expected explanations (pyspf's output); DNS names are case-insensitive, so only
 * explanation text can tell.
 */
export function macroAddress(ip: ParsedIp): string {
  return ip.version === 4 ? ip.bytes.join(".") : nibbles(ip.bytes).join(".");
}

/** `%{c}` (exp only): dotted quad, or the RFC 5952 text form of an IPv6 address. */
export function displayAddress(ip: ParsedIp): string {
  if (ip.version === 4) return ip.bytes.join(".");
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((ip.bytes[i] << 8) | ip.bytes[i + 1]);
  // RFC 5952 §4.2: compress the longest run of two or more zero groups, the first one on a tie.
  let bestStart = -1, bestLength = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const text = groups.map((group) => group.toString(16));
  if (bestStart < 0) return text.join(":");
  const head = text.slice(0, bestStart).join(":");
  const tail = text.slice(bestStart + bestLength).join(":");
  return `${head}::${tail}`;
}

/** The name a PTR query for the client asks: "4.3.2.1.in-addr.arpa" or the ip6.arpa nibbles. */
export function reverseName(ip: ParsedIp): string {
  if (ip.version === 4) return `${[...ip.bytes].reverse().join(".")}.in-addr.arpa`;
  return `${nibbles(ip.bytes).reverse().join(".").toLowerCase()}.ip6.arpa`;
}
