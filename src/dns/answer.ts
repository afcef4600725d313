// What a decoded reply says about the question: records (following a CNAME chain inside the answer),
// NXDOMAIN, NODATA, or a server failure; with the TTL to cache it for. Pure.
import { type Answer, AUTHORITATIVE_ANSWER, type DecodedPacket, RECURSION_AVAILABLE } from "dns-packet";
import { Buffer } from "node:buffer";
import { dnsError } from "./dns-error.ts";
import type { MxRecord, Outcome, QueryType, RecordsOf } from "./types.ts";

/** RFC 1035 §4.1.1 RCODEs, the low 4 bits of the flags, and the runtime resolver's codes for failures. */
const NOERROR = 0;
export const FORMERR = 1;
const NXDOMAIN = 3;
const FAILURES: Record<number, string> = { 1: "EFORMERR", 2: "ESERVFAIL", 4: "ENOTIMP", 5: "EREFUSED" };

/**
 * A TTL as read off the wire, in seconds. RFC 2181 §8: a TTL is 0 to 2^31 - 1, and one with the most
 * significant bit set is read as 0. `dns-packet` reads the field unsigned, so 2^31 came out as 68 years,
 * which the cache's clamp turned into a day where the server meant "do not keep".
 */
export function wireTtl(ttl: number | undefined): number {
  return ttl === undefined || ttl > TTL_MAX ? 0 : ttl;
}

const TTL_MAX = 2 ** 31 - 1;

/** Names compare without case and without a final dot. */
export function canonicalName(name: string): string {
  return (name.endsWith(".") ? name.slice(0, -1) : name).toLowerCase();
}

/**
 * The outcome of `reply` for (`name`, `type`); throws the node-style code for an error rcode. A CNAME chain
 * in the answer section is followed from `name` (a recursive server sends the chain and its target's
 * records together), and the TTL is the lowest along what was used.
 */
export function outcomeOf<T extends QueryType>(reply: DecodedPacket, name: string, type: T): Outcome<T> {
  const rcode = rcodeOf(reply);
  if (rcode === NXDOMAIN) return { kind: "nxdomain", ttl: negativeTtl(reply) };
  if (rcode !== NOERROR) throw dnsError(FAILURES[rcode] ?? "EBADRESP", type, name);
  const { records, ttl } = followChain(reply.answers ?? [], canonicalName(name), type);
  if (records.length === 0) {
    // Nothing, from a server that neither recurses (RA) nor holds the zone (AA): a referral, which says
    // nothing of the name. Read as NODATA it was an SPF "none" and ended the query; it is a failure of
    // this server, so the next one is asked (decisions.md, "A referral is not an answer").
    if (((reply.flags ?? 0) & (AUTHORITATIVE_ANSWER | RECURSION_AVAILABLE)) === 0) {
      throw dnsError("ENORECURSION", type, name);
    }
    return { kind: "nodata", ttl: negativeTtl(reply) };
  }
  return { kind: "answer", records: records as RecordsOf[T], ttl };
}

/** The reply's RCODE (the low 4 bits of the flags; EDNS's extended bits are not used here). */
export function rcodeOf(reply: DecodedPacket): number {
  return (reply.flags ?? 0) & 0xf;
}

function followChain(answers: Answer[], start: string, type: QueryType) {
  const records: unknown[] = [];
  let ttl = Infinity;
  let owner = start;
  // Each step moves to a CNAME target; a chain longer than the answer section is a loop.
  for (let step = 0; step <= answers.length; step++) {
    let next: string | undefined;
    for (const rr of answers) {
      if (canonicalName(rr.name) !== owner) continue;
      if (rr.type === type) {
        records.push(recordOf(rr));
        ttl = Math.min(ttl, wireTtl(rr.ttl));
      } else if (rr.type === "CNAME" && next === undefined) {
        next = canonicalName(rr.data);
        ttl = Math.min(ttl, wireTtl(rr.ttl));
      }
    }
    if (records.length > 0 || next === undefined) break;
    owner = next;
  }
  return { records, ttl: records.length > 0 ? ttl : 0 };
}

/**
 * TXT strings are read as latin1, one character an octet, as the runtime resolver returns them: SPF
 * records are ASCII (RFC 7208 §3), and a stray octet stays visible to the evaluator instead of becoming
 * U+FFFD. A TXT record with no strings is `[]`.
 */
function recordOf(rr: Answer): string | string[] | MxRecord {
  switch (rr.type) {
    case "TXT": {
      const data = Array.isArray(rr.data) ? rr.data : [rr.data];
      return data.map((part) => typeof part === "string" ? part : Buffer.from(part).toString("latin1"));
    }
    case "MX":
      return { exchange: rr.data.exchange, priority: rr.data.preference ?? 0 };
    case "A":
    case "AAAA":
    case "PTR":
      return rr.data;
    default:
      throw new TypeError(`unexpected record type ${rr.type}`);
  }
}

/**
 * RFC 2308 §5: a negative answer is cached for the lower of the SOA record's TTL and its MINIMUM field,
 * the SOA being in the authority section. Without a SOA it SHOULD NOT be cached: 0 (then the cache's
 * `cacheMinTtl` decides).
 */
export function negativeTtl(reply: DecodedPacket): number {
  for (const rr of reply.authorities ?? []) {
    // MINIMUM is the negative answers' TTL (RFC 2308 §4), read as one.
    if (rr.type === "SOA") return Math.min(wireTtl(rr.ttl), wireTtl(rr.data.minimum));
  }
  return 0;
}
