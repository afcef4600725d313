// The real transport against in-process loopback sockets: what reaches it from the wrong id or the wrong
// port is ignored, a silent server is a timeout, TCP replies are reassembled from pieces.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createSocket, type Socket } from "node:dgram";
import { createServer, type Server as TcpServer } from "node:net";
import { after, describe, it } from "node:test";
import { udpTcpTransport } from "../../../src/dns/udp-tcp-transport.ts";
import { encodeQuery, replyMatches } from "../../../src/dns/wire.ts";
import { replyTo } from "./fake-dns.ts";

const sockets: { close(): void }[] = [];
after(() => sockets.forEach((socket) => socket.close()));

function udpServer(onQuery: (server: Socket, query: Buffer, to: { port: number; address: string }) => void) {
  return new Promise<number>((resolve) => {
    const server = createSocket("udp4");
    sockets.push(server);
    server.on("message", (query, from) => onQuery(server, query, from));
    server.bind(0, "127.0.0.1", () => resolve(server.address().port));
  });
}

function tcpServer(onQuery: (socket: import("node:net").Socket, query: Buffer) => void) {
  return new Promise<number>((resolve) => {
    const server: TcpServer = createServer((socket) => {
      socket.once("data", (data) => onQuery(socket, data.subarray(2)));
    });
    sockets.push(server);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
  });
}

const timed = async (promise: Promise<unknown>) => {
  const started = Date.now();
  try {
    await promise;
    return { code: "no error", ms: Date.now() - started };
  } catch (error) {
    return { code: (error as { code?: string }).code, ms: Date.now() - started };
  }
};

describe("UDP and TCP transport (loopback sockets)", () => {
  it("takes the matching datagram from the server's own port, after a wrong id and another port's", async () => {
    const stranger = createSocket("udp4");
    sockets.push(stranger);
    const port = await udpServer((server, query, to) => {
      const id = query.readUInt16BE(0);
      stranger.send(
        replyTo(query, { answers: [{ type: "A", name: "h.example.test", data: "203.0.113.1" }] }),
        to.port,
        to.address,
      );
      server.send(replyTo(query, { id: (id + 1) & 0xffff }), to.port, to.address);
      setTimeout(() => server.send(replyTo(query, { rcode: 3 }), to.port, to.address), 20);
    });
    const query = encodeQuery(4242, "h.example.test", "A");
    const reply = await udpTcpTransport.udp(
      { host: "127.0.0.1", port },
      query,
      2000,
      (r) => replyMatches(query, r),
    );
    assert.equal(Buffer.from(reply).readUInt16BE(0), 4242);
    assert.equal(reply[3] & 0xf, 3, "the NXDOMAIN reply, not the stranger's A record");
  });

  it("times out on a server that reads and drops, after about timeoutMs", async () => {
    const port = await udpServer(() => {});
    const query = encodeQuery(1, "h.example.test", "A");
    const { code, ms } = await timed(
      udpTcpTransport.udp({ host: "127.0.0.1", port }, query, 150, () => true),
    );
    assert.equal(code, "ETIMEOUT");
    assert.ok(ms >= 140 && ms < 1500, `${ms} ms`);
  });

  it("reassembles a TCP reply that arrives in pieces, and reads just the one", async () => {
    const port = await tcpServer((socket, query) => {
      const reply = replyTo(query, { rcode: 3 });
      const framed = Buffer.concat([
        Buffer.from([reply.length >> 8, reply.length & 0xff]),
        reply,
        Buffer.from("junk"),
      ]);
      let at = 0;
      const timer = setInterval(() => {
        if (at >= framed.length) return clearInterval(timer);
        socket.write(framed.subarray(at, at += 7));
      }, 2);
    });
    const query = encodeQuery(99, "h.example.test", "TXT");
    const reply = await udpTcpTransport.tcp({ host: "127.0.0.1", port }, query, 2000);
    assert.equal(replyMatches(query, reply), true);
    assert.equal(reply.length, replyTo(query, { rcode: 3 }).length);
  });

  it("fails a TCP connection closed before the whole reply, and one refused", async () => {
    const port = await tcpServer((socket) => socket.end(Buffer.from([0, 40, 1, 2, 3])));
    const query = encodeQuery(99, "h.example.test", "TXT");
    assert.equal(
      (await timed(udpTcpTransport.tcp({ host: "127.0.0.1", port }, query, 2000))).code,
      "EBADRESP",
    );
    const closed = await tcpServer(() => {});
    sockets.pop()!.close();
    const refused = await timed(udpTcpTransport.tcp({ host: "127.0.0.1", port: closed }, query, 2000));
    assert.equal(refused.code, "ECONNREFUSED");
  });

  it("takes the reply of an IPv6 server written in another form than the socket reports (0:0::1, ::1)", async () => {
    const server = createSocket("udp6");
    sockets.push(server);
    server.on("message", (query, from) => server.send(replyTo(query, { rcode: 3 }), from.port, from.address));
    const port = await new Promise<number>((resolve) =>
      server.bind(0, "::1", () => resolve(server.address().port))
    );
    for (const host of ["::1", "0:0:0:0:0:0:0:1", "0::0:1"]) {
      const query = encodeQuery(77, "h.example.test", "A");
      const { code } = await timed(
        udpTcpTransport.udp({ host, port }, query, 500, (r) => replyMatches(query, r)),
      );
      assert.equal(code, "no error", `server ${host}`);
    }
  });
});
