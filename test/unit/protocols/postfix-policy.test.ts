// The Postfix policy delegation codec (src/protocols/postfix-policy.ts): request blocks as a real Postfix
// 3.7 sends them (test/fixtures/postfix/, recorded from Debian's postfix by the recipe in
// docs/postfix.md), malformed blocks, xtext, protocol_state → stage, replies.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  decodeXtext,
  formatPostfixReply,
  parsePostfixRequest,
  type PostfixRequest,
  stageOfState,
} from "../../../src/protocols/postfix-policy.ts";
import { PostfixFraming } from "../../../src/listeners/framing.ts";

const fixture = (name: string) =>
  readFileSync(new URL(`../../fixtures/postfix/${name}`, import.meta.url), "utf8");
const bytes = (text: string) => new TextEncoder().encode(text);

function parsed(text: string): PostfixRequest {
  const result = parsePostfixRequest(bytes(text));
  if (!result.ok) throw new Error(`refused: ${result.reason}`);
  return result.request;
}

function refused(text: string): string {
  const result = parsePostfixRequest(bytes(text));
  if (result.ok) throw new Error(`accepted: ${JSON.stringify(result.request)}`);
  return result.reason;
}

const block = (...lines: string[]) => `request=smtpd_access_policy\n${lines.join("\n")}\n\n`;

describe("parsePostfixRequest on blocks recorded from a real Postfix 3.7", () => {
  it("reads the RCPT request: the engine's attributes, the rest ignored", () => {
    const request = parsed(fixture("rcpt-request.txt"));
    assert.equal(request.state, "RCPT");
    assert.equal(request.stage, "rcpt");
    assert.deepEqual(request.attributes, {
      client_address: "127.0.0.1",
      client_name: "unknown",
      helo_name: "vm",
      sender: "sender@pfx.test",
      recipient: "inet1@example.test",
      recipient_count: "0",
      queue_id: "",
      instance: request.attributes.instance,
      size: "0",
      sasl_username: "",
    });
    assert.match(request.attributes.instance!, /^[0-9a-f]+\.[0-9a-f]+\.[0-9a-f]+\.0$/);
    assert.equal(request.certificate, undefined);
    assert.ok(request.ignored >= 15, String(request.ignored));
  });

  it("reads the END-OF-MESSAGE request at the data stage, with queue_id, size and recipient_count", () => {
    const request = parsed(fixture("end-of-message-request.txt"));
    assert.equal(request.state, "END-OF-MESSAGE");
    assert.equal(request.stage, "data");
    assert.equal(request.attributes.recipient_count, "1");
    assert.match(request.attributes.queue_id!, /^[0-9A-F]+$/);
    assert.ok(Number(request.attributes.size) > 0);
  });

  it("the recorded blocks are each one request for the Postfix framing", () => {
    const framing = new PostfixFraming(16384, 300_000);
    for (const name of ["rcpt-request.txt", "end-of-message-request.txt"]) {
      const text = fixture(name);
      assert.equal(framing.requestEnd(bytes(text), 0), text.length, name);
      assert.equal(framing.requestEnd(bytes(text + text), 0), text.length, name);
    }
  });
});

