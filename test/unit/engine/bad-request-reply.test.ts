// The answer to a request that could not be read (engine/reply.ts formatBadRequestReply): in the attribute
// form Exim's snippets write its text into the SMTP reply, so it is ASCII as a refusal's text is.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatBadRequestReply } from "../../../src/engine/reply.ts";
import { parseAttributes } from "../../../src/protocols/attributes.ts";
import { parseReadsocketRequest } from "../../../src/protocols/readsocket.ts";

const encode = (text: string) => new TextEncoder().encode(text);

describe("the reply to a request that could not be read", () => {
  it("writes the stage word's other bytes as \\x{HEX} and its controls as spaces", () => {
    // The stage word is read byte by byte (Latin-1) and lower-cased: U+0163 comes as its two UTF-8 bytes,
    // C5 A3, read as å£.
    const parsed = parseReadsocketRequest(encode("\x01rcp\u0163 sender=a@example.org\n"));
    assert.equal(parsed.kind, "invalid");
    if (parsed.kind !== "invalid") return;
    assert.ok(
      parsed.reason.includes("'\x01rcp\u00e5\u00a3'"),
      `the reason quotes the stage word: ${parsed.reason}`,
    );
    const reply = formatBadRequestReply(parsed.form, parsed.reason);
    assert.doesNotMatch(reply, /[^\x20-\x7e]/);
    assert.ok(reply.includes(String.raw`unknown stage ' rcp\\x{E5}\\x{A3}'`), reply);
    assert.ok(parseAttributes("rcpt", reply).ok, "Exim's ${extract} reads it back");
  });

  it("answers the one-token form with error and its reason", () => {
    assert.equal(formatBadRequestReply("legacy", "NUL byte in request"), "error NUL byte in request");
  });
});
