// The DNS wire format for queries and the checks on a reply's raw bytes, on top of the `dns-packet`
// package. Pure: bytes in, bytes or decoded packets out.
import { Buffer } from "node:buffer";
import { decode, type DecodedPacket, encode, RECURSION_DESIRED, TRUNCATED_RESPONSE } from "dns-packet";
import { dnsError } from "./dns-error.ts";
import type { QueryType } from "./types.ts";

/**
 * The UDP payload size advertised with EDNS0 (RFC 6891): 1232 bytes, the DNS Flag Day 2020 value that
 * fits an IPv6 minimum MTU without fragmentation. Larger answers come truncated and are asked again over
 * TCP.
 */
export const EDNS_UDP_SIZE = 1232;

/** RFC 1035 §2.3.4 limits: 63 octets a label, 255 a wire name, so 253 written with dots. */
const LABEL_MAX = 63;
const NAME_MAX = 253;

/**
 * Throws EBADNAME for a name no query can carry. Only the wire's limits are checked: the SPF suite asks
 * names such as `foo:bar/baz.example.com` that the runtime resolver refuses but DNS carries (labels are
 * octets, RFC 2181 §11). `dns-packet` writes labels as given, without checking: an empty or oversize
 * label would make a corrupt packet, hence the check.
 */
export function checkName(name: string, type: QueryType): void {
  const bare = name.endsWith(".") ? name.slice(0, -1) : name;
  const ok = bare.length > 0 && Buffer.byteLength(bare) <= NAME_MAX && bare.split(".").every((label) => {
    const length = Buffer.byteLength(label);
    return length > 0 && length <= LABEL_MAX;
  });
  if (!ok) throw dnsError("EBADNAME", type, name);
}

/** A query packet: recursion desired, one question of class IN, and an EDNS0 OPT record when `edns`. */
export function encodeQuery(id: number, name: string, type: QueryType, edns = true): Uint8Array {
  return encode({
    type: "query",
    id,
    flags: RECURSION_DESIRED,
    questions: [{ type, name, class: "IN" }],
    additionals: edns
      ? [{
        type: "OPT",
        name: ".",
        udpPayloadSize: EDNS_UDP_SIZE,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [],
      }]
      : [],
  });
}

/** A random query id (RFC 5452: ids and source ports are what stops blind spoofing). */
export function randomId(): number {
  return crypto.getRandomValues(new Uint16Array(1))[0];
}

const HEADER = 12;
const QR = 0x80; // in the first flags byte: this is a response

/** The question's length in `packet` (its name's labels, then type and class), or -1 when malformed. */
function questionLength(packet: Uint8Array): number {
  let at = HEADER;
  while (at < packet.length && packet[at] !== 0) {
    if (packet[at] > LABEL_MAX) return -1; // a compression pointer cannot start the first name
    at += packet[at] + 1;
  }
  return at + 1 + 4 <= packet.length ? at + 1 + 4 - HEADER : -1;
}

const lower = (byte: number) => (byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte);

/**
 * Whether `reply` answers `query`: a response with the same id, one question, and the same question
 * bytes, letters compared without case (RFC 1035 §2.3.3; some servers randomise case, RFC draft 0x20).
 * Compared on bytes so that names `dns-packet` would decode lossily (non-UTF-8 octets) compare exactly.
 */
export function replyMatches(query: Uint8Array, reply: Uint8Array): boolean {
  if (reply.length < HEADER || (reply[2] & QR) === 0) return false;
  if (reply[0] !== query[0] || reply[1] !== query[1] || reply[4] !== 0 || reply[5] !== 1) return false;
  const length = questionLength(query);
  if (length < 0 || questionLength(reply) !== length) return false;
  for (let at = HEADER; at < HEADER + length; at++) {
    if (lower(reply[at]) !== lower(query[at])) return false;
  }
  return true;
}

/** The TC bit (RFC 1035 §4.1.1): the answer did not fit; ask again over TCP. */
export function isTruncated(reply: Uint8Array): boolean {
  return reply.length >= HEADER && ((reply[2] << 8) & TRUNCATED_RESPONSE) !== 0;
}

/** Decodes a reply; throws EBADRESP when `dns-packet` cannot. */
export function decodeReply(reply: Uint8Array, type: QueryType, name: string): DecodedPacket {
  try {
    return decode(Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength));
  } catch {
    throw dnsError("EBADRESP", type, name);
  }
}
