import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  formatErrorReply,
  formatLegacyReply,
  MAX_REQUEST_BYTES,
  parseReadsocketRequest,
} from "../../../src/protocols/readsocket.ts";
import { quoteValue } from "../../../src/protocols/attributes.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const parse = (text: string) => parseReadsocketRequest(bytes(text));

function invalidReason(input: Uint8Array): string {
  const request = parseReadsocketRequest(input);
  if (request.kind !== "invalid") throw new Error(`accepted as ${JSON.stringify(request)}`);
  assert.ok(request.reason.length > 0);
  return request.reason;
}

describe("parseReadsocketRequest", () => {
  it("reads every printable ASCII character as itself (the fast path for lines without 8-bit bytes)", () => {
    const printable = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).join(
      "",
    );
    assert.deepEqual(parse(`${printable}\n`), { kind: "legacy", key: printable.toLowerCase() });
    const request = parseReadsocketRequest(Buffer.from(`rcpt subject=${quoteValue(printable)} sender=a@b\n`));
    assert.equal(request.kind, "attributes");
    assert.equal(request.kind === "attributes" && request.attributes.subject, printable);
    assert.equal(request.kind === "attributes" && request.eightBit, false);
  });

  it("reads one address, with or without the newline Exim sends", () => {
    assert.deepEqual(parse("user@example.org\n"), { kind: "legacy", key: "user@example.org" });
    assert.deepEqual(parse("user@example.org"), { kind: "legacy", key: "user@example.org" });
  });

  it("lower-cases the key so case variants count as one sender", () => {
    assert.deepEqual(parse("Spam.Er@Example.ORG\n"), { kind: "legacy", key: "spam.er@example.org" });
    assert.deepEqual(parse("JÖRG@Example.org\n"), { kind: "legacy", key: "jörg@example.org" });
    // Quotes that change nothing: the same mailbox as unquoted (model/mailbox.ts).
    assert.deepEqual(parse('"Alice"@example.org\n'), { kind: "legacy", key: "alice@example.org" });
    assert.deepEqual(parse('"john doe"@example.org\n'), { kind: "legacy", key: '"john doe"@example.org' });
  });

  it("counts an empty sender (a bounce) as <>", () => {
    for (const text of ["\n", "\r\n", "   \n", "<>\n", " <> "]) {
      assert.deepEqual(parse(text), { kind: "legacy", key: "<>" }, JSON.stringify(text));
    }
  });

  it("takes no bytes at all (a connection closed unasked) as no request, not as <>", () => {
    assert.deepEqual(parse(""), { kind: "invalid", form: "legacy", reason: "empty request" });
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

  it("reads an address with a quoted local part as one token, blanks and '=' included", () => {
    assert.deepEqual(parse('"John Doe"@Example.org\n'), { kind: "legacy", key: '"john doe"@example.org' });
    assert.deepEqual(parse('"a\tb=c"@x\n'), { kind: "legacy", key: '"a\tb=c"@x' });
    assert.deepEqual(parse('"a \\" b"@x\n'), { kind: "legacy", key: '"a \\" b"@x' });
    assert.match(invalidReason(bytes('"a b"@x c@y\n')), /one token/);
    assert.match(invalidReason(bytes('"a b" c@y\n')), /one token/);
  });

  it('reads an address whose local part is quoted in part (x."y z"@x, as Exim accepts it) as one token', () => {
    assert.deepEqual(parse('x."Y z"@Example.org\n'), { kind: "legacy", key: 'x."y z"@example.org' });
    assert.deepEqual(parse('"y z".x@x\n'), { kind: "legacy", key: '"y z".x@x' });
    assert.deepEqual(parse('"a b"."c d"@x\n'), { kind: "legacy", key: '"a b"."c d"@x' });
    // An "=" inside or outside the quotes does not make it an attribute line.
    assert.deepEqual(parse('x.y=z."a b=c"@x\n'), { kind: "legacy", key: 'x.y=z."a b=c"@x' });
    assert.deepEqual(parse('x."a \\" b=c"@x\n'), { kind: "legacy", key: 'x."a \\" b=c"@x' });
    assert.match(invalidReason(bytes('x."a b"@x c@y\n')), /one token/);
    assert.match(invalidReason(bytes('x."a b" c@y\n')), /one token/);
    assert.equal(parse('rcpt sender="a b"\n').kind, "attributes");
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

  it("judges the line alone: NUL, controls, 8-bit bytes or a second line after the newline change nothing", () => {
    const tail = Uint8Array.from([0x00, 0x01, 0x5c, 0xff, 0x0d, 0x0a, 0x20, 0x41]);
    const withTail = (line: string) => Uint8Array.from([...bytes(line), ...tail]);
    assert.deepEqual(parseReadsocketRequest(withTail("Bob@X\n")), { kind: "legacy", key: "bob@x" });
    assert.deepEqual(parseReadsocketRequest(withTail("bob@x\r\n")), { kind: "legacy", key: "bob@x" });
    const request = parseReadsocketRequest(withTail("rcpt sender=a@x client_address=192.0.2.1\n"));
    assert.deepEqual(request, {
      kind: "attributes",
      stage: "rcpt",
      attributes: { sender: "a@x", client_address: "192.0.2.1" },
      ignored: [],
      eightBit: false,
    });
  });

  it("a backslash or a control in an ASCII line takes the cleaning path; a final CR alone does not", () => {
    assert.equal(attributesOf('rcpt sender="a\\"b@x" helo_name="h\x01i"\r\n').attributes.helo_name, "h i");
    assert.equal(attributesOf('rcpt sender="a\\"b@x"\n').attributes.sender, 'a"b@x');
    assert.equal(attributesOf("rcpt sender=a@x helo_name=h\r\n").attributes.helo_name, "h");
    assert.match(invalidReason(bytes("a\x7fb\r\n")), /control character/);
    assert.match(invalidReason(bytes("a@x\tb@y\r\n")), /one token/);
  });
});

const latin1Bytes = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

function attributesOf(input: Uint8Array | string) {
  const request = parseReadsocketRequest(typeof input === "string" ? bytes(input) : input);
  if (request.kind !== "attributes") throw new Error(`not read as attributes: ${JSON.stringify(request)}`);
  return request;
}

function invalidAttributes(input: Uint8Array | string): string {
  const request = parseReadsocketRequest(typeof input === "string" ? bytes(input) : input);
  if (request.kind !== "invalid") throw new Error(`accepted as ${JSON.stringify(request)}`);
  assert.equal(request.form, "attributes", `${request.reason}: not answered as an attribute request`);
  return request.reason;
}

describe("parseReadsocketRequest: the attribute form", () => {
  it("reads the stage and the attributes", () => {
    assert.deepEqual(parse('rcpt sender=bob@example.org recipient="carol@example.net" instance=abc.1\n'), {
      kind: "attributes",
      stage: "rcpt",
      attributes: { sender: "bob@example.org", recipient: "carol@example.net", instance: "abc.1" },
      ignored: [],
      eightBit: false,
    });
  });

  it("recognises every stage, in any case, with or without attributes", () => {
    for (const stage of ["connect", "helo", "mail", "rcpt", "data"] as const) {
      assert.equal(attributesOf(`${stage} client_address=192.0.2.1\n`).stage, stage);
      assert.equal(attributesOf(`${stage.toUpperCase()} client_address=192.0.2.1`).stage, stage);
      assert.deepEqual(attributesOf(`${stage}\n`).attributes, {}, stage);
    }
    assert.equal(attributesOf("data\tsender=a@x\n").attributes.sender, "a@x");
  });

  it("keeps attribute values as sent (the engine lower-cases keys), and strips a CRLF ending", () => {
    const request = attributesOf('mail sender="Bob@Example.ORG"\r\n');
    assert.deepEqual(request.attributes, { sender: "Bob@Example.ORG" });
  });

  it("reads only up to the first newline", () => {
    assert.deepEqual(attributesOf("rcpt sender=a@x\nrcpt sender=b@y\n").attributes, { sender: "a@x" });
  });

  it("reports unknown attribute names as ignored", () => {
    assert.deepEqual(attributesOf("rcpt sender=a@x colour=blue\n").ignored, ["colour"]);
    assert.deepEqual(attributesOf("rcpt sender=a@x\n").ignored, []);
  });

  it("counts a bad attribute's column from after the stage word, with or without controls to clean", () => {
    const column = (line: string) => {
      const request = parse(line);
      return request.kind === "invalid" ? request.reason : JSON.stringify(request);
    };
    assert.equal(column("rcpt sender=a@x recipient\n"), "expected name=value at column 13");
    assert.equal(column('rcpt subject="a\tb" recipient\n'), "expected name=value at column 16");
  });

  it("reads what an Exim ACL sends with ${quote:}", () => {
    const subject = 'Re: "50% off" \\ today\nonly';
    const line = `data sender=${quoteValue("a@x")} subject=${quoteValue(subject)} recipient_count=3\n`;
    assert.deepEqual(attributesOf(line).attributes, { sender: "a@x", subject, recipient_count: "3" });
  });

  it("an unknown stage is an invalid attribute request, not a legacy one", () => {
    assert.match(invalidAttributes("bogus sender=a@x\n"), /unknown stage 'bogus'/);
    assert.match(invalidAttributes("quit sender=a@x"), /unknown stage/);
    assert.match(invalidAttributes("QUIT sender=a@x"), /unknown stage 'quit'/);
    assert.match(
      invalidAttributes("rcptx sender=a@x"),
      /unknown stage 'rcptx'/,
      "a stage name's prefix is not it",
    );
    assert.match(invalidAttributes("rcp sender=a@x"), /unknown stage 'rcp'/);
  });

  it("malformed quoting is an invalid attribute request, with the parser's reason", () => {
    assert.equal(invalidAttributes('rcpt sender="a@x\n'), "unterminated quoted value for sender");
    assert.equal(invalidAttributes('rcpt sender="a"x\n'), "text after the closing quote of sender");
    assert.equal(invalidAttributes('rcpt sender=a"x\n'), "stray quote in the value of sender");
    assert.match(invalidAttributes("rcpt sender\n"), /expected name=value/);
  });

  it("too long and NUL are refused in the attribute form too", () => {
    const long = "rcpt subject=" + "a".repeat(MAX_REQUEST_BYTES);
    assert.match(invalidAttributes(long + "\n"), /longer than 4096/);
    assert.match(invalidAttributes("rcpt sender=a\0b\n"), /NUL/);
  });

  it("reads raw 8-bit bytes (not UTF-8) as Latin-1 and says so", () => {
    const request = attributesOf(latin1Bytes('data sender=a@x subject="Caf\xe9 \xa3100"\n'));
    assert.equal(request.eightBit, true);
    assert.equal(request.attributes.subject, "Café £100");
    assert.equal(request.attributes.sender, "a@x");
  });

  it("reads only the word that is not UTF-8 as Latin-1: a UTF-8 sender beside it keeps its key", () => {
    const utf8 = (text: string) => [...new TextEncoder().encode(text)];
    const line = Uint8Array.from([
      ...utf8('data sender=j\u00f6rg@example.org recipient_count=1 subject="caf'),
      0xe9,
      ...utf8(' \\"\u00fcber\\" x"'),
      ...utf8(" client_name=h\u00e9.example\n"),
    ]);
    const request = attributesOf(line);
    assert.equal(request.eightBit, true);
    assert.equal(request.attributes.sender, "j\u00f6rg@example.org");
    assert.equal(request.attributes.client_name, "h\u00e9.example");
    assert.equal(request.attributes.recipient_count, "1");
    assert.equal(
      request.attributes.subject,
      'caf\u00e9 "\u00c3\u00bcber" x',
      "the quoted word whole, as Latin-1",
    );
    // A UTF-8 subject that ${length_400:} cut in the middle of a character: the sender is still UTF-8.
    const cut = Uint8Array.from([...utf8('data sender=j\u00f6rg@x subject="\u00e9t'), 0xc3, ...utf8('"\n')]);
    assert.equal(attributesOf(cut).attributes.sender, "j\u00f6rg@x");
  });

  it("valid UTF-8 is not 8-bit", () => {
    const request = attributesOf('data subject="Café £100"\n');
    assert.equal(request.eightBit, false);
    assert.equal(request.attributes.subject, "Café £100");
  });

  it("raw 8-bit bytes stay an error in the legacy form", () => {
    assert.match(invalidReason(latin1Bytes("caf\xe9@example.org\n")), /UTF-8/);
  });

  it("a decoded newline or other control in a non-subject value becomes ?", () => {
    const request = attributesOf(
      'rcpt sender="evil\\n@x" recipient="a\\rb@y" helo_name="h\x01i" client_name="t\tab"\n',
    );
    assert.deepEqual(request.attributes, {
      sender: "evil?@x",
      recipient: "a?b@y",
      helo_name: "h i", // raw controls are blanked before parsing
      client_name: "t?ab", // a raw tab survives parsing, then is replaced
    });
  });

  it("the subject keeps its decoded newlines (it is cleaned for display later), raw controls are blanked", () => {
    const request = attributesOf('data subject="one\\ntwo\\r" sender=a@x\n');
    assert.equal(request.attributes.subject, "one\ntwo\r");
    assert.equal(attributesOf('data subject="x\x1by\x7fz"\n').attributes.subject, "x y z");
  });

  it("a legacy sender address containing = (BATV, SRS) stays a legacy request", () => {
    assert.deepEqual(parse("prvs=0123456789=bob@example.org\n"), {
      kind: "legacy",
      key: "prvs=0123456789=bob@example.org",
    });
    assert.deepEqual(parse("SRS0=HHH=TT=example.org=bob@forwarder.example\n"), {
      kind: "legacy",
      key: "srs0=hhh=tt=example.org=bob@forwarder.example",
    });
  });

  it("blanks around a single token with = do not make it an attribute line", () => {
    // Found by the fuzz property "tokens round-trip" (CI, Deno): two leading blanks used to count as a
    // blank between words.
    assert.deepEqual(parse("  =\u00a1\n"), { kind: "legacy", key: "=\u00a1" });
    assert.deepEqual(parse("\t\tprvs=01=bob@example.org \t\r\n"), {
      kind: "legacy",
      key: "prvs=01=bob@example.org",
    });
    assert.equal(parse("  rcpt  sender=a@x\n").kind === "legacy", false, "two words with = stay attributes");
  });

  it("C1 controls and line separators in a non-subject value become ? too", () => {
    // The 8-bit fallback is WHATWG's "latin1", i.e. Windows-1252: 0x85 is "…", a printable character,
    // while 0x81 (undefined there) stays the C1 control U+0081.
    const raw = attributesOf(latin1Bytes("rcpt sender=a\x85b\x81c@x\n"));
    assert.equal(raw.attributes.sender, "a\u2026b?c@x");
    const utf8 = attributesOf('rcpt sender="a\u0085b\u2028c@x"\n');
    assert.equal(utf8.attributes.sender, "a?b?c@x");
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