describe("parsePostfixRequest", () => {
  it("ignores attributes it does not know, whatever newer Postfix versions add", () => {
    const request = parsed(
      block(
        "protocol_state=RCPT",
        "compatibility_level=3.6",
        "mail_version=3.8.1",
        "server_port=25",
        "future_attribute=anything=at all",
        "sender=a@example.org",
      ),
    );
    assert.deepEqual(request.attributes, { sender: "a@example.org" });
    assert.equal(request.ignored, 4);
  });

  it("reads CRLF lines, values with '=' and spaces, and takes the last of a repeated name", () => {
    const request = parsed(
      "request=smtpd_access_policy\r\nprotocol_state=RCPT\r\nsender=a=b c@example.org\r\nhelo_name=x\r\n" +
        "helo_name=y\r\n\r\n",
    );
    assert.deepEqual(request.attributes, { sender: "a=b c@example.org", helo_name: "y" });
  });

  it("reads UTF-8 (SMTPUTF8 addresses), and bytes that are not UTF-8 as Latin-1", () => {
    assert.equal(
      parsed(block("protocol_state=RCPT", "sender=jörg@example.org")).attributes.sender,
      "jörg@example.org",
    );
    const latin1 = Uint8Array.from([
      ...bytes(block("protocol_state=RCPT", "sender=j")).slice(0, -2),
      0xf6,
      0x0a,
      0x0a,
    ]);
    const result = parsePostfixRequest(latin1);
    assert.ok(result.ok);
    assert.equal(result.request.attributes.sender, "jö");
  });

  it("reads each line on its own: a Latin-1 byte in one value leaves another's UTF-8 as it is", () => {
    // A HELO name with a Latin-1 byte (Postfix with smtputf8_enable = no passes it on) must not turn the
    // UTF-8 sender of the same block into mojibake: the sender's limits would count it under another key
    // than its other requests.
    const mixed = Uint8Array.from([
      ...bytes("request=smtpd_access_policy\nprotocol_state=RCPT\nhelo_name=h"),
      0xe9,
      ...bytes("lo\nsender=jörg@example.org\nsasl_username=jörg\n\n"),
    ]);
    const result = parsePostfixRequest(mixed);
    assert.ok(result.ok);
    assert.deepEqual(result.request.attributes, {
      helo_name: "h\u00e9lo",
      sender: "jörg@example.org",
      sasl_username: "jörg",
    });
    // A valid U+FFFD in a UTF-8 value is UTF-8 too, not a reason to read the block as Latin-1.
    assert.equal(
      parsed(block("protocol_state=RCPT", "helo_name=\uFFFD", "sender=jörg@example.org")).attributes.sender,
      "jörg@example.org",
    );
  });

  it("reads a block that is a view into a larger chunk (the socket's), and only its own bytes", () => {
    const chunk = (text: Uint8Array) => {
      const whole = new Uint8Array(text.length + 20).fill(0x41); // bytes before and after the block
      whole.set(text, 10);
      return whole.subarray(10, 10 + text.length);
    };
    const utf8 = parsePostfixRequest(chunk(bytes(block("protocol_state=RCPT", "sender=jörg@example.org"))));
    assert.ok(utf8.ok);
    assert.equal(utf8.request.attributes.sender, "jörg@example.org");
    const latin1 = Uint8Array.from([
      ...bytes(block("protocol_state=RCPT", "sender=j")).slice(0, -2),
      0xf6,
      0x0a,
      0x0a,
    ]);
    const fallback = parsePostfixRequest(chunk(latin1));
    assert.ok(fallback.ok);
    assert.equal(fallback.request.attributes.sender, "jö");
  });

  it("tells the names it reads from others of the same length, and a name that runs into the line's end", () => {
    const request = parsed(block("protocol_state=RCPT", "senders=x", "sendex=y", "sender=z@example.org"));
    assert.equal(request.attributes.sender, "z@example.org");
    assert.equal(request.ignored, 2);
    assert.match(refused(block("protocol_state=RCPT", "sender")), /line 3/);
    assert.match(refused(block("protocol_state=RCPT", "sender\r")), /line 3/);
  });

  it("decodes the xtext of ccert_subject and ccert_issuer", () => {
    const request = parsed(block(
      "protocol_state=RCPT",
      "ccert_subject=CN+3Dmx.example.org+2C+20O+3DExample",
      "ccert_issuer=CN+3DExample+20CA",
      "ccert_fingerprint=AB:CD",
    ));
    assert.deepEqual(request.certificate, {
      ccert_subject: "CN=mx.example.org, O=Example",
      ccert_issuer: "CN=Example CA",
    });
  });

  it("refuses a line that is not name=value, naming the line", () => {
    assert.match(refused(block("protocol_state=RCPT", "no equals sign here")), /line 3/);
    assert.match(refused(block("protocol_state=RCPT", "=value")), /line 3/);
    assert.match(refused(block("protocol_state=RCPT", "bad name=value")), /line 3/);
  });

  it("refuses a block that is not smtpd_access_policy, or has no protocol_state", () => {
    assert.equal(refused("protocol_state=RCPT\nsender=a@b\n\n"), "no request attribute");
    assert.match(refused("request=other\nprotocol_state=RCPT\n\n"), /unknown request other/);
    assert.equal(refused("request=smtpd_access_policy\nsender=a@b\n\n"), "no protocol_state");
    assert.equal(refused("\n"), "no request attribute");
  });
});

describe("stageOfState", () => {
  it("maps Postfix's states to the engine's stages; BDAT counts as DATA", () => {
    assert.deepEqual(
      ["CONNECT", "EHLO", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "END-OF-MESSAGE"].map(stageOfState),
      ["connect", "helo", "helo", "mail", "rcpt", "data", "data", "data"],
    );
  });
  it("has no stage for VRFY, ETRN, an unknown or a lower-case state", () => {
    for (const state of ["VRFY", "ETRN", "QUIT", "rcpt", "constructor", ""]) {
      assert.equal(stageOfState(state), undefined, state);
    }
  });
});

describe("decodeXtext and formatPostfixReply", () => {
  it("decodes +XX and leaves a lone + as it is", () => {
    assert.equal(decodeXtext("a+2Bb+3d"), "a+b=");
    assert.equal(decodeXtext("a+zz+"), "a+zz+");
    assert.equal(decodeXtext("plain"), "plain");
  });
  it("reads the decoded bytes as UTF-8, as Postfix 2.6+ encodes a certificate's subject", () => {
    assert.equal(decodeXtext("CN=J+C3+BCrgen+20M+C3+BCller"), "CN=Jürgen Müller");
    assert.equal(decodeXtext("O=+E6+97+A5+E6+9C+AC"), "O=日本");
    assert.equal(decodeXtext("caf+E9"), "caf\u00e9", "not UTF-8: each byte a character (Latin-1)");
  });
  it("ends a reply with an empty line", () => {
    assert.equal(formatPostfixReply("DUNNO"), "action=DUNNO\n\n");
  });
});
