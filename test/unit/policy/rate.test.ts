import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  capacity,
  commit,
  counterExpiresAt,
  currentLevel,
  levelWith,
  newCounter,
  rollCounter,
} from "../../../src/policy/rate.ts";
import {
  ALERT_NONE,
  ALERT_PENDING,
  ALERT_SENT,
  recordSighting,
  type SenderCounter,
  Tally,
} from "../../../src/policy/sender-counter.ts";
import type { Algorithm } from "../../../src/model/limit.ts";

interface RateLimit {
  algorithm: Algorithm;
  count: number;
  windowMs: number;
  burst: number;
}

const fixed = (count: number, windowMs: number): RateLimit => ({
  algorithm: "fixed",
  count,
  windowMs,
  burst: count,
});
const sliding = (count: number, windowMs: number): RateLimit => ({
  algorithm: "sliding",
  count,
  windowMs,
  burst: count,
});
const bucket = (count: number, windowMs: number, burst: number): RateLimit => ({
  algorithm: "bucket",
  count,
  windowMs,
  burst,
});

/**
 * One request the way the counters actor makes it: bring the counter to `now`, look at the level the
 * request would give, and count it unless it is over and the limit is leaky.
 */
function request(
  counter: SenderCounter,
  limit: RateLimit,
  now: number,
  { cost = 1, leaky = false }: { cost?: number; leaky?: boolean } = {},
): { level: number; over: boolean } {
  rollCounter(counter, limit, now);
  const level = levelWith(counter, limit, now, cost);
  const over = level > capacity(limit);
  if (!over || !leaky) commit(counter, cost, now);
  return { level, over };
}

/** The sightings an alert or `show` would list, as a plain object: { subject: count }. */
const subjectsOf = (counter: SenderCounter) => Object.fromEntries(counter.subjects ?? []);
const clientIpsOf = (counter: SenderCounter) => Object.fromEntries(counter.clientIps ?? []);

function assertNear(actual: number, expected: number, message?: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-9, message ?? `${actual} is not ${expected}`);
}

describe("newCounter", () => {
  it("starts empty, with the window (or alert period) and the last request at now", () => {
    assert.deepEqual(newCounter(5000), {
      start: 5000,
      count: 0,
      last: 5000,
      alert: ALERT_NONE,
      prev: 0,
      instance: undefined,
      subjects: undefined,
      clientIps: undefined,
    });
  });
});

describe("capacity", () => {
  it("is count for fixed and sliding windows, burst for the bucket", () => {
    assert.equal(capacity({ algorithm: "fixed", count: 20, windowMs: 1000, burst: 99 }), 20);
    assert.equal(capacity({ algorithm: "sliding", count: 20, windowMs: 1000, burst: 99 }), 20);
    assert.equal(capacity(bucket(20, 1000, 50)), 50);
  });
});

describe("commit and levelWith", () => {
  it("levelWith only looks: the counter is unchanged until commit", () => {
    const counter = newCounter(0);
    commit(counter, 2, 10);
    const before = structuredClone(counter);
    assert.equal(levelWith(counter, fixed(5, 1000), 20, 3), 5);
    assert.deepEqual(counter, before);
  });

  it("commit adds the cost and records the time of the request", () => {
    const counter = newCounter(0);
    commit(counter, 1, 100);
    commit(counter, 3, 250);
    assert.equal(counter.count, 4);
    assert.equal(counter.last, 250);
    assert.equal(counter.start, 0);
  });
});

