// Properties of the policy socket's codecs (src/protocols/readsocket.ts, attributes.ts): any bytes are read
// without throwing into a legacy token, an attribute request or a refusal with a reason; what the daemon and
// Exim's ${quote:} write reads back as it was written.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type Attributes,
  formatAttributes,
  KNOWN_ATTRIBUTES,
  parseAttributes,
  quoteValue,
  STAGES,
} from "../../src/protocols/attributes.ts";
import {
  MAX_REQUEST_BYTES,
  parseReadsocketRequest,
  type ReadsocketRequest,
} from "../../src/protocols/readsocket.ts";
import { formatBadRequestReply } from "../../src/engine/reply.ts";
import { checkProperty } from "./runs.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const withBytes = (head: Uint8Array, tail: Uint8Array) => {
  const out = new Uint8Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
};
// deno-lint-ignore no-control-regex
const CONTROLS = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/;
// deno-lint-ignore no-control-regex
const CONTROLS_ALL = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/g;

// Bytes that steer the parser: blanks, quotes, backslashes, "=", NUL, CR, LF, DEL, C1 and UTF-8 lead bytes,
// the stage words; most of a line is letters so that attribute lines and tokens come up often.
const interestingByte = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0x61, max: 0x7a }) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(0x00, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x3d, 0x40, 0x5c, 0x7f, 0x80, 0x85, 0xa0),
  },
  { weight: 2, arbitrary: fc.constantFrom(0xc2, 0xc3, 0xe2, 0x80, 0xa8, 0xf0, 0x9f, 0xff, 0xfe) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xff }) },
);
const words = fc.constantFrom(
  ...STAGES.map((stage) => `${stage} `),
  "RCPT ",
  ...KNOWN_ATTRIBUTES.map((name) => `${name}=`),
  '"',
  "\\",
  "\\n",
  "\r\n",
  "\n",
  " ",
  "<>",
  "a@b.example",
  "prvs=1234=bob@example.org",
);
const lineBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  { weight: 3, arbitrary: fc.array(interestingByte, { maxLength: 300 }).map((b) => Uint8Array.from(b)) },
  {
    weight: 3,
    arbitrary: fc.array(fc.oneof(words, fc.string({ maxLength: 8, unit: "binary" })), { maxLength: 30 })
      .map((parts) => encode(parts.join(""))),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.integer({ min: MAX_REQUEST_BYTES - 4, max: MAX_REQUEST_BYTES + 4 }),
      interestingByte,
    )
      .map(([length, byte]) => new Uint8Array(length).fill(0x61).fill(byte, length - 1)),
  },
);

function checkRequest(request: ReadsocketRequest): void {
  switch (request.kind) {
    case "legacy":
      assert.ok(request.key.length > 0, "a key");
      assert.equal(request.key, request.key.toLowerCase());
      if (request.key !== "<>") assert.doesNotMatch(request.key, /\s/);
      assert.doesNotMatch(request.key, CONTROLS);
      return;
    case "attributes":
      assert.ok((STAGES as readonly string[]).includes(request.stage));
      for (const [name, value] of Object.entries(request.attributes)) {
        assert.ok((KNOWN_ATTRIBUTES as readonly string[]).includes(name), name);
        assert.equal(typeof value, "string");
        if (name !== "subject") assert.doesNotMatch(value, CONTROLS, `${name} has no control characters`);
      }
      return;
    case "invalid": {
      assert.ok(request.form === "legacy" || request.form === "attributes");
      assert.ok(request.reason.length > 0, "a reason");
      // The daemon's reply to it (policy-listener.ts): one line; in the attribute form, Exim's SMTP reply
      // text, so ASCII.
      const reply = formatBadRequestReply(request.form, request.reason);
      assert.doesNotMatch(reply, /[\r\n]/, "a refusal is one line");
      if (request.form === "attributes") {
        const back = parseAttributes("rcpt", reply);
        assert.ok(back.ok && back.ignored.length === 2, "Exim's ${extract} reads the refusal back");
        assert.doesNotMatch(reply, /[^\x20-\x7e]/, "a refusal's text is printable ASCII");
      }
      return;
    }
    default:
      assert.fail(`no such kind: ${JSON.stringify(request)}`);
  }
}

