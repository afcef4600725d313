// Properties of the framings added for the control listeners and the spamd front: any bytes, split
// anywhere, give the same end as the whole; the HTTP parser answers every cut request without throwing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { HttpFraming, parseHttpRequest } from "../../src/control/http-message.ts";
import { lengthKnown, SpamdFraming } from "../../src/listeners/framing.ts";
import { checkProperty } from "./runs.ts";

const text = (parts: string[]) => new TextEncoder().encode(parts.join(""));
// Heads made of the pieces that steer the parsers: verb lines, header lines, CR, LF, lengths, junk.
const piece = fc.oneof(
  fc.constantFrom(
    "GET /status HTTP/1.1\r\n",
    "POST /reload HTTP/1.0\r\n",
    "CHECK SPAMC/1.5\r\n",
    "PING SPAMC/1.2\r\n",
    "SKIP SPAMC/1.5\n",
    "Content-length: 3\r\n",
    "content-length: 0\n",
    "Transfer-Encoding: chunked\r\n",
    "Host: localhost\r\n",
    "\r\n",
    "\n",
    "\r",
    "abc",
  ),
  fc.string({ maxLength: 8 }),
);
const request = fc.array(piece, { maxLength: 12 }).map(text);

/** The end the framing finds when the bytes come in chunks of these sizes (from = what it saw before). */
function endInChunks(
  framing: { requestEnd(bytes: Uint8Array, from: number): number },
  bytes: Uint8Array,
  cuts: number[],
) {
  let seen = 0;
  for (const cut of [...cuts.filter((at) => at < bytes.length).sort((a, b) => a - b), bytes.length]) {
    if (cut <= seen) continue;
    const end = framing.requestEnd(bytes.subarray(0, cut), seen);
    if (end !== -1) return { end, at: cut };
    seen = cut;
  }
  return { end: -1, at: bytes.length };
}

describe("fuzz: spamd and HTTP framings", () => {
  it("spamd: a request in chunks ends where the whole, cut at the same length, does", () => {
    const framing = new SpamdFraming(64, 256);
    checkProperty(
      "framing: spamd chunks",
      fc.tuple(request, fc.array(fc.nat(80), { maxLength: 6 })),
      ([bytes, cuts]) => {
        const { end, at } = endInChunks(framing, bytes, cuts);
        assert.equal(end, framing.requestEnd(bytes.subarray(0, at), 0));
        assert.ok(end === -1 || end <= lengthKnown(0) || end <= at, `end ${end} past ${at}`);
      },
    );
  });

  it("http: every cut request is parsed or refused with a status, never thrown", () => {
    const framing = new HttpFraming();
    checkProperty(
      "framing: http",
      fc.tuple(request, fc.array(fc.nat(80), { maxLength: 6 })),
      ([bytes, cuts]) => {
        const { end, at } = endInChunks(framing, bytes, cuts);
        // A head whose body is still coming says the request's length (lengthKnown), as spamd's does.
        assert.ok(end === -1 || end <= lengthKnown(0) || (end >= 0 && end <= at), `end ${end} past ${at}`);
        const parsed = parseHttpRequest(end >= 0 ? bytes.subarray(0, end) : bytes);
        if ("status" in parsed) assert.ok(parsed.status >= 400 && parsed.reason.length > 0);
        else assert.match(parsed.target, /^\//);
      },
    );
  });
});