describe("algorithm fixed", () => {
  const limit = fixed(3, 1000);

  it("request count+1 is the first one over the limit", () => {
    const counter = newCounter(100);
    const results = [100, 200, 300, 400, 500].map((t) => request(counter, limit, t));
    assert.deepEqual(results.map((r) => r.over), [false, false, false, true, true]);
    assert.deepEqual(results.map((r) => r.level), [1, 2, 3, 4, 5]);
  });

  it("a limit of 1 lets one request through and makes the second over", () => {
    const counter = newCounter(0);
    assert.equal(request(counter, fixed(1, 1000), 0).over, false);
    assert.equal(request(counter, fixed(1, 1000), 1).over, true);
  });

  it("the window opens with the first request and lasts windowMs, however busy the key stays", () => {
    const counter = newCounter(5000);
    for (let t = 5000; t < 6000; t += 100) request(counter, limit, t);
    assert.equal(counter.count, 10);
    rollCounter(counter, limit, 5999);
    assert.equal(counter.start, 5000, "the window does not slide with activity");
    assert.equal(counter.count, 10);
    rollCounter(counter, limit, 6000);
    assert.equal(counter.start, 6000);
    assert.equal(counter.count, 0);
    assert.deepEqual(request(counter, limit, 6000), { level: 1, over: false });
  });

  it("after a long silence the next window opens at the next request, not on a grid", () => {
    const counter = newCounter(0);
    request(counter, limit, 0);
    rollCounter(counter, limit, 4321);
    assert.equal(counter.start, 4321);
    assert.equal(counter.count, 0);
    assert.equal(counter.last, 0, "rolling is not a request");
  });

  it("rolling into a new window forgets the alert, the sightings and the counted message", () => {
    const counter = newCounter(0);
    counter.count = 7;
    counter.alert = ALERT_SENT;
    counter.subjects = new Tally("hi", 7);
    counter.clientIps = new Tally("192.0.2.1", 7);
    counter.instance = "msg-1";
    rollCounter(counter, limit, 999);
    assert.equal(counter.alert, ALERT_SENT);
    assert.equal(counter.instance, "msg-1");
    assert.ok(counter.subjects && counter.clientIps);
    rollCounter(counter, limit, 1000);
    assert.equal(counter.count, 0);
    assert.equal(counter.alert, ALERT_NONE);
    assert.equal(counter.subjects, undefined);
    assert.equal(counter.clientIps, undefined);
    assert.equal(counter.instance, undefined);
  });

  it("counts cost, so a request can be over by more than one", () => {
    const counter = newCounter(0);
    request(counter, limit, 0, { cost: 2 });
    assert.deepEqual(request(counter, limit, 1, { cost: 2 }), { level: 4, over: true });
  });

  it("expires when its window ends, whatever came later in it", () => {
    const counter = newCounter(2000);
    request(counter, limit, 2000);
    request(counter, limit, 2900);
    assert.equal(counterExpiresAt(counter, limit), 3000);
    rollCounter(counter, limit, 3000);
    assert.equal(counterExpiresAt(counter, limit), 4000);
  });
});

