// unsharedText copies a string exactly, whatever it holds: the copy must be the same key, sighting and
// instance as the request's slice it replaces (policy/unshared-text.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { lastCopy, unsharedText } from "../../../src/policy/unshared-text.ts";

describe("unsharedText", () => {
  it("gives back the same characters", () => {
    const cases = [
      "",
      "user@example.org",
      "4cf7.6b103b15.9f290.0",
      "2001:db8::1",
      "jörg@bücher.example", // SMTPUTF8, decoded from UTF-8
      "caf\u00e9 \u00ff\u0080", // read as Latin-1 by the readsocket decoder's fallback
      "\u{1f4e7} mail \u{1f600}", // astral: surrogate pairs
      "\ufeffbom first", // a leading U+FEFF is content, not a byte order mark
      "lone \ud800 surrogate", // no decoder makes one, but a copy must not change it
      "\udc00",
      "x".repeat(400), // past the scratch buffer
      "é".repeat(400),
    ];
    for (const text of cases) {
      const request = `sender=${text}\n`; // a slice, as the parsers make them
      const slice = request.slice(7, request.length - 1);
      const copy = unsharedText(slice);
      assert.equal(copy, text);
      assert.equal(copy.length, text.length);
    }
  });

  it("lastCopy: the same text again gives the copy made last, another text its own, also after forget", () => {
    const copies = lastCopy();
    const line = "rcpt sender=a@x.org sender=a@x.org sender=b@x.org";
    const [first, again, other] = [line.slice(12, 19), line.slice(27, 34), line.slice(42)];
    assert.equal(copies.of(first), "a@x.org");
    assert.equal(copies.of(again), "a@x.org");
    assert.equal(copies.of(other), "b@x.org");
    copies.forget();
    assert.equal(copies.of(first), "a@x.org");
  });
});
