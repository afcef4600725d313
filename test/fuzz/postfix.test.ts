// Properties of the Postfix policy codec and framing (src/protocols/postfix-policy.ts,
// src/listeners/framing.ts) and of the byte search they rest on (src/runtime.ts): each answers as a plain,
// slow model of the same rule does, for any bytes, so that their speed-ups (a native search for the empty
// line, names looked up in a table) change nothing they say.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, it } from "node:test";
import fc from "fast-check";
import { PostfixFraming } from "../../src/listeners/framing.ts";
import { KNOWN_ATTRIBUTES } from "../../src/protocols/attributes.ts";
import { decodeXtext, parsePostfixRequest, POSTFIX_REQUEST } from "../../src/protocols/postfix-policy.ts";
import { indexOfBytes, indexOfBytesLoop } from "../../src/runtime.ts";
import { checkProperty } from "./runs.ts";

/** Where `needle` first occurs in `haystack` at or after `from`: byte by byte. */
function modelIndexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  for (let at = Math.max(0, from); at + needle.length <= haystack.length; at++) {
    let matched = 0;
    while (matched < needle.length && haystack[at + matched] === needle[matched]) matched++;
    if (matched === needle.length) return at;
  }
  return -1;
}

/** The Postfix framing's rule, byte by byte: just past the first newline followed by "\n" or "\r\n". */
function modelRequestEnd(bytes: Uint8Array, from: number): number {
  for (let i = Math.max(0, from - 2); i < bytes.length; i++) {
    if (bytes[i] !== 0x0a) continue;
    if (i === 0) return 1;
    if (bytes[i + 1] === 0x0a) return i + 2;
    if (bytes[i + 1] === 0x0d && bytes[i + 2] === 0x0a) return i + 3;
  }
  return -1;
}

const READ_NAMES = [
  ...KNOWN_ATTRIBUTES.filter((name) => name !== "subject"),
  "request",
  "protocol_state",
  "ccert_subject",
  "ccert_issuer",
];

/** Each line read as UTF-8 if it is, else as Latin-1. */
function modelDecode(bytes: Uint8Array): string {
  const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x0a) continue;
    const line = bytes.slice(start, i);
    try {
      lines.push(strict.decode(line));
    } catch {
      lines.push(Buffer.from(line).toString("latin1"));
    }
    start = i + 1;
  }
  return lines.join("\n");
}

/** The codec's rule, line by line with a regular expression. */
function modelParse(bytes: Uint8Array): unknown {
  const text = modelDecode(bytes);
  const read: Record<string, string> = {};
  const certificate: Record<string, string> = {};
  let ignored = 0;
  const lines = text.split("\n");
  for (let number = 1; number <= lines.length; number++) {
    let line = lines[number - 1];
    if (number === lines.length && line === "") break; // after the last newline
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line === "") break;
    const match = /^([A-Za-z0-9_]+)=/.exec(line);
    if (!match) return { ok: false, reason: `line ${number} is not name=value` };
    const [, name] = match;
    const value = line.slice(name.length + 1);
    if (!READ_NAMES.includes(name)) ignored++;
    else if (name.startsWith("ccert_")) {
      if (value !== "") certificate[name] = decodeXtext(value);
    } else read[name] = value;
  }
  const { request, protocol_state: state, ...attributes } = read;
  if (request !== POSTFIX_REQUEST) {
    return {
      ok: false,
      reason: request === undefined ? "no request attribute" : `unknown request ${request}`,
    };
  }
  if (state === undefined) return { ok: false, reason: "no protocol_state" };
  return {
    ok: true,
    state,
    attributes,
    certificate: Object.keys(certificate).length ? certificate : undefined,
    ignored,
  };
}

// Bytes that steer the framing: newlines, carriage returns and a few others.
const framingBytes = fc.uint8Array({ maxLength: 60 }).map((bytes) =>
  bytes.map((byte) => [0x0a, 0x0a, 0x0d, 0x61, 0x3d][byte % 5])
);

// A request block as Postfix might (or should not) send it: names read and not, names that are not names,
// values with "=", spaces, "+XX", non-ASCII and invalid UTF-8, LF or CRLF, and bytes after the empty line.
const name = fc.oneof(
  { weight: 24, arbitrary: fc.constantFrom(...READ_NAMES) },
  {
    weight: 4,
    arbitrary: fc.constantFrom("protocol_name", "client_port", "instancex", "sende", "stress", "SENDER"),
  },
  { weight: 1, arbitrary: fc.constantFrom("", "bad name", "a-b", "é") },
);
const value = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("RCPT", "a@example.org", "", "192.0.2.1", "CN+3Dx") },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }).map((text) => text.replace(/[\r\n]/g, "")) },
  { weight: 1, arbitrary: fc.constantFrom("jörg", "a=b c", "\uFFFD", POSTFIX_REQUEST) },
);
const line = fc.tuple(name, value, fc.constantFrom("\n", "\r\n"), fc.nat(40)).map(([n, v, end, dice]) =>
  Buffer.from(dice > 0 ? `${n}=${v}${end}` : `${n}${end}`) // one line in 41 without "="
);
// Most blocks begin as Postfix's do, so that most are read and their attributes compared.
const head = fc.constantFrom(
  `request=${POSTFIX_REQUEST}\nprotocol_state=RCPT\n`,
  `request=${POSTFIX_REQUEST}\r\nprotocol_state=END-OF-MESSAGE\r\n`,
  `request=${POSTFIX_REQUEST}\n`,
  "",
);
const block = fc.tuple(
  head,
  fc.array(line, { maxLength: 10 }),
  fc.constantFrom("\n", "\r\n", ""),
  fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 8 })),
  fc.nat(9),
).map(([start, lines, end, after, dice]) => {
  const bytes = Buffer.concat([Buffer.from(start), ...lines, Buffer.from(end), after]);
  return dice === 0 ? Buffer.concat([bytes, Uint8Array.of(0xf6)]) : bytes; // one in ten not UTF-8
});

describe("fuzz: Postfix framing and codec", () => {
  it("finds bytes where a byte-by-byte search does, natively and in the loop", () => {
    checkProperty(
      "postfix: byte search",
      fc.tuple(framingBytes, fc.uint8Array({ minLength: 1, maxLength: 3 }), fc.nat(62)),
      ([haystack, seed, from]) => {
        const needle = seed.map((byte) => [0x0a, 0x0d, 0x61][byte % 3]);
        const expected = modelIndexOf(haystack, needle, from);
        assert.equal(indexOfBytesLoop(haystack, needle, from), expected);
        assert.equal(indexOfBytes(haystack, needle, from), expected);
      },
    );
  });

  it("ends a request where a byte-by-byte scan for the empty line does, from any offset", () => {
    const framing = new PostfixFraming(4096, 1000);
    checkProperty("postfix: framing", fc.tuple(framingBytes, fc.nat(62)), ([bytes, offset]) => {
      const from = Math.min(offset, bytes.length);
      assert.equal(framing.requestEnd(bytes, from), modelRequestEnd(bytes, from));
    });
  });

  it("reads any block as a line-by-line model does: the same attributes, or the same refusal", () => {
    checkProperty("postfix: blocks", block, (bytes) => {
      const parsed = parsePostfixRequest(bytes);
      const expected = modelParse(bytes);
      if (!parsed.ok) return assert.deepEqual(parsed, expected);
      const { state, attributes, certificate, ignored } = parsed.request;
      assert.deepEqual({ ok: true, state, attributes, certificate, ignored }, expected);
    });
  });
});
