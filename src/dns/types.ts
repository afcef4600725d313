// The shapes the DNS client's files share: the record types it asks for, what a query came to (an answer
// or a negative answer, each with the TTL its server gave), a server address, and the transport seam that
// unit tests replace with a fake.

/** The record types the SPF evaluator asks for; the only ones this client decodes. */
export type QueryType = "TXT" | "A" | "AAAA" | "MX" | "PTR";

export interface MxRecord {
  exchange: string;
  priority: number;
}

/** The answer shapes of the runtime's `dns.promises.Resolver`, per type. */
export interface RecordsOf {
  TXT: string[][];
  A: string[];
  AAAA: string[];
  MX: MxRecord[];
  PTR: string[];
}

/**
 * What one query came to, as cached. `ttl` is in seconds, as the server gave it (the lowest TTL along the
 * answer's CNAME chain, or RFC 2308's negative TTL), before the cache's clamps.
 */
export type Outcome<T extends QueryType = QueryType> =
  | { kind: "answer"; records: RecordsOf[T]; ttl: number }
  | { kind: "nxdomain"; ttl: number }
  | { kind: "nodata"; ttl: number };

/** A name server: an IPv4 or IPv6 address (no brackets) and a port. */
export interface Server {
  host: string;
  port: number;
}

/**
 * How queries reach a server. The real one (udp-tcp-transport.ts) uses node:dgram and node:net; unit tests
 * pass a fake that answers from memory.
 */
export interface DnsTransport {
  /**
   * Sends `query` in one UDP datagram and resolves with the first datagram from `server` that `accept`
   * takes (others are ignored: spoofed or stale answers); rejects with code ETIMEOUT after `timeoutMs`.
   */
  udp(server: Server, query: Uint8Array, timeoutMs: number, accept: (reply: Uint8Array) => boolean): Promise<
    Uint8Array
  >;
  /** Sends `query` over TCP (RFC 7766 length prefix) and resolves with the one reply; ETIMEOUT likewise. */
  tcp(server: Server, query: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
}
