// The spamd front's framing: a head up to an empty line, then Content-length bytes; a message over the
// bound read to its end but kept only up to it. Pure, then driving the request server on a Unix socket
// with split writes, CRLF and LF heads, an over-size message and a half-close.
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ENDS_AT_CLOSE, lengthKnown, SpamdFraming } from "../../../src/listeners/framing.ts";
import { listenForRequests, type RequestServer } from "../../../src/listeners/request-server.ts";
import { parseSpamdRequest } from "../../../src/protocols/spamd-front.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("SpamdFraming.requestEnd", () => {
  const framing = new SpamdFraming(1024, 4096);
  const request = "REPORT SPAMC/1.2\r\nUser: nobody\r\nContent-length: 5\r\n\r\nhello";
  it("ends after the head and Content-length bytes", () => {
    assert.equal(framing.requestEnd(bytes(request), 0), request.length);
    assert.equal(framing.requestEnd(bytes(request + "more"), 0), request.length);
    assert.equal(framing.requestEnd(bytes("CHECK SPAMC/1.5\nContent-length: 2\n\nhi"), 0), 37);
  });
  it("finds no end before the last byte; once the head is in, says the length it declares", () => {
    const headEnd = request.indexOf("\r\n\r\n") + 4;
    for (let size = 0; size < request.length; size++) {
      const expected = size < headEnd ? -1 : lengthKnown(request.length);
      assert.equal(framing.requestEnd(bytes(request.slice(0, size)), 0), expected, String(size));
    }
  });
  it("finds the head's end from `from` on, as if every byte came in its own chunk", () => {
    for (const text of [request, "CHECK SPAMC/1.5\nContent-length: 2\n\nhi", "PING SPAMC/1.2\r\n"]) {
      let end = -1;
      let size = 0;
      while (end === -1 && size < text.length) {
        size++;
        end = framing.requestEnd(bytes(text.slice(0, size)), size - 1);
      }
      assert.equal(end, framing.requestEnd(bytes(text.slice(0, size)), 0), JSON.stringify(text));
      assert.notEqual(end, -1);
    }
  });
  it("ends PING and SKIP at their head; a message without Content-length at the half-close", () => {
    assert.equal(framing.requestEnd(bytes("PING SPAMC/1.5\r\n\r\n"), 0), 18);
    assert.equal(framing.requestEnd(bytes("PING SPAMC/1.2\r\n"), 0), 16);
    assert.equal(
      framing.requestEnd(bytes("CHECK SPAMC/1.1\r\n\r\nSubject: x\n"), 0),
      lengthKnown(ENDS_AT_CLOSE),
    );
    assert.equal(framing.halfCloseIsEnd, true);
  });
  it("ends a request at its head when its Content-length is no number of 1 to 15 digits", () => {
    for (const value of ["-5", "99999999999999999999", "", "0x10", "5 5"]) {
      const head = `CHECK SPAMC/1.5\r\nContent-length: ${value}\r\n\r\n`;
      assert.equal(framing.requestEnd(bytes(head + "Subject: x\n"), 0), head.length, value);
    }
    const twice = "CHECK SPAMC/1.5\r\ncontent-LENGTH: 2\r\nContent-length: -1\r\n\r\n";
    assert.equal(framing.requestEnd(bytes(twice + "hi"), 0), twice.length);
  });
  it("declares the full length of a message over the bound, so that it is read to its end", () => {
    const head = "CHECK SPAMC/1.5\r\nContent-length: 100000\r\n\r\n";
    assert.equal(framing.requestEnd(bytes(head + "x".repeat(10)), 0), lengthKnown(head.length + 100000));
    assert.equal(framing.requestEnd(bytes("CHECK SPAMC/1.5\r\nContent-le"), 0), -1);
  });
  it("reads a head over maxHeadBytes (every recipient of an rspamd head) within the request's bound", () => {
    const head = `CHECK RSPAMC/1.3\r\nContent-length: 5\r\n${
      "Rcpt: <someone@example.net>\r\n".repeat(100)
    }\r\n`;
    assert.ok(head.length > 1024);
    assert.equal(framing.requestEnd(bytes(`${head}hello`), 0), head.length + 5);
    const parsed = parseSpamdRequest(bytes(`${head}hello`), 4096, 1024);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    assert.equal(parsed.request.envelope.recipients.length, 100);
    assert.equal(parsed.request.truncated, false);
  });
  it("a head over maxHeadBytes takes its excess from the message's bound: never more than maxBytes held", () => {
    const head = `CHECK SPAMC/1.5\r\nContent-length: 4096\r\nX-Pad: ${"p".repeat(2000)}\r\n\r\n`;
    const kept = framing.maxBytes - head.length;
    const parsed = parseSpamdRequest(bytes(head + "m".repeat(kept)), 4096, 1024);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    assert.equal(parsed.request.message.length, kept);
    assert.equal(parsed.request.size, 4096);
    assert.equal(parsed.request.truncated, true);
  });
  it("takes bytes without a head's end past the whole bound as garbage at once, complete as they are", () => {
    const junk = bytes("X".repeat(6000));
    assert.equal(framing.requestEnd(junk, 0), 6000);
    assert.equal(framing.requestEnd(bytes("X".repeat(2000)), 0), -1);
    assert.match(JSON.stringify(parseSpamdRequest(junk, 4096, 1024)), /without an empty line/);
  });
});

