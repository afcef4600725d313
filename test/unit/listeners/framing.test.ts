// Framings: where a request ends in bytes (pure), and the Postfix policy framing driving the request server
// on a real Unix socket, several requests on one connection.
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PostfixFraming, ReadsocketFraming } from "../../../src/listeners/framing.ts";
import { listenForRequests, type RequestServer } from "../../../src/listeners/request-server.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("ReadsocketFraming.requestEnd", () => {
  const framing = new ReadsocketFraming(4096);
  it("ends a request just past its first newline", () => {
    assert.equal(framing.requestEnd(bytes("key\n"), 0), 4);
    assert.equal(framing.requestEnd(bytes("key\nmore\n"), 0), 4);
    assert.equal(framing.requestEnd(bytes("\n"), 0), 1);
  });
  it("finds no end without a newline, and looks only from `from`", () => {
    assert.equal(framing.requestEnd(bytes("key"), 0), -1);
    assert.equal(framing.requestEnd(bytes("a\nb\n"), 2), 4);
  });
  it("is one request per connection, answered on timeout and half-close", () => {
    assert.equal(framing.persistent, false);
    assert.equal(framing.halfCloseIsEnd, true);
    assert.equal(framing.answersTimeout, true);
    assert.equal(framing.overLongReply, undefined);
  });
});

describe("PostfixFraming.requestEnd", () => {
  const framing = new PostfixFraming(2048, 1000);
  it("ends a request just past its empty line", () => {
    const request = "request=smtpd_access_policy\nsender=a@example.org\n\n";
    assert.equal(framing.requestEnd(bytes(request), 0), request.length);
    assert.equal(framing.requestEnd(bytes(request + "request=x\n\n"), 0), request.length);
  });
  it("takes CRLF lines, and an empty line as the first bytes", () => {
    assert.equal(framing.requestEnd(bytes("a=1\r\n\r\n"), 0), 7);
    assert.equal(framing.requestEnd(bytes("\n"), 0), 1);
  });
  it("finds no end before the empty line", () => {
    assert.equal(framing.requestEnd(bytes("a=1\nb=2\n"), 0), -1);
    assert.equal(framing.requestEnd(bytes("a=1\nb=2"), 0), -1);
    assert.equal(framing.requestEnd(bytes(""), 0), -1);
  });
  it("finds an empty line whose first newline came before `from`", () => {
    // Each call sees one more byte, as if every byte came in its own chunk.
    for (const request of ["a=1\nb=2\n\n", "a=1\r\nb=2\r\n\r\n"]) {
      let end = -1;
      for (let size = 1; size <= request.length && end < 0; size++) {
        end = framing.requestEnd(bytes(request.slice(0, size)), size - 1);
      }
      assert.equal(end, request.length, JSON.stringify(request));
    }
  });
  it("cuts requests sent ahead one by one, LF and CRLF mixed, each at its own end", () => {
    const requests = ["a=1\nb=2\n\n", "c=3\r\n\r\n", "d=\r4\ne=5\n\n", "f=6\n\r\n", "\n", "g=7\n\n"];
    let rest = bytes(requests.join(""));
    for (const request of requests) {
      const end = framing.requestEnd(rest, 0);
      assert.equal(end, request.length, JSON.stringify(request));
      rest = rest.subarray(end);
    }
    assert.equal(rest.length, 0);
  });
  it("looks no further than one request's bound: a longer request is not cut, even when its end is there", () => {
    // Requests sent ahead are cut one by one; a search to the end of them all, per request, was quadratic.
    const small = new PostfixFraming(16, 1000);
    assert.equal(small.requestEnd(bytes("a=123456789012\n\n"), 0), 16);
    assert.equal(small.requestEnd(bytes("a=1234567890123456789\n\n"), 0), -1);
    assert.equal(small.requestEnd(bytes("a=1234567890123456789\r\n\r\n"), 0), -1);
    assert.equal(small.requestEnd(bytes("a=1\n\n" + "b=2\r\n".repeat(100)), 0), 5);
  });
});

