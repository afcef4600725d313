// The real transport: one UDP socket per query (a fresh random source port each time, RFC 5452), and a
// TCP connection per truncated answer (RFC 7766 two-byte length prefix). No retries here: exchange.ts
// decides what to try next.
import { Buffer } from "node:buffer";
import { createSocket } from "node:dgram";
import { connect, isIP } from "node:net";
import { parseIp } from "../model/ip.ts";
import type { DnsTransport, Server } from "./types.ts";

const timeoutError = () => Object.assign(new Error("DNS query timed out"), { code: "ETIMEOUT" });

type Finish = (error: unknown, reply?: Uint8Array) => void;

/**
 * A try settles once: the first of a reply, an error or the timeout wins, the socket is closed with it, and
 * later events (a late datagram, the close that follows destroy) are ignored.
 */
function settleOnce(
  timeoutMs: number,
  close: () => void,
  resolve: (reply: Uint8Array) => void,
  reject: (error: unknown) => void,
): Finish {
  let done = false;
  const finish: Finish = (error, reply) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    close();
    if (reply) resolve(reply);
    else reject(error);
  };
  const timer = setTimeout(() => finish(timeoutError()), timeoutMs);
  return finish;
}

/**
 * Whether a datagram's source address is the server's: compared as addresses, not as text, because the
 * socket reports its canonical form ("::1") whatever form the config or resolv.conf wrote ("0:0::1").
 */
function sameHost(from: string, host: string): boolean {
  if (from === host) return true;
  const a = parseIp(from);
  const b = parseIp(host);
  return a !== undefined && b !== undefined && a.version === b.version &&
    a.bytes.every((byte, i) => byte === b.bytes[i]);
}

function udp(server: Server, query: Uint8Array, timeoutMs: number, accept: (reply: Uint8Array) => boolean) {
  return new Promise<Uint8Array>((resolve, reject) => {
    const socket = createSocket(isIP(server.host) === 6 ? "udp6" : "udp4");
    const finish = settleOnce(timeoutMs, () => socket.close(), resolve, reject);
    // Only the server's own address and port may answer, and only with the query's id and question
    // (`accept`); anything else is dropped and the wait goes on, as a spoofed datagram would be.
    socket.on("message", (message: Buffer, from: { address: string; port: number }) => {
      if (from.port === server.port && sameHost(from.address, server.host) && accept(message)) {
        finish(undefined, message);
      }
    });
    socket.on("error", (error) => finish(error));
    socket.send(query, server.port, server.host, (error) => error && finish(error));
  });
}

/** At most one reply is read: its length prefix bounds it to 65 535 bytes. */
function tcp(server: Server, query: Uint8Array, timeoutMs: number) {
  return new Promise<Uint8Array>((resolve, reject) => {
    const socket = connect({ host: server.host, port: server.port });
    let received = Buffer.alloc(0);
    const finish = settleOnce(timeoutMs, () => socket.destroy(), resolve, reject);
    const prefix = Buffer.from([query.length >> 8, query.length & 0xff]);
    socket.on("connect", () => socket.write(Buffer.concat([prefix, query])));
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const length = received.length >= 2 ? received.readUInt16BE(0) : Infinity;
      if (received.length >= 2 + length) finish(undefined, received.subarray(2, 2 + length));
    });
    socket.on("error", (error) => finish(error));
    socket.on("close", () => finish(Object.assign(new Error("TCP closed early"), { code: "EBADRESP" })));
  });
}

export const udpTcpTransport: DnsTransport = { udp, tcp };