// Attribute values as an ACL's ${quote:} writes them: anything but control characters (those are cleaned,
// see the cleaning property); newlines and carriage returns are escaped by the quoting and read back.
const cleanChar = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.constantFrom("\n", "\r", '"', "\\", " ", "=", "\t") },
  // deno-lint-ignore no-control-regex
).filter((c) => !/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]/.test(c));
const cleanValue = fc.array(cleanChar, { maxLength: 40 }).map((chars) => chars.join(""));
const attributeName = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...KNOWN_ATTRIBUTES) },
  { weight: 1, arbitrary: fc.constantFrom(...KNOWN_ATTRIBUTES).map((name) => name.toUpperCase()) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,15}$/) },
);
const known = (name: string) =>
  (KNOWN_ATTRIBUTES as readonly string[]).includes(name.toLowerCase())
    ? name.toLowerCase() as keyof Attributes
    : undefined;

describe("fuzz: readsocket codec (parseReadsocketRequest)", () => {
  it("reads any bytes into a token, an attribute request or a one-line refusal, never throwing", () => {
    checkProperty(
      "readsocket: arbitrary bytes",
      lineBytes,
      (bytes) => checkRequest(parseReadsocketRequest(bytes)),
    );
  });

  it("reads only up to the first newline: what follows changes nothing", () => {
    checkProperty(
      "readsocket: only the first line counts",
      fc.tuple(lineBytes, fc.uint8Array({ maxLength: 100 })),
      ([line, tail]) => {
        const newline = line.indexOf(0x0a);
        const first = newline >= 0 ? line.subarray(0, newline + 1) : withBytes(line, Uint8Array.of(0x0a));
        assert.deepEqual(parseReadsocketRequest(withBytes(first, tail)), parseReadsocketRequest(first));
      },
    );
  });

  it("reads back what formatAttributes writes, controls cleaned as documented", () => {
    const line = fc.tuple(
      fc.constantFrom(...STAGES),
      fc.boolean(),
      fc.array(fc.tuple(attributeName, fc.oneof(cleanValue, fc.string({ unit: "binary", maxLength: 30 }))), {
        maxLength: 8,
      }),
      fc.constantFrom("", "\n", "\r\n"),
    );
    checkProperty("readsocket: attribute lines round-trip", line, ([stage, upper, fields, end]) => {
      const text = `${upper ? stage.toUpperCase() : stage} ${formatAttributes(fields)}${end}`;
      const bytes = encode(text);
      const request = parseReadsocketRequest(bytes);
      if (bytes.indexOf(0x0a) > MAX_REQUEST_BYTES || (end === "" && bytes.length > MAX_REQUEST_BYTES)) {
        assert.equal(request.kind, "invalid");
        return;
      }
      if (fields.some(([, value]) => value.includes("\0"))) {
        assert.deepEqual(request, { kind: "invalid", form: "attributes", reason: "NUL byte in request" });
        return;
      }
      if (request.kind !== "attributes") {
        assert.fail(`${JSON.stringify(text)} read as ${JSON.stringify(request)}`);
      }
      assert.equal(request.stage, stage);
      assert.equal(request.eightBit, false, "UTF-8 is read as UTF-8");
      const expected: Attributes = {};
      const ignored: string[] = [];
      for (const [name, value] of fields) {
        const canonical = known(name);
        if (!canonical) {
          ignored.push(name);
          continue;
        }
        // Raw C0 controls (all but \n and \r, which ${quote:} escapes) become blanks; outside the subject
        // every control character, a quoted \n or \r included, becomes "?".
        // deno-lint-ignore no-control-regex
        const blanked = value.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, " ");
        expected[canonical] = canonical === "subject" ? blanked : blanked.replace(CONTROLS_ALL, "?");
      }
      assert.deepEqual(request.attributes, expected);
      assert.deepEqual(request.ignored, ignored);
    });
  });

  it("reads back a single token, lower-cased, whatever surrounds it", () => {
    const tokenChar = fc.string({ unit: "binary", minLength: 1, maxLength: 1 }).filter((c) =>
      !/\s/.test(c) && !CONTROLS.test(c) && c !== "\0"
    );
    const token = fc.array(tokenChar, { minLength: 1, maxLength: 60 }).map((chars) => chars.join(""))
      .filter((text) => !(STAGES as readonly string[]).includes(text.toLowerCase()));
    checkProperty(
      "readsocket: tokens round-trip",
      fc.tuple(
        token,
        fc.constantFrom("", " ", "  ", "\t"),
        fc.constantFrom("", " ", "\t"),
        fc.constantFrom("", "\n", "\r\n"),
      ),
      ([key, before, after, end]) => {
        const request = parseReadsocketRequest(encode(`${before}${key}${after}${end}`));
        assert.deepEqual(request, { kind: "legacy", key: key.toLowerCase() });
      },
    );
  });

  it("reads a line ended by CRLF as the same line ended by LF", () => {
    checkProperty(
      "readsocket: CRLF reads as LF",
      lineBytes.map((bytes) => {
        const newline = bytes.indexOf(0x0a);
        let line = newline >= 0 ? bytes.subarray(0, newline) : bytes;
        while (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
        return line.subarray(0, MAX_REQUEST_BYTES - 1);
      }),
      (line) => {
        assert.deepEqual(
          parseReadsocketRequest(withBytes(line, Uint8Array.of(0x0d, 0x0a))),
          parseReadsocketRequest(withBytes(line, Uint8Array.of(0x0a))),
        );
      },
    );
  });
});

