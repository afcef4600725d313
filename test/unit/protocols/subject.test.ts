import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { displaySubject } from "../../../src/protocols/subject.ts";

describe("displaySubject: RFC 2047 encoded words", () => {
  it("decodes B (base64) words in UTF-8 and ISO-8859-1", () => {
    assert.equal(displaySubject("=?UTF-8?B?SGVsbG8gV8O2cmxk?="), "Hello Wörld");
    assert.equal(displaySubject("=?utf-8?b?4pyTIGRvbmU=?="), "✓ done");
    assert.equal(displaySubject("=?ISO-8859-1?B?Q2Fm6Q==?="), "Café");
  });

  it("decodes Q (quoted-printable) words, _ standing for a space", () => {
    assert.equal(displaySubject("=?UTF-8?Q?caf=C3=A9_au_lait?="), "café au lait");
    assert.equal(displaySubject("=?ISO-8859-1?Q?Gr=FC=DFe?="), "Grüße");
    assert.equal(displaySubject("=?iso-8859-1?q?=A3100_off?="), "£100 off");
  });

  it("decodes words inside plain text, and joins adjacent encoded words", () => {
    assert.equal(displaySubject("Re: =?UTF-8?Q?=E2=82=AC?= 100 today"), "Re: € 100 today");
    assert.equal(displaySubject("=?UTF-8?Q?Hel?= =?UTF-8?Q?lo?="), "Hello");
  });

  it("leaves plain text (and raw 8-bit text already decoded as Latin-1) as it is", () => {
    assert.equal(displaySubject("Meeting at 10"), "Meeting at 10");
    assert.equal(displaySubject("Caf\u00e9 \u00a3100"), "Café £100");
    assert.equal(displaySubject("Grüße 👋"), "Grüße 👋");
  });

  it("does not throw on broken encoded words", () => {
    for (
      const raw of [
        "=?UTF-8?B?####?=",
        "=?UTF-8?Q?unterminated",
        "=?x-no-such-charset?Q?abc?=",
        "=?UTF-8?X?abc?=",
        "=?UTF-8?B?w6?=",
        "=??=",
        "=?UTF-8?Q?=ZZ?=",
        "=?UTF-8?B?" + "A".repeat(5000) + "?=",
      ]
    ) {
      let shown = "";
      assert.doesNotThrow(() => shown = displaySubject(raw), raw.slice(0, 40));
      assert.equal(typeof shown, "string");
      assert.ok(shown.length <= 200, raw.slice(0, 40));
    }
    // An encoded word that is not one is shown as written.
    assert.equal(displaySubject("=?UTF-8?Q?unterminated"), "=?UTF-8?Q?unterminated");
  });
});

describe("displaySubject: cleaning", () => {
  it("blanks newlines, tabs and other controls, C1 and Unicode line separators included", () => {
    assert.equal(displaySubject("one\ntwo\r\nthree\tfour"), "one two three four");
    assert.equal(displaySubject("a\x00b\x1bc\x7fd"), "a b c d");
    assert.equal(displaySubject("a\u0085b\u009bc"), "a b c");
    assert.equal(displaySubject("a\u2028b\u2029c"), "a b c");
  });

  it("blanks controls that only appear once decoded", () => {
    assert.equal(displaySubject("=?UTF-8?Q?Hi=0ABcc:_victim@example.org?="), "Hi Bcc: victim@example.org");
    assert.equal(displaySubject("=?UTF-8?B?YQ1iCWM=?="), "a b c");
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(displaySubject("=?UTF-8?Q?x=C2=85y=E2=80=A8z?="), /[\x00-\x1f\x7f-\x9f\u2028\u2029]/);
  });

  it("collapses runs of whitespace and trims the ends", () => {
    assert.equal(displaySubject("   lots   of \t\n  space   "), "lots of space");
    assert.equal(displaySubject(""), "");
    assert.equal(displaySubject(" \n\t "), "");
  });
});

describe("displaySubject: length", () => {
  it("keeps a subject of up to 200 characters whole", () => {
    const exact = "x".repeat(200);
    assert.equal(displaySubject(exact), exact);
  });

  it("cuts a longer one to 200 characters ending in …", () => {
    const shown = displaySubject("y".repeat(201));
    assert.equal(shown.length, 200);
    assert.equal(shown, "y".repeat(199) + "…");
    assert.equal(displaySubject("z".repeat(10_000)), "z".repeat(199) + "…");
  });

  it("measures the length after decoding and cleaning", () => {
    // 150 encoded "é" are 900 characters raw, 150 decoded.
    const encoded = "=?UTF-8?Q?" + "=C3=A9".repeat(150) + "?=";
    assert.equal(displaySubject(encoded), "é".repeat(150));
    // Collapsed whitespace does not count.
    assert.equal(displaySubject("a" + " ".repeat(500) + "b"), "a b");
  });

  it("never cuts a character in half", () => {
    for (const prefix of ["", "a"]) {
      const shown = displaySubject(prefix + "😀".repeat(250));
      assert.ok(shown.startsWith(prefix + "😀😀") && shown.endsWith("…"), shown);
      assert.doesNotMatch(shown, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
    }
  });
});
