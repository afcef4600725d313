// The SPF result cache (src/spf/result-cache.ts): kept for the TTL given, never a temperror, bounded in
// entries with the least recently used out first, sender-specific results apart.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type CachedCheck, domainOf, SpfResultCache } from "../../../src/spf/result-cache.ts";
import { withClocksStepped } from "../../helpers/stepped-clocks.ts";

const check = (result: CachedCheck["result"], domain = "example.org", extra = {}): CachedCheck => ({
  result,
  domain,
  identity: "mailfrom",
  lookups: 1,
  voidLookups: 0,
  ...extra,
});

function cacheAt(maxEntries = 10, maxTtl = 3600) {
  const clock = { now: 1_000_000 };
  return { clock, cache: new SpfResultCache({ maxEntries, maxTtl, now: () => clock.now }) };
}

describe("SPF result cache", () => {
  it("keeps a result for its TTL of time passed, whatever the wall clock is stepped to", () => {
    const cache = new SpfResultCache({ maxEntries: 10, maxTtl: 3600 }); // the daemon's clock
    cache.set("192.0.2.1", "a@example.org", "h", check("pass"), 60);
    const get = () => cache.get("192.0.2.1", "mailfrom", "a@example.org", "h");
    assert.equal(withClocksStepped({ wallMs: -86_400_000, elapsedMs: 61_000 }, get), undefined);
    cache.set("192.0.2.1", "a@example.org", "h", check("pass"), 60);
    assert.equal(withClocksStepped({ wallMs: 86_400_000, elapsedMs: 1_000 }, get)?.result, "pass");
  });

  it("answers for the TTL given, then no more", () => {
    const { clock, cache } = cacheAt();
    cache.set("192.0.2.1", "a@example.org", "mx.example.net", check("pass"), 30);
    assert.equal(cache.get("192.0.2.1", "mailfrom", "b@example.org", "other.example")?.result, "pass");
    assert.equal(
      cache.get("192.0.2.1", "mailfrom", "a@EXAMPLE.org", "h")?.result,
      "pass",
      "domains in any case",
    );
    assert.equal(cache.get("192.0.2.2", "mailfrom", "a@example.org", "h"), undefined, "another client");
    assert.equal(
      cache.get("192.0.2.1", "helo", "a@example.org", "example.org"),
      undefined,
      "another identity",
    );
    clock.now += 29_999;
    assert.ok(cache.get("192.0.2.1", "mailfrom", "a@example.org", "h"));
    clock.now += 1;
    assert.equal(cache.get("192.0.2.1", "mailfrom", "a@example.org", "h"), undefined);
    assert.equal(cache.size, 0, "the stale entry is gone");
    assert.deepEqual([cache.hits, cache.misses], [3, 3]);
  });

  it("never keeps a temperror, nor a TTL of 0; lowers a TTL to maxTtl (a check without DNS: Infinity)", () => {
    const { clock, cache } = cacheAt(10, 60);
    cache.set("192.0.2.1", "a@down.example", "h", check("temperror", "down.example"), 300);
    cache.set("192.0.2.1", "a@zero.example", "h", check("pass", "zero.example"), 0);
    cache.set("192.0.2.1", "a@forever.example", "h", check("none", "forever.example"), Infinity);
    assert.equal(cache.size, 1);
    clock.now += 60_000;
    assert.equal(cache.get("192.0.2.1", "mailfrom", "a@forever.example", "h"), undefined);
  });

  it("drops the least recently used entry beyond maxEntries", () => {
    const { cache } = cacheAt(2);
    cache.set("192.0.2.1", "a@one.example", "h", check("pass", "one.example"), 60);
    cache.set("192.0.2.1", "a@two.example", "h", check("pass", "two.example"), 60);
    assert.ok(cache.get("192.0.2.1", "mailfrom", "a@one.example", "h"), "one is now the most recent");
    cache.set("192.0.2.1", "a@three.example", "h", check("pass", "three.example"), 60);
    assert.equal(cache.size, 2);
    assert.equal(cache.get("192.0.2.1", "mailfrom", "a@two.example", "h"), undefined);
    assert.ok(cache.get("192.0.2.1", "mailfrom", "a@one.example", "h"));
  });

  it("moves a hit entry only when it is older than the last quarter inserted, and keeps the bound", () => {
    const { cache } = cacheAt(8);
    const set = (name: string) => cache.set("192.0.2.1", `a@${name}`, "h", check("pass", name), 60);
    const has = (name: string) => cache.get("192.0.2.1", "mailfrom", `a@${name}`, "h") !== undefined;
    for (let i = 0; i < 8; i++) set(`e${i}.example`);
    assert.ok(has("e0.example"), "the oldest, hit: moved to the end");
    assert.ok(has("e6.example"), "among the last quarter, hit: stays where it is");
    // e6 has at least 8 - 1 - 8/4 = 5 entries before it: it outlives five insertions, where exact LRU
    // would give it seven.
    for (let i = 0; i < 5; i++) set(`n${i}.example`);
    assert.equal(cache.size, 8);
    assert.ok(has("e0.example") && has("e6.example"), "both outlive five insertions");
    assert.ok(!has("e1.example") && !has("e5.example"), "the ones never hit went first");
  });

  it("keeps a sender-specific result (macros %{l} %{s} %{h}) for that sender and HELO only", () => {
    const { cache } = cacheAt();
    cache.set(
      "192.0.2.1",
      "alice@example.org",
      "h",
      check("pass", "example.org", { senderSpecific: true }),
      60,
    );
    assert.equal(cache.get("192.0.2.1", "mailfrom", "alice@example.org", "h")?.result, "pass");
    assert.equal(cache.get("192.0.2.1", "mailfrom", "bob@example.org", "h"), undefined);
    assert.equal(cache.get("192.0.2.1", "mailfrom", "alice@example.org", "other"), undefined);
  });

  it("maxEntries 0 turns it off", () => {
    const { cache } = cacheAt(0);
    cache.set("192.0.2.1", "a@example.org", "h", check("pass"), 60);
    assert.equal(cache.size, 0);
  });

  it("domainOf: the sender's domain, or the HELO name for the helo identity", () => {
    assert.equal(domainOf("A@Example.ORG.", "h", "mailfrom"), "example.org");
    assert.equal(domainOf("", "mx.example.net", "helo"), "mx.example.net");
  });
});
