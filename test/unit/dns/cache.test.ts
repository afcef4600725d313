import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DnsCache, outcomeBytes } from "../../../src/dns/cache.ts";
import type { Outcome } from "../../../src/dns/types.ts";
import { fakeClock } from "./fake-dns.ts";
import { withClocksStepped } from "../../helpers/stepped-clocks.ts";

const answer = (ttl: number, records = ["192.0.2.1"]): Outcome => ({ kind: "answer", records, ttl });

describe("DNS cache", () => {
  it("keeps an answer for its TTL and reports the seconds left", () => {
    const clock = fakeClock();
    const cache = new DnsCache({ now: clock.now });
    assert.equal(cache.set("A x", answer(10)), 10);
    clock.advance(3.5);
    assert.deepEqual(cache.get("A x"), { outcome: answer(10), ttlLeft: 7 });
    clock.advance(6.4);
    assert.equal(cache.get("A x")?.ttlLeft, 1);
    clock.advance(0.1);
    assert.equal(cache.get("A x"), undefined, "expired at exactly its TTL");
    assert.equal(cache.size, 0, "an expired entry is dropped when met");
  });

  it("keeps an answer for its TTL of time passed, whatever the wall clock is stepped to", () => {
    const cache = new DnsCache(); // the daemon's clock
    cache.set("A x", answer(60));
    const back = withClocksStepped({ wallMs: -86_400_000, elapsedMs: 61_000 }, () => cache.get("A x"));
    assert.equal(back, undefined, "expired a minute later though the wall clock went back a day");
    cache.set("A y", answer(60));
    const ahead = withClocksStepped({ wallMs: 86_400_000, elapsedMs: 1_000 }, () => cache.get("A y"));
    assert.equal(ahead?.ttlLeft, 59, "still kept a second later though the wall clock went a day ahead");
  });

  it("clamps answers by minTtl/maxTtl and negative answers by maxNegativeTtl", () => {
    const cache = new DnsCache({ minTtl: 30, maxTtl: 600, maxNegativeTtl: 120, now: fakeClock().now });
    assert.equal(cache.set("a", answer(5)), 30);
    assert.equal(cache.set("b", answer(86_400)), 600);
    assert.equal(cache.set("c", { kind: "nxdomain", ttl: 3600 }), 120);
    assert.equal(cache.set("d", { kind: "nodata", ttl: 0 }), 30, "no SOA: the floor");
  });

  it("does not store a zero TTL without a floor, and a new outcome replaces the old", () => {
    const cache = new DnsCache({ now: fakeClock().now });
    assert.equal(cache.set("a", answer(0)), 0);
    assert.equal(cache.size, 0);
    cache.set("b", answer(60, ["192.0.2.1"]));
    cache.set("b", answer(60, ["192.0.2.2"]));
    assert.equal(cache.size, 1);
    assert.deepEqual(cache.get("b")?.outcome, answer(60, ["192.0.2.2"]));
    cache.set("b", answer(0));
    assert.equal(cache.get("b"), undefined, "a zero-TTL answer drops the stale one");
    assert.equal(cache.bytes, 0);
  });

  it("evicts the least recently used past maxEntries, and counts evictions", () => {
    const cache = new DnsCache({ maxEntries: 3, now: fakeClock().now });
    for (const key of ["a", "b", "c"]) cache.set(key, answer(60));
    cache.get("a"); // now b is the least recently used
    cache.set("d", answer(60));
    assert.equal(cache.size, 3);
    assert.equal(cache.get("b"), undefined);
    assert.ok(cache.get("a") && cache.get("c") && cache.get("d"));
    assert.equal(cache.evictions, 1);
  });

  it("evicts past maxBytes, so long answers cannot grow it unbounded", () => {
    const big = answer(60, ["x".repeat(10_000)]);
    const one = outcomeBytes("k0", big);
    assert.ok(one > 20_000 && one < 21_000, `${one}`);
    const cache = new DnsCache({ maxBytes: 3 * one, now: fakeClock().now });
    for (let i = 0; i < 10; i++) cache.set(`k${i}`, big);
    assert.equal(cache.size, 3);
    assert.ok(cache.bytes <= 3 * one);
    assert.equal(cache.evictions, 7);
    assert.ok(cache.get("k9") && !cache.get("k6"));
  });
});
