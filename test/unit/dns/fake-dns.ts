// Test doubles for the DNS client: reply packets built with dns-packet, and a transport that answers from
// a handler in memory (no sockets, no timers), logging every packet it is given.
import { Buffer } from "node:buffer";
import {
  type Answer,
  AUTHORITATIVE_ANSWER,
  decode,
  encode,
  RECURSION_AVAILABLE,
  TRUNCATED_RESPONSE,
} from "dns-packet";
import type { DnsTransport, Server } from "../../../src/dns/types.ts";

export interface ReplySpec {
  rcode?: number;
  answers?: Answer[];
  authorities?: Answer[];
  truncated?: boolean;
  /** Recursion available (RA), as from a recursive resolver; default true. */
  recursive?: boolean;
  /** Authoritative (AA); default false. */
  authoritative?: boolean;
  /** Overrides the query's id (a reply to some other query). */
  id?: number;
  /** Overrides the question's name. */
  name?: string;
}

/** A reply to `query` as a server would send it. */
export function replyTo(query: Uint8Array, spec: ReplySpec = {}): Uint8Array {
  const asked = decode(Buffer.from(query));
  const question = { ...asked.questions![0], ...(spec.name ? { name: spec.name } : {}) };
  return encode({
    type: "response",
    id: spec.id ?? asked.id,
    flags: (spec.rcode ?? 0) | (spec.truncated ? TRUNCATED_RESPONSE : 0) |
      (spec.recursive === false ? 0 : RECURSION_AVAILABLE) | (spec.authoritative ? AUTHORITATIVE_ANSWER : 0),
    questions: [question],
    answers: spec.answers ?? [],
    authorities: spec.authorities ?? [],
  });
}

export const soa = (ttl: number, minimum: number): Answer => ({
  type: "SOA",
  name: "example.test",
  ttl,
  data: {
    mname: "ns.example.test",
    rname: "hostmaster.example.test",
    serial: 1,
    refresh: 3600,
    retry: 600,
    expire: 86400,
    minimum,
  },
});

export interface Sent {
  server: string;
  via: "udp" | "tcp";
  name: string;
  type: string;
}

/**
 * What a fake server does with one packet: datagrams to deliver in order (the transport's `accept` picks),
 * or "drop" (a timeout). `via` says which transport carried it.
 */
export type Handler = (query: Uint8Array, via: "udp" | "tcp", server: Server) =>
  | Uint8Array[]
  | "drop"
  | Promise<Uint8Array[] | "drop">;

export interface FakeTransport extends DnsTransport {
  sent: Sent[];
}

const timeout = () => Object.assign(new Error("fake timeout"), { code: "ETIMEOUT" });

export function fakeTransport(handler: Handler): FakeTransport {
  const sent: Sent[] = [];
  const log = (server: Server, via: "udp" | "tcp", query: Uint8Array) => {
    const question = decode(Buffer.from(query)).questions![0];
    sent.push({ server: `${server.host}:${server.port}`, via, name: question.name, type: question.type });
  };
  return {
    sent,
    async udp(server, query, _timeoutMs, accept) {
      log(server, "udp", query);
      const replies = await handler(query, "udp", server);
      const accepted = replies === "drop" ? undefined : replies.find(accept);
      if (accepted === undefined) throw timeout(); // nothing acceptable arrived: the wait ran out
      return accepted;
    },
    async tcp(server, query) {
      log(server, "tcp", query);
      const replies = await handler(query, "tcp", server);
      if (replies === "drop") throw timeout();
      return replies[0];
    },
  };
}

/** A hand-moved clock for TTL tests. */
export function fakeClock(start = 1_000_000) {
  const clock = { ms: start, now: () => clock.ms, advance: (seconds: number) => clock.ms += seconds * 1000 };
  return clock;
}
