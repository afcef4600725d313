import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  formatErrorReply,
  formatLegacyReply,
  MAX_REQUEST_BYTES,
  parseReadsocketRequest,
} from "../../../src/protocols/readsocket.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const parse = (text: string) => parseReadsocketRequest(bytes(text));

function invalidReason(input: Uint8Array): string {
  const request = parseReadsocketRequest(input);
  if (request.kind !== "invalid") throw new Error(`accepted as ${JSON.stringify(request)}`);
  assert.ok(request.reason.length > 0);
  return request.reason;
}

describe("parseReadsocketRequest", () => {
  it("reads one address, with or without the newline Exim sends", () => {
    assert.deepEqual(parse("user@example.org\n"), { kind: "legacy", key: "user@example.org" });
    assert.deepEqual(parse("user@example.org"), { kind: "legacy", key: "user@example.org" });
  });

  it("lower-cases the key so case variants count as one sender", () => {
    assert.deepEqual(parse("Spam.Er@Example.ORG\n"), { kind: "legacy", key: "spam.er@example.org" });
    assert.deepEqual(parse("JÖRG@Example.org\n"), { kind: "legacy", key: "jörg@example.org" });
  });

  it("counts an empty sender (a bounce) as <>", () => {
    for (const text of ["", "\n", "\r\n", "   \n", "<>\n", " <> "]) {
      assert.deepEqual(parse(text), { kind: "legacy", key: "<>" }, JSON.stringify(text));
    }
  });

  it("strips a CRLF line ending and surrounding blanks", () => {
    assert.deepEqual(parse("  a@x \r\n"), { kind: "legacy", key: "a@x" });
  });

  it("reads only up to the first newline", () => {
    assert.deepEqual(parse("a@x\nb@y\n"), { kind: "legacy", key: "a@x" });
  });

  it("rejects two tokens", () => {
    assert.match(invalidReason(bytes("a@x b@y\n")), /one token/);
    invalidReason(bytes("a@x\tb@y\n"));
  });

  it("rejects a NUL byte", () => {
    assert.match(invalidReason(bytes("a@x\0\n")), /NUL/);
  });

  it("rejects invalid UTF-8, and the next request still decodes", () => {
    assert.match(invalidReason(new Uint8Array([0x61, 0xff, 0x0a])), /UTF-8/);
    assert.match(invalidReason(new Uint8Array([0x61, 0xc3])), /UTF-8/); // truncated sequence
    assert.deepEqual(parse("ok@x\n"), { kind: "legacy", key: "ok@x" });
  });

  it("rejects control characters, including a lone CR inside the line", () => {
    for (const text of ["a\x01b", "a\x1b[31mb", "a\x7fb", "a\rb", "a\x0bb", "a@x\r\r"]) {
      assert.match(invalidReason(bytes(text + "\n")), /control character/, JSON.stringify(text));
    }
  });

  it("accepts exactly MAX_REQUEST_BYTES and rejects one byte more", () => {
    assert.equal(MAX_REQUEST_BYTES, 4096);
    const fits = "a".repeat(4094) + "@x";
    assert.deepEqual(parse(fits + "\n"), { kind: "legacy", key: fits });
    assert.match(invalidReason(bytes("a" + fits + "\n")), /longer than 4096/);
    assert.match(invalidReason(bytes("a" + fits)), /longer than 4096/); // no newline either
  });

  it("ignores an oversize tail after the first newline", () => {
    assert.deepEqual(parse("a@x\n" + "b".repeat(10_000)), { kind: "legacy", key: "a@x" });
  });
});

describe("replies", () => {
  it("legacy replies are a bare yes or no, with no trailing newline", () => {
    assert.equal(formatLegacyReply(true), "yes");
    assert.equal(formatLegacyReply(false), "no");
  });

  it("error replies start with 'error ', are neither yes nor no, and stay on one line", () => {
    const reply = formatErrorReply("bad\r\nthing\x00here\n");
    assert.ok(reply.startsWith("error "), reply);
    assert.notEqual(reply, "yes");
    assert.notEqual(reply, "no");
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(reply, /[\x00-\x1f\x7f]/);
    assert.match(reply, /bad thing here/);
    assert.equal(formatErrorReply("NUL byte in request"), "error NUL byte in request");
  });
});