describe("algorithm sliding", () => {
  const limit = sliding(10, 1000);

  /** A counter whose first sub-window [0, 1000) holds `n` requests. */
  function filled(n: number): SenderCounter {
    const counter = newCounter(0);
    for (let i = 0; i < n; i++) request(counter, limit, i);
    return counter;
  }

  it("in the first sub-window it counts like the fixed window: request count+1 is over", () => {
    const counter = newCounter(0);
    const overs = Array.from({ length: 12 }, (_, i) => request(counter, limit, i * 10).over);
    assert.deepEqual(overs, [...Array(10).fill(false), true, true]);
  });

  it("weights the previous sub-window by the part of it still inside the sliding window", () => {
    const counter = filled(10);
    rollCounter(counter, limit, 1000);
    assert.equal(counter.prev, 10);
    assert.equal(counter.count, 0);
    assert.equal(counter.start, 1000);
    assertNear(levelWith(counter, limit, 1000, 1), 11);
    assertNear(levelWith(counter, limit, 1250, 1), 8.5);
    assertNear(levelWith(counter, limit, 1500, 1), 6);
    assertNear(levelWith(counter, limit, 1900, 1), 2);
    assertNear(levelWith(counter, limit, 1999, 0), 0.01);
  });

  it("adds the current sub-window's requests to the weighted previous one", () => {
    const counter = filled(10);
    // Halfway through the next sub-window the previous one still weighs 5: five more fit, the sixth is over.
    const overs = Array.from({ length: 6 }, () => request(counter, limit, 1500).over);
    assert.deepEqual(overs, [false, false, false, false, false, true]);
    assert.equal(counter.prev, 10);
  });

  it("keeps the sub-windows on the grid the first request started", () => {
    const counter = filled(3);
    rollCounter(counter, limit, 1700);
    assert.equal(counter.start, 1000);
    assertNear(levelWith(counter, limit, 1700, 0), 3 * 0.3);
  });

  it("the previous sub-window is only the latest one, not a running total", () => {
    const counter = filled(10);
    rollCounter(counter, limit, 1000);
    for (let i = 0; i < 4; i++) request(counter, limit, 1100);
    rollCounter(counter, limit, 2000);
    assert.equal(counter.prev, 4);
    assert.equal(counter.count, 0);
    assert.equal(counter.start, 2000);
  });

  it("forgets everything after two windows of silence", () => {
    for (const now of [2000, 2999, 3500, 10_000]) {
      const counter = filled(10);
      rollCounter(counter, limit, now);
      assert.equal(counter.prev, 0, `at ${now}`);
      assert.equal(counter.count, 0, `at ${now}`);
      assert.equal(counter.start, Math.floor(now / 1000) * 1000, `at ${now}`);
      assert.equal(levelWith(counter, limit, now, 1), 1, `at ${now}`);
    }
  });

  it("keeps the sightings of the previous sub-window, which still weighs, and forgets the one before", () => {
    const counter = newCounter(0);
    request(counter, limit, 0);
    recordSighting(counter, "first", "192.0.2.1");
    request(counter, limit, 1500);
    recordSighting(counter, "second", "192.0.2.2");
    request(counter, limit, 1600);
    recordSighting(counter, "second", "192.0.2.1");
    assert.deepEqual(
      subjectsOf(counter),
      { first: 1, second: 2 },
      "[0, 1000) is still in the window at 1600",
    );
    assert.deepEqual(clientIpsOf(counter), { "192.0.2.1": 2, "192.0.2.2": 1 });
    // A key that keeps sending: at 2000 the window [1000, 2000] has slid wholly past [0, 1000).
    request(counter, limit, 2100);
    recordSighting(counter, "third", "192.0.2.3");
    assert.deepEqual(subjectsOf(counter), { second: 2, third: 1 });
    assert.deepEqual(clientIpsOf(counter), { "192.0.2.1": 1, "192.0.2.2": 1, "192.0.2.3": 1 });
    rollCounter(counter, limit, 3000);
    assert.deepEqual(subjectsOf(counter), { third: 1 });
    assert.deepEqual(clientIpsOf(counter), { "192.0.2.3": 1 });
  });

  it("forgets every sighting after a whole window of silence, as it forgets the counts", () => {
    const counter = filled(3);
    recordSighting(counter, "hi", "192.0.2.1");
    rollCounter(counter, limit, 2000);
    assert.equal(counter.subjects, undefined);
    assert.equal(counter.clientIps, undefined);
  });

  it("a sub-window that saw nothing leaves nothing to keep after the next roll", () => {
    const counter = filled(3);
    recordSighting(counter, "hi", "192.0.2.1");
    rollCounter(counter, limit, 1000);
    assert.deepEqual(subjectsOf(counter), { hi: 1 });
    rollCounter(counter, limit, 2000);
    assert.equal(counter.subjects, undefined);
    assert.equal(counter.clientIps, undefined);
  });

  it("starts a new alert period when the sub-window rolls, not before", () => {
    const counter = filled(10);
    counter.alert = ALERT_PENDING;
    rollCounter(counter, limit, 999);
    assert.equal(counter.alert, ALERT_PENDING);
    rollCounter(counter, limit, 1000);
    assert.equal(counter.alert, ALERT_NONE);
  });

  it("expires two windows after its sub-window started: until then the previous one still weighs", () => {
    const counter = filled(5);
    assert.equal(counterExpiresAt(counter, limit), 2000);
    rollCounter(counter, limit, 1999);
    assert.ok(levelWith(counter, limit, 1999, 0) > 0, "still remembered just before expiry");
    assert.equal(counterExpiresAt(counter, limit), 3000);
  });
});

