// One query's trip to the servers: UDP first, TCP when the answer comes truncated, the next server on a
// timeout or a failure, at most `tries` tries in all. Without I/O of its own: the transport is passed in.
import { dnsError, errorCode } from "./dns-error.ts";
import { FORMERR, outcomeOf, rcodeOf } from "./answer.ts";
import type { ServerOrder } from "./server-order.ts";
import type { DnsTransport, Outcome, QueryType, Server } from "./types.ts";
import { decodeReply, encodeQuery, isTruncated, randomId, replyMatches } from "./wire.ts";

export interface ExchangeOptions {
  servers: Server[];
  /** Per try, UDP or TCP. */
  timeoutMs: number;
  /** Tries in all, rotating through `servers` from the first. */
  tries: number;
  /** When given, the servers in its order (a server that just gave no answer last), told of every try. */
  order?: ServerOrder;
  transport: DnsTransport;
  /** Advertise EDNS0 (1232 bytes); without it answers over 512 bytes come truncated. */
  edns: boolean;
}

/** What exchanges did, for the resolver's stats. */
export interface ExchangeCounters {
  /** Packets sent, UDP and TCP. */
  sent: number;
  tcp: number;
  /** Tries that got no answer in time. */
  timeouts: number;
}

/**
 * The outcome of (`name`, `type`) from the first server that gives one; rejects with the last try's code
 * (ETIMEOUT when every try timed out). NXDOMAIN and NODATA are outcomes, not errors: they end the query.
 */
export async function exchange(
  name: string,
  type: QueryType,
  options: ExchangeOptions,
  counters: ExchangeCounters,
): Promise<Outcome> {
  let lastError: unknown;
  const servers = options.order?.servers() ?? options.servers;
  for (let attempt = 0; attempt < options.tries; attempt++) {
    const server = servers[attempt % servers.length];
    try {
      return await askServer(server, name, type, options, counters);
    } catch (error) {
      // A SERVFAIL or REFUSED from one server says nothing about the next one's answer: go on.
      if (errorCode(error) === "ETIMEOUT") counters.timeouts++;
      lastError = error;
    }
  }
  throw dnsError(errorCode(lastError), type, name);
}

async function askServer(
  server: Server,
  name: string,
  type: QueryType,
  options: ExchangeOptions,
  counters: ExchangeCounters,
): Promise<Outcome> {
  const query = encodeQuery(randomId(), name, type, options.edns);
  counters.sent++;
  let reply = await heard(
    server,
    options,
    options.transport.udp(server, query, options.timeoutMs, (r) => replyMatches(query, r)),
  );
  if (isTruncated(reply)) {
    counters.sent++;
    counters.tcp++;
    reply = await heard(server, options, options.transport.tcp(server, query, options.timeoutMs));
    // One connection carries one query: an answer to anything else is a broken server, not a spoof.
    if (!replyMatches(query, reply)) throw dnsError("EBADRESP", type, name);
  }
  const decoded = decodeReply(reply, type, name);
  // A server that does not know EDNS0 answers its OPT record with FORMERR (RFC 6891 §7): the same server is
  // asked again without it, as resolvers do, within the same try. Its answers over 512 bytes then come
  // truncated and over TCP. Such a server costs two packets a query; nothing remembers it.
  if (options.edns && rcodeOf(decoded) === FORMERR) {
    return askServer(server, name, type, { ...options, edns: false }, counters);
  }
  return outcomeOf(decoded, name, type);
}

/** Tells the server order whether `server` replied at all: a reply of any kind, or none (timeout, socket). */
async function heard(
  server: Server,
  options: ExchangeOptions,
  reply: Promise<Uint8Array>,
): Promise<Uint8Array> {
  try {
    const bytes = await reply;
    options.order?.replied(server);
    return bytes;
  } catch (error) {
    options.order?.silent(server, errorCode(error));
    throw error;
  }
}
