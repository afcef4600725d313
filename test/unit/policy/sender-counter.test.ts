import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ALERT_NONE,
  ALERT_PENDING,
  ALERT_SENT,
  hitFixedWindow,
  recordSighting,
  type SenderCounter,
  topEntries,
  windowEnded,
} from "../../../src/policy/sender-counter.ts";

const LIMIT = { count: 3, windowMs: 1000 };

/** Hits `n` times at `now`, returning every result. */
function hits(n: number, start: SenderCounter | undefined, now: number) {
  let counter = start;
  return Array.from({ length: n }, () => {
    const result = hitFixedWindow(counter, LIMIT, now);
    counter = result.counter;
    return result;
  });
}

describe("hitFixedWindow", () => {
  it("opens a window with the first request", () => {
    const result = hitFixedWindow(undefined, LIMIT, 5000);
    assert.deepEqual(result.counter, { start: 5000, count: 1, last: 5000, alert: ALERT_NONE });
    assert.deepEqual([result.over, result.crossed, result.fresh], [false, false, true]);
  });

  it("request count+1 is the first over the limit, and crosses it once", () => {
    const results = hits(6, undefined, 100);
    assert.deepEqual(results.map((r) => r.over), [false, false, false, true, true, true]);
    assert.deepEqual(results.map((r) => r.crossed), [false, false, false, true, false, false]);
    assert.deepEqual(results.map((r) => r.fresh), [true, false, false, false, false, false]);
    assert.equal(results[5].counter.count, 6);
  });

  it("marks the alert pending when crossing, and does not cross again once sent", () => {
    const results = hits(4, undefined, 0);
    const counter = results[3].counter;
    assert.equal(counter.alert, ALERT_PENDING);
    counter.alert = ALERT_SENT;
    const next = hitFixedWindow(counter, LIMIT, 10);
    assert.deepEqual([next.over, next.crossed], [true, false]);
    assert.equal(counter.alert, ALERT_SENT);
  });

  it("counts refused requests and tracks the latest time", () => {
    const results = hits(5, undefined, 0);
    const later = hitFixedWindow(results[4].counter, LIMIT, 700);
    assert.equal(later.counter.count, 6);
    assert.equal(later.counter.last, 700);
    assert.equal(later.counter.start, 0);
  });

  it("a limit of 1 makes the second request over", () => {
    const first = hitFixedWindow(undefined, { count: 1, windowMs: 1000 }, 0);
    const second = hitFixedWindow(first.counter, { count: 1, windowMs: 1000 }, 1);
    assert.deepEqual([first.over, second.over, second.crossed], [false, true, true]);
  });

  it("the window ends exactly windowMs after its first request", () => {
    const counter = hits(5, undefined, 1000)[4].counter;
    assert.equal(windowEnded(counter, LIMIT, 1999), false);
    assert.equal(windowEnded(counter, LIMIT, 2000), true);
    const inside = hitFixedWindow(counter, LIMIT, 1999);
    assert.deepEqual([inside.over, inside.fresh], [true, false]);
  });

  it("a new window starts fresh: count 1, not over, alert reset, sightings dropped", () => {
    const old = hits(5, undefined, 1000)[4].counter;
    recordSighting(old, "spam", "192.0.2.1");
    const result = hitFixedWindow(old, LIMIT, 2000);
    assert.deepEqual(result.counter, { start: 2000, count: 1, last: 2000, alert: ALERT_NONE });
    assert.deepEqual([result.over, result.crossed, result.fresh], [false, false, true]);
    const again = hits(3, result.counter, 2500);
    assert.deepEqual(again.map((r) => r.crossed), [false, false, true]);
  });
});

describe("recordSighting", () => {
  const fresh = (): SenderCounter => ({ start: 0, count: 1, last: 0, alert: ALERT_NONE });

  it("does nothing when the request carried neither subject nor IP", () => {
    const counter = fresh();
    recordSighting(counter);
    assert.equal(counter.seen, undefined);
  });

  it("counts subjects and client IPs separately", () => {
    const counter = fresh();
    recordSighting(counter, "hello", "192.0.2.1");
    recordSighting(counter, "hello");
    recordSighting(counter, undefined, "192.0.2.2");
    assert.deepEqual([...counter.seen!.subjects!], [["hello", 2]]);
    assert.deepEqual([...counter.seen!.clientIps!], [["192.0.2.1", 1], ["192.0.2.2", 1]]);
  });

  it("keeps at most 50 distinct values but still counts the ones it has", () => {
    const counter = fresh();
    for (let i = 0; i < 80; i++) recordSighting(counter, `s${i}`, `10.0.0.${i}`);
    recordSighting(counter, "s0", "10.0.0.0");
    recordSighting(counter, "s79", "10.0.0.79");
    assert.equal(counter.seen!.subjects!.size, 50);
    assert.equal(counter.seen!.clientIps!.size, 50);
    assert.equal(counter.seen!.subjects!.get("s0"), 2);
    assert.equal(counter.seen!.subjects!.has("s79"), false);
  });
});

describe("topEntries", () => {
  it("orders by count, most first, ties alphabetically, and keeps n", () => {
    const map = new Map([["b", 2], ["c", 5], ["a", 2], ["d", 1]]);
    assert.deepEqual(topEntries(map, 3), [["c", 5], ["a", 2], ["b", 2]]);
    assert.deepEqual(topEntries(map, 10).length, 4);
  });

  it("gives nothing for no map or n = 0", () => {
    assert.deepEqual(topEntries(undefined, 10), []);
    assert.deepEqual(topEntries(new Map([["a", 1]]), 0), []);
  });
});
