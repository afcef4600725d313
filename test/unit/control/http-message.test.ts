// The control listeners' HTTP/1.1: cutting a request, parsing it, writing a response.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  BODY_BYTES,
  errorResponse,
  HEAD_BYTES,
  HttpFraming,
  parseHttpRequest,
  responseBytes,
} from "../../../src/control/http-message.ts";
import { lengthKnown } from "../../../src/listeners/framing.ts";
import { MAX_KEY_LENGTH, MAX_KEY_PART_LENGTH } from "../../../src/policy/limit-key.ts";
import { senderPath } from "../../../src/cli/control-commands.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);
const framing = new HttpFraming();

describe("HttpFraming.requestEnd", () => {
  it("ends a request without a body at its empty line, and waits before it", () => {
    const request = "GET /health HTTP/1.1\r\nhost: localhost\r\n\r\n";
    assert.equal(framing.requestEnd(bytes(request), 0), request.length);
    assert.equal(framing.requestEnd(bytes(request + "GET / HTTP/1.1\r\n\r\n"), 0), request.length);
    assert.equal(framing.requestEnd(bytes(request.slice(0, -1)), 0), -1);
  });
  it("waits for the body its Content-Length declares, in any case of the name", () => {
    const head = "POST /reload HTTP/1.1\r\nContent-LENGTH: 5\r\n\r\n";
    // Its length known from the head: the server waits for it without asking again.
    assert.equal(framing.requestEnd(bytes(head + "abc"), 0), lengthKnown(head.length + 5));
    assert.equal(framing.requestEnd(bytes(head + "abcde"), 0), head.length + 5);
  });
  it("ends a head declaring a body over the bound at the head (refused by the parser)", () => {
    const head = `POST /reload HTTP/1.1\r\ncontent-length: ${BODY_BYTES + 1}\r\n\r\n`;
    assert.equal(framing.requestEnd(bytes(head), 0), head.length);
  });
  // Waiting for maxBytes (HEAD_BYTES + BODY_BYTES), a head a little over HEAD_BYTES, all sent, was answered
  // only by the timeout (408): the CLI gave up first and said the daemon did not answer.
  it("hands a head over HEAD_BYTES over at once, which the parser refuses with 431", () => {
    const long = "GET / HTTP/1.1\r\nx: " + "a".repeat(HEAD_BYTES) + "\r\n\r\n";
    assert.equal(framing.requestEnd(bytes(long), 0), long.length);
    assert.equal(framing.requestEnd(bytes(long.slice(0, HEAD_BYTES)), HEAD_BYTES - 10), HEAD_BYTES);
    assert.equal(framing.requestEnd(bytes(long.slice(0, HEAD_BYTES - 1)), 0), -1, "may still end");
    for (const cut of [long, long.slice(0, HEAD_BYTES)]) {
      assert.deepEqual(parseHttpRequest(bytes(cut)), {
        status: 431,
        reason: `request head over ${HEAD_BYTES} bytes`,
      });
    }
    // No reply of the server's own for bytes past maxBytes: the parser, which sees where a request ends.
    assert.equal(framing.overLongReply, undefined);
  });
  it("looks for the head's end from where it stopped, an end split across chunks too", () => {
    const request = "GET / HTTP/1.1\r\nhost: x\r\n\r\n";
    for (let cut = 1; cut < request.length; cut++) {
      assert.equal(framing.requestEnd(bytes(request.slice(0, cut)), 0), -1);
      assert.equal(framing.requestEnd(bytes(request), cut), request.length, `after ${cut} bytes`);
    }
  });
  it("holds a head with the longest key a limit counts, percent-encoded", () => {
    const key = Array.from({ length: 8 }, () => "\u6f22".repeat(MAX_KEY_PART_LENGTH)).join("|");
    assert.equal(key.length, MAX_KEY_LENGTH);
    const request = `DELETE ${senderPath(key)} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`;
    assert.equal(framing.requestEnd(bytes(request), 0), request.length);
    assert.ok(!("status" in parseHttpRequest(bytes(request))));
  });
});

describe("parseHttpRequest", () => {
  it("reads the method, the target, the headers (names in lower case) and the body", () => {
    const parsed = parseHttpRequest(
      bytes("DELETE /senders/a%2Fb HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"),
    );
    assert.ok(!("status" in parsed));
    assert.equal(parsed.method, "DELETE");
    assert.equal(parsed.target, "/senders/a%2Fb");
    assert.deepEqual(parsed.headers, [["host", "x"], ["content-length", "2"]]);
    assert.equal(text(parsed.body!), "hi");
  });
  it("refuses what is not a request it serves, with a status and a reason", () => {
    const status = (request: string) => {
      const parsed = parseHttpRequest(bytes(request));
      return "status" in parsed ? parsed.status : 200;
    };
    assert.equal(status("GET / HTTP/1.1\r\n"), 400); // no empty line (a half-close)
    assert.equal(status("\x00\x01 garbage\r\n\r\n"), 400);
    assert.equal(status("GET http://elsewhere/ HTTP/1.1\r\n\r\n"), 400); // only origin-form targets
    assert.equal(status("GET / HTTP/2.0\r\n\r\n"), 400);
    assert.equal(status("GET / HTTP/1.1\r\nno colon here\r\n\r\n"), 400);
    assert.equal(status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 411);
    assert.equal(status(`POST / HTTP/1.1\r\nContent-Length: ${BODY_BYTES + 1}\r\n\r\n`), 413);
    assert.equal(status("POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nshort"), 400);
    assert.equal(status("BREW /pot HTTP/1.0\r\n\r\n"), 501);
    // The framing cuts these at the head (no length of up to 15 digits): served, they ran as bodiless.
    assert.equal(status("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"), 413);
    for (const length of ["-1", "5x", "1e3", "0x10", "2, 2", ""]) {
      const parsed = parseHttpRequest(bytes(`POST / HTTP/1.1\r\nContent-Length: ${length}\r\n\r\n`));
      assert.deepEqual(
        parsed,
        { status: 400, reason: "a Content-Length that is not one whole number" },
        length,
      );
    }
    assert.equal(status("POST / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 9000\r\n\r\nab"), 400);
    assert.equal(status("POST / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nab"), 200);
    assert.equal(status("PATCH /pot HTTP/1.0\r\n\r\n"), 200); // a known one is the API's to answer
  });
});

describe("responseBytes and errorResponse", () => {
  it("writes the status, the headers, the length and `connection: close`; HEAD without the body", async () => {
    const response = () =>
      new Response('{"ok":true}', { status: 201, headers: { "content-type": "application/json" } });
    const full = text(await responseBytes(response(), "GET"));
    const [head, body] = full.split("\r\n\r\n");
    const lines = head.split("\r\n");
    assert.match(lines[0], /^HTTP\/1\.1 201 /);
    assert.ok(lines.includes("content-type: application/json"));
    assert.ok(lines.includes("content-length: 11"));
    assert.ok(lines.includes("connection: close"));
    assert.equal(body, '{"ok":true}');
    assert.ok(text(await responseBytes(response(), "HEAD")).endsWith("connection: close\r\n\r\n"));
  });
  it("counts the length of a body in bytes, not characters", async () => {
    const full = text(await responseBytes(new Response("é€"), "GET"));
    assert.ok(full.includes("content-length: 5\r\n"));
    const error = errorResponse(503, "plein à craquer");
    assert.match(error, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    const [errorHead, errorBody] = error.split("\r\n\r\n");
    assert.deepEqual(JSON.parse(errorBody), { error: "plein à craquer" });
    assert.ok(errorHead.includes(`content-length: ${bytes(errorBody).length}`));
  });
});
