// The alert's Subject header: whatever the key holds, every line within RFC 5322's 78 characters, and a
// reader shows exactly the cleaned text (decoded once, controls blanked), never a line break from a key.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import libmime from "libmime";
import { headerValue, MAX_HEADER_LINE } from "../../../src/policy/mail-header.ts";
import { subjectLine } from "../../../src/policy/alert-notice.ts";

const lines = (value: string) => `Subject: ${value}`.split("\r\n");
const read = (value: string) => libmime.decodeWords(value.replace(/\r\n /g, " "));

function assertWithinLimits(value: string): void {
  for (const line of lines(value)) {
    assert.ok(line.length <= MAX_HEADER_LINE, `line of ${line.length}: ${line}`);
    assert.match(line, /^[\x21-\x7e][\x20-\x7e]*$|^ [\x21-\x7e][\x20-\x7e]*$/, "printable ASCII, folded");
  }
}

describe("headerValue", () => {
  it("leaves a short plain subject as it is", () => {
    assert.equal(headerValue("Subject", "Mail Abuse Alert"), "Mail Abuse Alert");
  });

  it("folds plain words at spaces so that no line passes 78 characters", () => {
    const text = `Mail Abuse Alert ${"spammer@example.org ".repeat(10).trim()}`;
    const value = headerValue("Subject", text);
    assert.ok(lines(value).length > 1);
    assertWithinLimits(value);
    assert.equal(value.replace(/\r\n /g, " "), text, "unfolding gives the text back");
  });

  it("encodes a word too long to fold (a 4000-byte key) into encoded words of at most 75", () => {
    const text = subjectLine("Alert {key}", { key: `${"a".repeat(4000)}@example.org` });
    const value = headerValue("Subject", text);
    assertWithinLimits(value);
    for (const word of value.split("\r\n ")) assert.ok(word.replace(/^Subject: /, "").length <= 75);
    assert.equal(read(value), text);
    assert.ok(text.length <= 200, "the subject is cut: the body has the whole key");
  });

  it("encodes non-ASCII without splitting a character between words", () => {
    const text = `Alert ${"Grüße 💰 ".repeat(12).trim()}`;
    const value = headerValue("Subject", text);
    assertWithinLimits(value);
    assert.equal(read(value), text);
  });

  it("keeps text that looks like an encoded word literal", () => {
    const value = headerValue("Subject", "Alert =?utf-8?b?QQ==?= x");
    assertWithinLimits(value);
    assert.equal(read(value), "Alert =?utf-8?b?QQ==?= x", "a reader shows it as written, not as 'A'");
  });
});

describe("subjectLine", () => {
  it("decodes a key's encoded words once and blanks the control characters they held", () => {
    // =?utf-8?b?DQpCY2M6IGV2aWxAeC5vcmc=?= is CR LF "Bcc: evil@x.org"
    const text = subjectLine("Alert {key}", { key: "=?utf-8?b?DQpCY2M6IGV2aWxAeC5vcmc=?=" });
    assert.equal(text, "Alert Bcc: evil@x.org");
    const value = headerValue("Subject", text);
    assert.doesNotMatch(read(value), /[\r\n]/);
  });

  it("fills the placeholders verbatim and never leaves the subject empty", () => {
    assert.equal(subjectLine("{key} {count}", { key: "$& {count}", count: "5" }), "$& {count} 5");
    assert.equal(subjectLine("{key}", { key: "\r\n" }), "(no subject)");
  });
});