describe("listenForRequests with the spamd framing", () => {
  let dir: string;
  let server: RequestServer;
  let path: string;
  let requests: { size: number; kept: number; truncated: boolean; text: string }[];
  const maxMessage = 2048;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "mailpolicyd-spamd-framing-"));
    path = join(dir, "spamd.sock");
    requests = [];
    await new Promise<void>((resolve, reject) => {
      server = listenForRequests({
        transport: { path },
        framing: new SpamdFraming(1024, maxMessage),
        maxConnections: 2,
        onBusy() {},
        timeoutMs: 2000,
        onRequest(request, responder) {
          const parsed = parseSpamdRequest(request, maxMessage);
          if (!parsed.ok) return responder.reply(`error ${parsed.reason}`);
          const { size, message, truncated } = parsed.request;
          requests.push({ size, kept: message.length, truncated, text: new TextDecoder().decode(message) });
          setTimeout(() => responder.reply(`ok ${size}`), 5);
        },
        onTimeout(_bytes, responder) {
          responder.reply("timeout");
        },
        onClientError() {},
        onClosed() {},
        onError: reject,
        onListening: () => resolve(),
      });
    });
  });
  afterEach(() => {
    server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Writes the chunks one by one (a pause between), half-closes if asked, resolves with the reply. */
  const exchange = (chunks: (string | Uint8Array)[], halfClose = false) =>
    new Promise<string>((resolve) => {
      const socket = net.createConnection({ path, allowHalfOpen: true });
      let received = "";
      socket.on("data", (chunk) => received += chunk);
      socket.on("end", () => {
        socket.end();
        resolve(received);
      });
      socket.on("error", () => resolve(received));
      socket.on("connect", async () => {
        for (const chunk of chunks) {
          socket.write(chunk);
          await sleep(10);
        }
        if (halfClose) socket.end();
      });
    });

  it("collects a request split across writes, the empty line and the message split too", async () => {
    const reply = await exchange(["REPORT SPAMC/1.2\r\nContent-", "length: 11\r\n\r", "\nhello", " world"]);
    assert.equal(reply, "ok 11");
    assert.deepEqual(requests, [{ size: 11, kept: 11, truncated: false, text: "hello world" }]);
  });

  it("reads a message over the bound to its end, keeps the bound, answers after the last byte", async () => {
    const chunk = bytes("y".repeat(1000));
    const chunks: (string | Uint8Array)[] = ["CHECK SPAMC/1.5\r\nContent-length: 20000\r\n\r\n"];
    for (let i = 0; i < 20; i++) chunks.push(chunk);
    const reply = await exchange(chunks);
    assert.equal(reply, "ok 20000");
    assert.equal(requests[0].kept, maxMessage);
    assert.equal(requests[0].truncated, true);
    assert.equal(requests[0].size, 20000);
  });

  it("takes a message without Content-length at the half-close", async () => {
    const reply = await exchange(["CHECK SPAMC/1.1\n\n", "Subject: x\n\nbody\n"], true);
    assert.equal(reply, "ok 17");
  });

  it("answers a request cut short by a half-close with the parser's reason", async () => {
    const reply = await exchange(["CHECK SPAMC/1.5\r\nContent-length: 50\r\n\r\nshort"], true);
    assert.match(reply, /^error Content-length mismatch: expected 50 bytes, got 5/);
  });

  it("answers a Content-length that is no number at once, as spamd does, not at the timeout", async () => {
    // The client does not half-close: the head alone must say the request is refused.
    for (const value of ["-5", "99999999999999999999"]) {
      const reply = await exchange([`CHECK SPAMC/1.5\r\nContent-length: ${value}\r\n\r\nSubject: x\n\nhi\n`]);
      assert.equal(reply, `error bad Content-length: ${value}`);
    }
    assert.deepEqual(requests, []);
  });

  it("answers a client past max connections in spamd's words (EX_TEMPFAIL)", async () => {
    const held = [0, 1].map(() => net.createConnection({ path }));
    await sleep(50);
    // (A client that has already written may get a reset instead; Exim then defers the condition too.)
    const reply = await exchange([]);
    assert.match(reply, /^SPAMD\/1\.0 75 EX_TEMPFAIL busy/);
    for (const socket of held) socket.destroy();
  });
});
