// Whether one mechanism matches the client (RFC 7208 §5). Each DNS-querying mechanism counts against the
// 10-term limit before it queries; its own query, when void, counts against the void limit (per term,
// as §4.6.4 words it: the address lookups of an mx term's hosts are not "the term's" lookups, so an
// IPv6 client checking v4-only MX hosts does not run into the void limit, an issue 18 complaint).
import { type CheckContext, expandedTarget, expandIn } from "./check-context.ts";
import type { Answer } from "./dns-session.ts";
import { queryableName } from "./domain-name.ts";
import { addressInPrefix, samePrefix } from "./ip-address.ts";
import { ptrNames, validatedWithin } from "./ptr-names.ts";
import type { Mechanism } from "./record.ts";
import { permError } from "./spf-error.ts";
import type { SpfQueryType } from "./types.ts";

const MX_NAMES_MAX = 10;

/** The mechanism's target (its domain-spec expanded, or the current domain), as queried. */
async function targetOf(context: CheckContext, mechanism: Mechanism, domain: string) {
  if (!mechanism.domain) return domain;
  return queryableName(await expandIn(context, mechanism.domain, domain));
}

/**
 * Counts the term's own query as void when it found nothing. An AAAA query answered NODATA is not
 * void: the name exists, it just has only IPv4 addresses, which is no sign of a made-up name (the
 * abuse the void limit is for) and would otherwise make `a` terms cost IPv6 clients alone.
 */
function countIfVoid(context: CheckContext, type: SpfQueryType, name: string, answer: Answer<SpfQueryType>) {
  if (!answer.missing) return;
  if (type === "AAAA" && answer.missing === "ENODATA") return;
  context.session.countVoid(name);
}

async function matchA(context: CheckContext, mechanism: Mechanism, domain: string): Promise<boolean> {
  const name = await targetOf(context, mechanism, domain);
  if (name === undefined) return false;
  const type = context.ip.version === 4 ? "A" : "AAAA";
  const answer = await context.session.query(type, name);
  countIfVoid(context, type, name, answer);
  const bits = context.ip.version === 4 ? mechanism.cidr4 : mechanism.cidr6;
  return answer.records.some((address) => addressInPrefix(address, context.ip, bits));
}

async function matchMx(context: CheckContext, mechanism: Mechanism, domain: string): Promise<boolean> {
  const name = await targetOf(context, mechanism, domain);
  if (name === undefined) return false;
  const answer = await context.session.query("MX", name);
  countIfVoid(context, "MX", name, answer);
  // A null MX ("." or empty, RFC 7505) names no host.
  const hosts = answer.records.map((mx) => mx.exchange.replace(/\.$/, "")).filter((host) => host !== "");
  if (hosts.length > MX_NAMES_MAX) throw permError(`${name} has more than ${MX_NAMES_MAX} MX names`);
  const type = context.ip.version === 4 ? "A" : "AAAA";
  const bits = context.ip.version === 4 ? mechanism.cidr4 : mechanism.cidr6;
  for (const host of hosts) {
    const addresses = await context.session.query(type, host);
    if (addresses.records.some((address) => addressInPrefix(address, context.ip, bits))) return true;
  }
  return false;
}

async function matchPtr(context: CheckContext, mechanism: Mechanism, domain: string): Promise<boolean> {
  const target = await targetOf(context, mechanism, domain);
  if (target === undefined) return false;
  const names = await ptrNames(context.session, context.ip);
  if (names === undefined) return false;
  if (names.length === 0) context.session.countVoid("the client's PTR");
  return await validatedWithin(context.session, context.ip, names, target) !== undefined;
}

async function matchExists(context: CheckContext, mechanism: Mechanism, domain: string): Promise<boolean> {
  const name = await targetOf(context, mechanism, domain);
  if (name === undefined) return false;
  // Always an A query, whatever the client's family (§5.7).
  const answer = await context.session.query("A", name);
  countIfVoid(context, "A", name, answer);
  return answer.records.length > 0;
}

async function matchInclude(context: CheckContext, mechanism: Mechanism, domain: string): Promise<boolean> {
  const target = await expandedTarget(context, mechanism.domain!, domain);
  const outcome = await context.evaluate(target, false);
  switch (outcome.result) {
    case "pass":
      return true;
    case "none":
      throw permError(`include target ${target} has no SPF record`);
    default: // fail, softfail, neutral: no match (permerror and temperror were thrown)
      return false;
  }
}

/** Whether `mechanism`, in the record of `domain`, matches the client. Throws permerror/temperror. */
export function matches(
  context: CheckContext,
  mechanism: Mechanism,
  domain: string,
): Promise<boolean> | boolean {
  const { ip } = context;
  switch (mechanism.kind) {
    case "all":
      return true;
    case "ip4":
      return ip.version === 4 && samePrefix(ip.bytes, mechanism.network!, mechanism.cidr4);
    case "ip6":
      return ip.version === 6 && samePrefix(ip.bytes, mechanism.network!, mechanism.cidr6);
  }
  context.session.countLookup(mechanism.term);
  switch (mechanism.kind) {
    case "a":
      return matchA(context, mechanism, domain);
    case "mx":
      return matchMx(context, mechanism, domain);
    case "ptr":
      return matchPtr(context, mechanism, domain);
    case "exists":
      return matchExists(context, mechanism, domain);
    default:
      return matchInclude(context, mechanism, domain);
  }
}