describe("algorithm bucket", () => {
  // Drains 10 per 10 s, i.e. one unit per second; holds up to 5.
  const limit = bucket(10, 10_000, 5);

  it("takes a burst of `burst` requests at once; the next one overflows", () => {
    const counter = newCounter(0);
    const overs = Array.from({ length: 7 }, () => request(counter, limit, 0, { leaky: true }).over);
    assert.deepEqual(overs, [false, false, false, false, false, true, true]);
    assert.equal(counter.count, 5, "a leaky bucket does not take what overflows");
  });

  it("is over when level + cost exceeds burst", () => {
    const counter = newCounter(0);
    commit(counter, 3, 0);
    assert.deepEqual(request(counter, limit, 0, { cost: 2, leaky: true }), { level: 5, over: false });
    const counter2 = newCounter(0);
    commit(counter2, 3, 0);
    assert.deepEqual(request(counter2, limit, 0, { cost: 3, leaky: true }), { level: 6, over: true });
  });

  it("drains at count/windowMs per millisecond, and never below empty", () => {
    const counter = newCounter(0);
    commit(counter, 5, 0);
    rollCounter(counter, limit, 1000);
    assertNear(counter.count, 4);
    rollCounter(counter, limit, 2500);
    assertNear(counter.count, 2.5);
    rollCounter(counter, limit, 60_000);
    assert.equal(counter.count, 0);
  });

  it("a full bucket takes one more request once one unit has drained", () => {
    const counter = newCounter(0);
    for (let i = 0; i < 5; i++) request(counter, limit, 0);
    assert.equal(request(counter, limit, 500, { leaky: true }).over, true);
    assert.equal(request(counter, limit, 1000, { leaky: true }).over, false);
    assert.equal(request(counter, limit, 1000, { leaky: true }).over, true);
  });

  it("roll moves `last`, so draining is never applied twice", () => {
    const counter = newCounter(0);
    commit(counter, 5, 0);
    rollCounter(counter, limit, 1000);
    assert.equal(counter.last, 1000);
    rollCounter(counter, limit, 1000);
    assertNear(counter.count, 4, "a second roll at the same time drains nothing");
    rollCounter(counter, limit, 2000);
    assertNear(counter.count, 3, "drained for 2000 ms in all, not 1000 + 2000");
  });

  it("a refused request that was not counted still leaves the drain accounted up to now", () => {
    const counter = newCounter(0);
    for (let i = 0; i < 5; i++) request(counter, limit, 0);
    assert.equal(request(counter, limit, 400, { leaky: true }).over, true);
    assert.equal(counter.last, 400);
    assertNear(counter.count, 4.6);
    rollCounter(counter, limit, 1000);
    assertNear(counter.count, 4);
  });

  it("keeps the sightings of everything still in the bucket, up to the crossing", () => {
    const counter = newCounter(0);
    for (let t = 0; t < 3000; t += 500) { // adds 1, drains 0.5: 1, 1.5, ..., 3.5
      request(counter, limit, t, { leaky: true });
      recordSighting(counter, `s${t}`, "192.0.2.1");
    }
    assert.equal(counter.subjects?.size, 6, "the bucket never emptied: all six are in it");
    assert.deepEqual(clientIpsOf(counter), { "192.0.2.1": 6 });
  });

  it("forgets the sightings once the bucket has drained empty", () => {
    const counter = newCounter(0);
    request(counter, limit, 0);
    recordSighting(counter, "old", "192.0.2.1");
    const sooner = newCounter(0);
    request(sooner, limit, 0);
    recordSighting(sooner, "old", "192.0.2.1");
    rollCounter(sooner, limit, 999);
    assert.deepEqual(subjectsOf(sooner), { old: 1 });
    rollCounter(counter, limit, 1000); // one unit drains in 1 s
    assert.equal(counter.subjects, undefined);
    assert.equal(counter.clientIps, undefined);
  });

  it("a new alert period after windowMs forgets the sightings of the last one, though the bucket never emptied", () => {
    const big = bucket(10, 10_000, 20);
    const counter = newCounter(0);
    commit(counter, 15, 0);
    recordSighting(counter, "alerted", "192.0.2.1");
    counter.alert = ALERT_SENT;
    rollCounter(counter, big, 9999);
    recordSighting(counter, "same period", "192.0.2.1");
    assert.deepEqual(subjectsOf(counter), { alerted: 1, "same period": 1 });
    rollCounter(counter, big, 10_000);
    assert.ok(counter.count > 0);
    assert.equal(counter.subjects, undefined);
    assert.equal(counter.clientIps, undefined);
  });

  it("a key that keeps sending and alerting lists in each alert only its own period's sightings", () => {
    const counter = newCounter(0);
    const alerts: Record<string, number>[] = [];
    // Twice the drain rate for 40 s: over most of the time, and the bucket never empties.
    for (let t = 0; t < 40_000; t += 500) {
      const { over } = request(counter, limit, t, { leaky: true });
      recordSighting(counter, `from ${Math.floor(t / 10_000) * 10} s`);
      if (over && counter.alert === ALERT_NONE) {
        counter.alert = ALERT_SENT;
        alerts.push(subjectsOf(counter));
      }
    }
    assert.ok(alerts.length >= 3, `${alerts.length} alerts`);
    for (const [i, listed] of alerts.entries()) {
      assert.ok(Object.keys(listed).length <= 2, `alert ${i} lists ${Object.keys(listed)}`);
    }
  });

  it("restarts the alert period when the bucket has drained empty", () => {
    const counter = newCounter(0);
    commit(counter, 1, 0);
    counter.alert = ALERT_PENDING;
    rollCounter(counter, limit, 1500); // empty since 1000, long before windowMs
    assert.equal(counter.count, 0);
    assert.equal(counter.alert, ALERT_NONE);
    assert.equal(counter.start, 1500);
  });

  it("keeps the alert while the bucket holds something and windowMs has not passed", () => {
    const counter = newCounter(0);
    commit(counter, 5, 0);
    counter.alert = ALERT_PENDING;
    rollCounter(counter, limit, 3000);
    assertNear(counter.count, 2);
    assert.equal(counter.alert, ALERT_PENDING);
    assert.equal(counter.start, 0);
  });

  it("once alerted, starts a new alert period after windowMs even if the bucket never empties", () => {
    const big = bucket(10, 10_000, 20);
    const counter = newCounter(0);
    commit(counter, 15, 0);
    counter.alert = ALERT_SENT;
    rollCounter(counter, big, 9999);
    assert.equal(counter.alert, ALERT_SENT);
    assert.equal(counter.start, 0);
    rollCounter(counter, big, 10_000);
    assertNear(counter.count, 5);
    assert.equal(counter.alert, ALERT_NONE);
    assert.equal(counter.start, 10_000);
  });

  it("an alert raised after a long busy period is not reset by the next request", () => {
    const counter = newCounter(0);
    // One request every 900 ms drains 0.9 and adds 1: the bucket never empties, nor overflows.
    let t = 0;
    for (; t <= 15_000; t += 900) assert.equal(request(counter, limit, t).over, false, `at ${t}`);
    let crossedAt = -1;
    for (let i = 0; i < 10 && crossedAt < 0; i++) {
      if (request(counter, limit, t).over) crossedAt = t;
    }
    assert.ok(crossedAt > 0, "the burst overflows");
    counter.alert = ALERT_PENDING; // what the counters actor does when a key crosses
    rollCounter(counter, limit, crossedAt + 1);
    assert.equal(counter.alert, ALERT_PENDING, "one alert per alert period, not one per request");
  });

  it("a bucket drained exactly to empty is empty and restarts its alert period", () => {
    const hourly = bucket(4, 3_600_000, 1); // one unit per 15 minutes
    const counter = newCounter(0);
    commit(counter, 1, 0);
    counter.alert = ALERT_PENDING;
    assert.equal(counterExpiresAt(counter, hourly), 900_000);
    rollCounter(counter, hourly, 900_000);
    assert.equal(counter.count, 0);
    assert.equal(counter.alert, ALERT_NONE);
    assert.equal(counter.start, 900_000);
  });

  it("expires when it has drained empty", () => {
    const counter = newCounter(500);
    commit(counter, 3, 500);
    assert.equal(counterExpiresAt(counter, limit), 3500);
    commit(counter, 0.5, 500);
    assert.equal(counterExpiresAt(counter, limit), 4000);
    const empty = newCounter(700);
    assert.equal(counterExpiresAt(empty, limit), 700);
  });

  it("expiry is consistent with draining: empty at the expiry time, not a millisecond before", () => {
    for (const level of [1, 2, 3.5, 5]) {
      const counter = newCounter(0);
      commit(counter, level, 100);
      const expiresAt = counterExpiresAt(counter, limit);
      const before = structuredClone(counter);
      rollCounter(before, limit, expiresAt - 1);
      assert.ok(before.count > 0, `level ${level}: still holds something at ${expiresAt - 1}`);
      rollCounter(counter, limit, expiresAt);
      assert.equal(counter.count, 0, `level ${level}: empty at ${expiresAt}`);
    }
  });

  it("expiry moves with the last request", () => {
    const counter = newCounter(0);
    request(counter, limit, 0);
    assert.equal(counterExpiresAt(counter, limit), 1000);
    request(counter, limit, 800); // 0.2 left + 1
    assert.equal(counterExpiresAt(counter, limit), 800 + 1200);
  });
});