describe("listenForRequests with the Postfix framing on a Unix socket", () => {
  let dir: string;
  let server: RequestServer;
  let path: string;
  let requests: string[];
  let closings: string[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "mailpolicyd-framing-"));
    path = join(dir, "postfix.sock");
    requests = [];
    closings = [];
    await new Promise<void>((resolve, reject) => {
      server = listenForRequests({
        transport: { path },
        framing: new PostfixFraming(256, 300),
        maxConnections: 100,
        onBusy() {},
        timeoutMs: 300,
        onRequest(request, responder) {
          const text = new TextDecoder().decode(request);
          if (request.length > 256) return responder.drop(); // as the Postfix listener does
          requests.push(text);
          const n = requests.length;
          // Answered later, as the counters actor does, and at once for the second: both must work.
          // A request whose first attribute is `slow` waits long enough for the client to send more.
          if (text.startsWith("slow")) setTimeout(() => responder.reply(`action=dunno ${n}\n\n`), 150);
          else if (n % 2 === 1) setTimeout(() => responder.reply(`action=dunno ${n}\n\n`), 5);
          else responder.reply(`action=dunno ${n}\n\n`);
        },
        onTimeout(_bytes, responder) {
          responder.reply("never: the Postfix framing closes an idle connection silently");
        },
        onClientError() {},
        onClosed: (reason, bytes) => closings.push(`${reason} (${bytes} bytes)`),
        onError: reject,
        onListening: () => resolve(),
      });
    });
  });
  afterEach(() => {
    server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A connection and everything it has received so far; `closed` once the server ended it. */
  const connect = () => {
    const socket = net.createConnection({ path });
    const state = { socket, received: "", closed: false };
    socket.on("data", (chunk) => state.received += chunk);
    socket.on("end", () => state.closed = true);
    socket.on("error", () => state.closed = true);
    return new Promise<typeof state>((resolve) => socket.on("connect", () => resolve(state)));
  };
  const until = async (check: () => boolean) => {
    for (let i = 0; i < 200 && !check(); i++) await sleep(5);
    assert.ok(check(), "in time");
  };

  it("answers two requests in turn on one connection, which stays open", async () => {
    const client = await connect();
    client.socket.write("request=smtpd_access_policy\nsender=a@example.org\n\n");
    await until(() => client.received === "action=dunno 1\n\n");
    // The second request comes in two parts, its empty line split between them.
    client.socket.write("request=smtpd_access_policy\nsender=b@example.org\n");
    await sleep(20);
    client.socket.write("\n");
    await until(() => client.received === "action=dunno 1\n\naction=dunno 2\n\n");
    assert.deepEqual(requests, [
      "request=smtpd_access_policy\nsender=a@example.org\n\n",
      "request=smtpd_access_policy\nsender=b@example.org\n\n",
    ]);
    assert.equal(client.closed, false);
    client.socket.destroy();
  });

  it("answers requests sent ahead in one write one after the other, in order", async () => {
    const client = await connect();
    client.socket.write("a=1\n\nb=2\n\nc=3\n\n");
    await until(() => requests.length === 3 && client.received.split("\n\n").length === 4);
    assert.deepEqual(requests, ["a=1\n\n", "b=2\n\n", "c=3\n\n"]);
    assert.equal(client.received, "action=dunno 1\n\naction=dunno 2\n\naction=dunno 3\n\n");
    client.socket.destroy();
  });

  it("closes a connection idle past idleMs, without an answer", async () => {
    const client = await connect();
    client.socket.write("a=1\n\n");
    await until(() => client.received === "action=dunno 1\n\n");
    await until(() => client.closed);
    assert.equal(client.received, "action=dunno 1\n\n");
  });

  it("hands an over-long request over, whose listener may close the connection unanswered", async () => {
    const client = await connect();
    client.socket.write(`sender=${"x".repeat(300)}\n`);
    await until(() => client.closed);
    assert.equal(client.received, "");
    assert.deepEqual(requests, []);
  });

  it("in a drain, ends a connection after its answer and closes an idle one", async () => {
    const idle = await connect();
    idle.socket.write("a=1\n\n");
    await until(() => idle.received === "action=dunno 1\n\n");
    const busy = await connect();
    busy.socket.write("b=2\n\n"); // answered at once, held by the drain until it closes the listener
    await until(() => requests.length === 2);
    assert.equal(await server.drain(2000), 0);
    await until(() => idle.closed && busy.closed);
    assert.equal(idle.received, "action=dunno 1\n\n");
    assert.equal(busy.received, "action=dunno 2\n\n");
  });

  it("answers a request in flight when the client half-closes, then ends", async () => {
    const client = await connect();
    client.socket.end("a=1\n\n");
    await until(() => client.closed);
    assert.equal(client.received, "action=dunno 1\n\n");
  });

  it("answers every request sent ahead of a half-close, the first answered later, then ends", async () => {
    const client = await connect();
    client.socket.end("slow=1\n\nb=2\n\nc=3\n\n");
    await until(() => client.closed);
    assert.equal(client.received, "action=dunno 1\n\naction=dunno 2\n\naction=dunno 3\n\n");
    assert.deepEqual(closings, []);
  });

  it("takes a hundred requests sent in one write in order, each whole", async () => {
    const client = await connect();
    const sent = Array.from({ length: 100 }, (_, i) => `n=${i}\nsender=s${i}@example.org\n\n`);
    client.socket.write(sent.join(""));
    await until(() => requests.length === 100 && client.received.split("\n\n").length === 101);
    assert.deepEqual(requests, sent);
    assert.equal(client.received, sent.map((_, i) => `action=dunno ${i + 1}\n\n`).join(""));
    client.socket.destroy();
  });

  it("keeps a request's bound sent ahead of an answer; past it, answers, closes and says why", async () => {
    const client = await connect();
    client.socket.write("slow=1\n\n");
    await until(() => requests.length === 1);
    client.socket.write("b=2\n\n"); // within the bound (256 bytes): answered in turn
    await sleep(20);
    client.socket.write(`c=${"x".repeat(300)}\n\n`);
    await until(() => client.closed);
    assert.equal(client.received, "action=dunno 1\n\n");
    assert.deepEqual(closings, ["sent more than max_request_size ahead of its answer (309 bytes)"]);
    assert.deepEqual(requests, ["slow=1\n\n"]);
  });

  it("closes a connection that stops in the middle of a request, and says so", async () => {
    const client = await connect();
    client.socket.write("a=1\nb=2\n");
    await until(() => client.closed);
    assert.equal(client.received, "");
    assert.deepEqual(closings, ["no complete request within the timeout (8 bytes)"]);
  });
  it("closes a connection whose client ends in the middle of a request, and says so", async () => {
    const client = await connect();
    client.socket.end("a=1\nb=2\n");
    await until(() => client.closed);
    assert.equal(client.received, "");
    assert.deepEqual(closings, ["the client ended in the middle of a request (8 bytes)"]);
  });
});

