// Errors shaped like the runtime resolver's, because the SPF evaluator (and any caller written against
// `dns.promises`) reads only `code`: ENOTFOUND and ENODATA mean "nothing there", the rest are failures.
import type { QueryType } from "./types.ts";

/** The codes this client rejects with; all but EBUSY and ENORECURSION are the runtime resolver's own. */
export type DnsErrorCode =
  | "ENOTFOUND" // NXDOMAIN
  | "ENODATA" // the name exists, no records of that type
  | "ETIMEOUT" // no server answered within timeout × tries
  | "ESERVFAIL"
  | "EREFUSED"
  | "EFORMERR"
  | "ENOTIMP"
  | "EBADRESP" // an answer that could not be decoded, or TCP's that did not match the query
  | "ENORECURSION" // no records from a server neither recursive nor authoritative (a referral)
  | "EBADNAME" // a name no query can carry (empty label, label over 63 octets, name over 253)
  | "ECONNREFUSED"
  | "EBUSY"; // too many distinct queries in flight (see docs/dns.md, bounds)

export interface DnsError extends Error {
  /** A DnsErrorCode, or a socket's own code (ECONNRESET, …) passed through. */
  code: string;
  syscall: string;
  hostname: string;
}

const SYSCALLS: Record<QueryType, string> = {
  TXT: "queryTxt",
  A: "queryA",
  AAAA: "queryAaaa",
  MX: "queryMx",
  PTR: "queryPtr",
};

export function dnsError(code: DnsErrorCode | string, type: QueryType, hostname: string): DnsError {
  const syscall = SYSCALLS[type];
  return Object.assign(new Error(`${syscall} ${code} ${hostname}`), { code, syscall, hostname });
}

/** The code of an error a transport or the wire layer threw; anything without one counts as EBADRESP. */
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" ? code : "EBADRESP";
}