describe("fuzz: attribute syntax (quoteValue, formatAttributes, parseAttributes)", () => {
  // Any UTF-16 string, lone surrogates included: values are JavaScript strings here.
  const anyString = fc.oneof(
    fc.string({ unit: "binary", maxLength: 60 }),
    fc.string({ unit: fc.nat(0xffff).map((code) => String.fromCharCode(code)), maxLength: 60 }),
    fc.array(fc.constantFrom('"', "\\", "\n", "\r", "\t", " ", "=", "n", "r", "t"), { maxLength: 20 })
      .map((chars) => chars.join("")),
  );

  it("reads back every value quoteValue writes, exactly", () => {
    checkProperty("attributes: quoteValue round-trips", anyString, (value) => {
      const quoted = quoteValue(value);
      const parsed = parseAttributes("rcpt", `sender=${quoted} recipient=x`);
      assert.ok(parsed.ok, `${JSON.stringify(quoted)}: ${!parsed.ok && parsed.reason}`);
      assert.equal(parsed.attributes.sender, value);
      assert.equal(parsed.attributes.recipient, "x");
      assert.doesNotMatch(quoted, /[\r\n]/, "one line");
    });
  });

  it("reads back every line formatAttributes writes", () => {
    const fields = fc.array(
      fc.tuple(attributeName, fc.oneof(anyString, fc.integer(), fc.double(), fc.constant(undefined))),
      { maxLength: 10 },
    );
    checkProperty("attributes: formatAttributes round-trips", fields, (list) => {
      const parsed = parseAttributes("data", formatAttributes(list));
      assert.ok(parsed.ok, !parsed.ok ? parsed.reason : "");
      const expected: Attributes = {};
      const ignored: string[] = [];
      for (const [name, value] of list) {
        if (value === undefined) continue;
        const canonical = known(name);
        if (canonical) expected[canonical] = String(value);
        else ignored.push(name);
      }
      assert.deepEqual(parsed.attributes, expected);
      assert.deepEqual(parsed.ignored, ignored);
    });
  });

  it("reads any text from any offset without throwing: attributes, or a reason with its column", () => {
    const text = fc.oneof(
      anyString,
      fc.array(fc.oneof(words, anyString), { maxLength: 20 }).map((parts) => parts.join("")),
    );
    checkProperty(
      "attributes: arbitrary text",
      fc.tuple(text, fc.nat(70)),
      ([value, offset]) => {
        const start = Math.min(offset, value.length);
        const parsed = parseAttributes("helo", value, start);
        if (parsed.ok) {
          for (const [name, attribute] of Object.entries(parsed.attributes)) {
            assert.ok((KNOWN_ATTRIBUTES as readonly string[]).includes(name));
            assert.equal(typeof attribute, "string");
          }
          return;
        }
        assert.ok(parsed.reason.length > 0);
        const column = /at column (\d+)$/.exec(parsed.reason);
        if (column) assert.ok(Number(column[1]) >= 1 && Number(column[1]) <= value.length - start + 1);
      },
    );
  });
});
