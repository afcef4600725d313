import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { asciiReplyText, asciiWithin } from "../../../src/protocols/ascii-reply-text.ts";

describe("asciiReplyText", () => {
  it("leaves ASCII as it is, controls and backslashes too", () => {
    const text = "alice@example.org over limit: 20 messages in 1h \\ (limit 20)";
    assert.equal(asciiReplyText(text), text);
  });

  it("writes each non-ASCII character as RFC 6533's \\x{HEX}: upper case, no leading zeros", () => {
    assert.equal(asciiReplyText("ålice@bücher.example"), "\\x{E5}lice@b\\x{FC}cher.example");
    assert.equal(asciiReplyText("中@example.org"), "\\x{4E2D}@example.org");
    // A character beyond the BMP is one escape, not its two UTF-16 halves.
    assert.equal(asciiReplyText("😀!"), "\\x{1F600}!");
    assert.equal(asciiReplyText("\u0080"), "\\x{80}");
  });
});

describe("asciiWithin", () => {
  it("cuts to max characters, never inside an escape", () => {
    const text = asciiReplyText("ab\u00e5cd"); // ab\x{E5}cd
    assert.equal(asciiWithin(text, 100), text);
    assert.equal(asciiWithin(text, 4), "ab");
    assert.equal(asciiWithin(text, 7), "ab");
    assert.equal(asciiWithin(text, 8), "ab\\x{E5}");
    assert.equal(asciiWithin(text, 9), "ab\\x{E5}c");
  });
});