describe("listenForRequests with the Postfix framing: a client that does not read its answers", () => {
  it("is closed once its answers fill the socket, and the server says why and goes on", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mailpolicyd-framing-"));
    const path = join(dir, "postfix.sock");
    const closings: string[] = [];
    let answered = 0;
    const server = await new Promise<RequestServer>((resolve, reject) => {
      const started: RequestServer = listenForRequests({
        transport: { path },
        framing: new PostfixFraming(256, 5000),
        maxConnections: 100,
        onBusy() {},
        timeoutMs: 5000,
        onRequest(_request, responder) {
          answered++;
          responder.reply(`action=DEFER_IF_PERMIT ${"a long text ".repeat(8)}${answered}\n\n`);
        },
        onTimeout() {},
        onClientError() {},
        onClosed: (reason) => closings.push(reason),
        onError: reject,
        onListening: () => resolve(started),
      });
    });
    try {
      const socket = net.createConnection({ path });
      let closed = false;
      socket.on("end", () => closed = true);
      socket.on("close", () => closed = true);
      socket.on("error", () => closed = true);
      await new Promise((resolve) => socket.on("connect", resolve));
      socket.pause(); // reads nothing: the answers (~110 bytes each) pile up
      const requests = "a=1\n\n".repeat(2000);
      for (let i = 0; i < 20 && closings.length === 0; i++) {
        socket.write(requests); // 40 000 requests, 4.4 MB of answers at most
        await sleep(20);
      }
      for (let i = 0; i < 200 && closings.length === 0; i++) await sleep(10);
      assert.deepEqual(closings, ["the client does not read its answers"]);
      socket.resume();
      for (let i = 0; i < 200 && !closed; i++) await sleep(10);
      assert.ok(closed, "the server closed the connection");
      // A well-behaved client is served as before.
      const next = net.createConnection({ path });
      let received = "";
      next.on("data", (chunk) => received += chunk);
      next.on("error", () => {});
      next.write("b=2\n\n");
      for (let i = 0; i < 200 && !received.endsWith("\n\n"); i++) await sleep(10);
      assert.match(received, /^action=DEFER_IF_PERMIT a long text .*\n\n$/);
      next.destroy();
    } finally {
      server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
