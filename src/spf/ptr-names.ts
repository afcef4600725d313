// Validated domain names of the client (RFC 7208 §5.5), for the ptr mechanism and the %{p} macro: the
// PTR names of the client's address whose own A/AAAA records lead back to it. At most the first 10 PTR
// names are considered (§4.6.4); a DNS error on one of them skips it, and a failed PTR query means no
// names at all, because the sender does not control the client's reverse zone.
import type { DnsSession } from "./dns-session.ts";
import { isWithinDomain } from "./domain-name.ts";
import { addressInPrefix, type ParsedIp, reverseName } from "./ip-address.ts";

const PTR_NAMES_MAX = 10;

async function resolvesTo(session: DnsSession, name: string, ip: ParsedIp): Promise<boolean> {
  const answer = await session.tryQuery(ip.version === 4 ? "A" : "AAAA", name);
  return answer !== undefined &&
    answer.records.some((address) => addressInPrefix(address, ip, ip.bytes.length * 8));
}

/** The client's PTR names (without a final dot), the first 10; `undefined` when the PTR query failed. */
export async function ptrNames(session: DnsSession, ip: ParsedIp): Promise<string[] | undefined> {
  const answer = await session.tryQuery("PTR", reverseName(ip));
  if (!answer) return undefined;
  return answer.records.slice(0, PTR_NAMES_MAX).map((name) => name.replace(/\.$/, ""));
}

/**
 * The first of `names` (in order) that is within `domain` and validates: what the ptr mechanism asks.
 * Names outside the domain are not looked up, which §5.5 allows and which saves queries.
 */
export async function validatedWithin(
  session: DnsSession,
  ip: ParsedIp,
  names: string[],
  domain: string,
): Promise<string | undefined> {
  for (const name of names) {
    if (isWithinDomain(name, domain) && await resolvesTo(session, name, ip)) return name;
  }
  return undefined;
}

/**
 * %{p}: a validated name, preferring `domain` itself, then a subdomain of it, then any (§7.3);
 * "unknown" when none validates.
 */
export async function validatedNameFor(session: DnsSession, ip: ParsedIp, domain: string): Promise<string> {
  const names = await ptrNames(session, ip);
  if (!names) return "unknown";
  const exact = names.filter((name) => name.toLowerCase() === domain.toLowerCase());
  const within = names.filter((name) => isWithinDomain(name, domain) && !exact.includes(name));
  const others = names.filter((name) => !isWithinDomain(name, domain));
  for (const name of [...exact, ...within, ...others]) {
    if (await resolvesTo(session, name, ip)) return name;
  }
  return "unknown";
}
