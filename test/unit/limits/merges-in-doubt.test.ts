// The merge calls in doubt (limits/merges-in-doubt.ts): each with a token of its own, kept as it was sent
// while the memory store counts on, and dropped once sending it again could add nothing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createMergesInDoubt } from "../../../src/limits/merges-in-doubt.ts";
import { makeCounter, recordSighting } from "../../../src/policy/sender-counter.ts";
import { limitConfig } from "../../helpers/limit-config.ts";

describe("merges in doubt", () => {
  it("gives every call a token of its own, another book's unlike this one's", () => {
    const one = createMergesInDoubt();
    const other = createMergesInDoubt();
    const tokens = new Set([one.nextToken(), one.nextToken(), other.nextToken(), other.nextToken()]);
    assert.equal(tokens.size, 4);
    for (const token of tokens) assert.match(token, /^[A-Za-z0-9_-]+\.[0-9a-z]+$/, "no brace, no colon");
  });

  it("keeps what was sent as it was, while the memory store counts on in the same counter", () => {
    const book = createMergesInDoubt();
    const counter = makeCounter(1000, 2, 1000, 0);
    recordSighting(counter, "hello", "192.0.2.1");
    book.doubt("outbound", "a@x.org", counter, "t.0", counter);
    counter.count = 5;
    recordSighting(counter, "hello", "192.0.2.1");
    const [doubt, ...more] = book.takeAll();
    assert.deepEqual(more, []);
    assert.equal(doubt.token, "t.0");
    for (const kept of [doubt.sent, doubt.taken]) {
      assert.equal(kept.count, 2);
      assert.deepEqual([...kept.subjects!], [["hello", 1]]);
    }
    assert.equal(book.size, 0, "taken out: sent again or put back");
  });

  it("drops a doubt once its counter holds nothing, or its limit is gone", () => {
    const book = createMergesInDoubt();
    const limit = limitConfig(); // fixed, 5 minutes
    book.doubt("outbound", "a@x.org", makeCounter(0, 1, 0, 0), "t.0", makeCounter(0, 1, 0, 0));
    book.doubt("gone", "b@x.org", makeCounter(0, 1, 0, 0), "t.1", makeCounter(0, 1, 0, 0));
    book.expire([limit], limit.windowMs - 1);
    assert.deepEqual(book.takeAll().map((doubt) => doubt.key), ["a@x.org"]);
    book.doubt("outbound", "a@x.org", makeCounter(0, 1, 0, 0), "t.0", makeCounter(0, 1, 0, 0));
    book.expire([limit], limit.windowMs);
    assert.equal(book.size, 0);
  });

  it("forgets a key's calls of every limit at a reset, and no other key's", () => {
    const book = createMergesInDoubt();
    book.doubt("outbound", "a@x.org", makeCounter(0, 1, 0, 0), "t.0", makeCounter(0, 1, 0, 0));
    book.doubt("daily", "a@x.org", makeCounter(0, 1, 0, 0), "t.1", makeCounter(0, 1, 0, 0));
    book.doubt("outbound", "b@x.org", makeCounter(0, 1, 0, 0), "t.2", makeCounter(0, 1, 0, 0));
    book.forgetKey("a@x.org");
    assert.deepEqual(book.takeAll().map((doubt) => doubt.token), ["t.2"]);
  });
});
