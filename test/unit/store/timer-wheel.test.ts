import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createTimerWheel } from "../../../src/store/timer-wheel.ts";

describe("createTimerWheel", () => {
  it("hands a key back once its deadline's tick has passed, not before", () => {
    const wheel = createTimerWheel<string>(1000, 0);
    wheel.schedule("a", 2500);
    assert.deepEqual(wheel.advance(1000), []);
    assert.deepEqual(wheel.advance(2499), []);
    assert.deepEqual(wheel.advance(2999), []);
    assert.deepEqual(wheel.advance(3000), ["a"]);
    assert.deepEqual(wheel.advance(10_000), []);
  });

  it("a deadline on a tick boundary is due at that boundary", () => {
    const wheel = createTimerWheel<string>(1000, 0);
    wheel.schedule("a", 3000);
    assert.deepEqual(wheel.advance(2999), []);
    assert.deepEqual(wheel.advance(3000), ["a"]);
  });

  it("never returns a key early and at most one tick late, whatever the steps", () => {
    const tick = 250;
    const wheel = createTimerWheel<number>(tick, 0);
    const deadlines = Array.from({ length: 200 }, (_, i) => (i * 7919) % 20_000 + 1);
    deadlines.forEach((at, key) => wheel.schedule(key, at));
    const seen = new Set<number>();
    let now = 0;
    let previous = 0;
    for (let step = 1; now < 25_000; step = (step * 31) % 997 + 1) {
      previous = now;
      now += step;
      for (const key of wheel.advance(now)) {
        assert.ok(!seen.has(key), `key ${key} returned twice`);
        seen.add(key);
        assert.ok(now >= deadlines[key], `key ${key} (due ${deadlines[key]}) returned early at ${now}`);
        assert.ok(
          previous < deadlines[key] + tick,
          `key ${key} (due ${deadlines[key]}) held back past ${previous}`,
        );
      }
    }
    assert.equal(seen.size, deadlines.length);
    assert.equal(wheel.size, 0);
  });

  it("a long jump returns every due key and keeps later ones", () => {
    const wheel = createTimerWheel<string>(1000, 0);
    for (let i = 1; i <= 100; i++) wheel.schedule(`k${i}`, i * 10_000);
    wheel.schedule("late", 10 ** 12);
    const due = wheel.advance(10 ** 9);
    assert.equal(due.length, 100);
    assert.deepEqual(new Set(due), new Set(Array.from({ length: 100 }, (_, i) => `k${i + 1}`)));
    assert.equal(wheel.size, 1);
    assert.deepEqual(wheel.advance(10 ** 12 - 1), []);
    assert.deepEqual(wheel.advance(10 ** 12), ["late"]);
  });

  it("keeps size equal to the keys scheduled and not yet returned, duplicates included", () => {
    const wheel = createTimerWheel<string>(100, 0);
    assert.equal(wheel.size, 0);
    wheel.schedule("a", 150);
    wheel.schedule("a", 150);
    wheel.schedule("b", 450);
    assert.equal(wheel.size, 3);
    assert.deepEqual(wheel.advance(200), ["a", "a"]);
    assert.equal(wheel.size, 1);
    assert.deepEqual(wheel.advance(500), ["b"]);
    assert.equal(wheel.size, 0);
  });

  it("puts a deadline in the past into the next tick", () => {
    const wheel = createTimerWheel<string>(1000, 10_500);
    wheel.schedule("past", 0);
    wheel.schedule("now", 10_500);
    assert.deepEqual(wheel.advance(10_999), []);
    assert.deepEqual(wheel.advance(11_000), ["past", "now"]);
    wheel.advance(20_000);
    wheel.schedule("behind", 15_000);
    assert.deepEqual(wheel.advance(20_999), []);
    assert.deepEqual(wheel.advance(21_000), ["behind"]);
  });

  it("ignores a clock that goes backwards and loses no key", () => {
    const wheel = createTimerWheel<string>(1000, 5000);
    wheel.schedule("a", 7000);
    assert.deepEqual(wheel.advance(1000), []);
    assert.equal(wheel.size, 1);
    assert.deepEqual(wheel.advance(7000), ["a"]);
  });

  it("compacts away the keys the owner dropped, a budget at a time, and keeps its size right", () => {
    const wheel = createTimerWheel<string>(1000, 0);
    for (let i = 0; i < 30; i++) wheel.schedule(`k${i}`, 1000 * (1 + (i % 10)));
    const live = (key: string) => Number(key.slice(1)) % 3 === 0;
    let removed = wheel.compact(live, 9); // three buckets of three
    assert.equal(removed, 6);
    assert.equal(wheel.size, 24);
    while ((removed = wheel.compact(live, 9)) > 0) { /* go on until nothing is left to remove */ }
    assert.equal(wheel.size, 10);
    const due = wheel.advance(20_000).sort();
    assert.deepEqual(due, ["k0", "k12", "k15", "k18", "k21", "k24", "k27", "k3", "k6", "k9"]);
    assert.equal(wheel.size, 0);
  });

  it("stops inside a large bucket and goes on there, keys scheduled meanwhile included", () => {
    const wheel = createTimerWheel<string>(1000, 0);
    for (let i = 0; i < 10; i++) wheel.schedule(`k${i}`, 5000); // one bucket of ten
    const live = (key: string) => Number(key.slice(1)) % 2 === 0;
    assert.equal(wheel.compact(live, 4), 2); // k0..k3 looked at: k1, k3 gone
    assert.equal(wheel.size, 8);
    wheel.schedule("k11", 5000); // joins the same bucket, after where compaction stopped
    assert.equal(wheel.compact(live, 4), 2); // k4..k7
    assert.equal(wheel.compact(live, 4), 2); // k8, k9, k11: budget left, so the next call starts over
    assert.equal(wheel.compact(live, 100), 0);
    assert.equal(wheel.size, 5);
    assert.deepEqual(wheel.advance(10_000), ["k0", "k2", "k4", "k6", "k8"]);
    assert.equal(wheel.size, 0);
  });
});
