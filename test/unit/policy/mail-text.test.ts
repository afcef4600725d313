import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cutToWidth, escapedLine, foldedText, MAX_LINE } from "../../../src/policy/mail-text.ts";

describe("escapedLine", () => {
  it("escapes what is not printable ASCII, line feeds too, and backslashes", () => {
    assert.equal(escapedLine("Grüße 💰\ta\\b\nnext"), "Gr\\u{fc}\\u{df}e \\u{1f4b0}\\u{9}a\\\\b\\u{a}next");
  });
});

describe("foldedText", () => {
  it("keeps the text's own line breaks, and writes out what escapedLine did not", () => {
    assert.equal(foldedText(`Who: ${escapedLine("a\\b\nc")}\nRule: ü`), "Who: a\\\\b\\u{a}c\nRule: \\u{fc}");
  });

  it("breaks lines over 76 characters, continued on lines indented by two spaces", () => {
    const long = "x".repeat(200);
    const lines = foldedText(`short\n${long}`).split("\n");
    assert.equal(lines[0], "short");
    assert.ok(lines.every((line) => line.length <= MAX_LINE), lines.join("\n"));
    assert.equal(lines.slice(1).map((line) => line.trimStart()).join(""), long, "nothing lost");
    assert.ok(lines.slice(2).every((line) => line.startsWith("  ")));
  });
});

describe("cutToWidth", () => {
  it("leaves text that fits, escaped, alone", () => {
    assert.equal(cutToWidth("Hello", 5), "Hello");
    assert.equal(cutToWidth("ü", 6), "ü", "\\u{fc} is 6 characters");
  });

  it("cuts so that the escaped text with its ... fits, never inside an escape or a surrogate pair", () => {
    assert.equal(cutToWidth("abcdefgh", 7), "abcd...");
    assert.equal(cutToWidth("ab💰cdef", 9), "ab...", "the emoji's 9-character escape does not fit");
    const cut = cutToWidth("Grüße aus Köln ".repeat(10), 66);
    assert.ok(escapedLine(cut).length <= 66 && cut.endsWith("..."), escapedLine(cut));
  });
});