describe("a wall clock stepped back (NTP)", () => {
  it("sliding: the previous sub-window never weighs more than all of it", () => {
    const limit = sliding(10, 1000);
    const counter = newCounter(0);
    for (let i = 0; i < 9; i++) request(counter, limit, i); // 9 in [0, 1000)
    request(counter, limit, 1000); // the sub-window rolls: prev 9, count 1
    // The clock steps back by a whole window: nothing more was sent, the level is still at most 10.
    rollCounter(counter, limit, 0);
    assert.ok(levelWith(counter, limit, 0, 0) <= 10, `level ${levelWith(counter, limit, 0, 0)}`);
    assert.ok(currentLevel(counter, limit, 0) <= 10, `shown level ${currentLevel(counter, limit, 0)}`);
    assert.equal(request(counter, limit, 0, { leaky: true }).over, true, "the 11th is over, as before");
  });

  it("sliding: a sender at 5 of 10 is not refused after the step", () => {
    const limit = sliding(10, 1000);
    const counter = newCounter(0);
    for (let i = 0; i < 5; i++) request(counter, limit, i);
    request(counter, limit, 1000); // prev 5, count 1
    // Stepped back by a window: 5 + 1 + 1 is 7, not the previous sub-window counted twice (12).
    const { level, over } = request(counter, limit, 0, { leaky: true });
    assert.equal(over, false, `level ${level}`);
    assert.equal(level, 7);
  });

  it("bucket: stepping back does not fill the bucket", () => {
    const limit = bucket(10, 10_000, 5); // one unit a second, holds 5
    const counter = newCounter(0);
    request(counter, limit, 100_000);
    request(counter, limit, 100_000); // level 2
    const back = 100_000 - 10_000; // the clock steps back 10 s
    assert.ok(currentLevel(counter, limit, back) <= 2, `shown level ${currentLevel(counter, limit, back)}`);
    const { level, over } = request(counter, limit, back, { leaky: true });
    assert.equal(over, false, `level ${level}: 2 in the bucket and one more is not over 5`);
    assert.equal(level, 3);
  });
});

describe("a wall clock set back by more than a window (or a counter written under a clock set ahead)", () => {
  const cases = [
    ["fixed", fixed(3, 1000)],
    ["sliding", sliding(3, 1000)],
    ["bucket", bucket(3, 1000, 3)],
  ] as const;
  for (const [name, limit] of cases) {
    it(`${name}: starts afresh instead of holding the key until the clock catches up`, () => {
      const counter = newCounter(1_000_000);
      for (let i = 0; i < 3; i++) request(counter, limit, 1_000_000);
      assert.equal(request(counter, limit, 1_000_000, { leaky: true }).over, true, "full at the later time");
      const back = 1_000_000 - 1001; // a day, or years, would be the same
      assert.equal(currentLevel(counter, limit, back), 0, "shown empty");
      const { level, over } = request(counter, limit, back, { leaky: true });
      assert.equal(over, false, `level ${level}`);
      assert.equal(level, 1);
    });

    it(`${name}: a step back of a window at most keeps the counter`, () => {
      const counter = newCounter(1_000_000);
      for (let i = 0; i < 3; i++) request(counter, limit, 1_000_000);
      assert.equal(request(counter, limit, 1_000_000 - 1000, { leaky: true }).over, true);
    });
  }
});
