// The Redis store's local cache of keys over a leaky refusing or a strict limit: only "over" answers, for
// a while, bounded; a strict limit's attempts add up until a call or the flush takes them to Redis.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Probe } from "../../../src/limits/counter-store.ts";
import { createOverCache, decidedWithout } from "../../../src/limits/over-cache.ts";
import { limitConfig } from "../../helpers/limit-config.ts";
import { overProbe } from "../../helpers/over-probe.ts";

const limit = limitConfig({ count: 2 });

const probe = (key: string, over = { level: 3, charge: 1 }, instance?: string, of = limit): Probe =>
  overProbe(of, key, over, instance);

describe("over cache", () => {
  it("caches leaky limits that refuse and strict ones, never a leaky one that only warns", () => {
    const cache = createOverCache(1000, 10, () => 0);
    assert.equal(cache.eligible(limit), true);
    assert.equal(cache.eligible(limitConfig({ mode: "strict" })), true);
    assert.equal(cache.eligible(limitConfig({ mode: "strict", action: "warn" })), true);
    assert.equal(cache.eligible(limitConfig({ action: "warn" })), false);
    assert.equal(createOverCache(0, 10, () => 0).eligible(limit), false);
    assert.equal(createOverCache(0, 10, () => 0).eligible(limitConfig({ mode: "strict" })), false);
  });

  it("answers over for at most its time, then lets Redis answer", () => {
    const clock = { now: 0 };
    const cache = createOverCache(1000, 10, () => clock.now);
    cache.remember(probe("a"), "", 0);
    const asked = probe("a", { level: 0, charge: 0 });
    assert.equal(cache.answer(asked), true);
    assert.deepEqual([asked.level, asked.charge, asked.over, asked.isNew], [3, 1, true, false]);
    clock.now = 999;
    assert.equal(cache.answer(probe("a")), true);
    clock.now = 1000;
    assert.equal(cache.answer(probe("a")), false);
    assert.equal(cache.size, 0);
  });

  it("never answers a request that would not be over (a smaller cost, another recipient of the counted message)", () => {
    const cache = createOverCache(1000, 10, () => 0);
    cache.remember(probe("a", { level: 2.5, charge: 1 }, "m2"), "m1", 0); // 1.5 before the request
    assert.equal(cache.answer({ ...probe("a"), cost: 0 }), false, "1.5 + 0 is not over 2");
    assert.equal(
      cache.answer(probe("a", undefined, "m1")),
      false,
      "m1 was counted: its recipients add nothing",
    );
    assert.equal(cache.answer(probe("a", undefined, "m3")), true);
  });

  it("holds at most its bound, the oldest out first; forgets a reset key", () => {
    const cache = createOverCache(1000, 3, () => 0);
    for (const key of ["a", "b", "c", "d"]) cache.remember(probe(key), "", 0);
    assert.equal(cache.size, 3);
    assert.equal(cache.answer(probe("a")), false);
    assert.equal(cache.answer(probe("d")), true);
    cache.forgetKey("d");
    assert.equal(cache.answer(probe("d")), false);
  });

  it("finds a key over two limits after one of its entries is gone (ended, pushed out or re-remembered)", () => {
    const clock = { now: 0 };
    const cache = createOverCache(1000, 3, () => clock.now);
    const other = limitConfig({ name: "other", count: 2 });
    cache.remember(probe("a"), "", 500); // ends at 500
    cache.remember(probe("a", undefined, undefined, other), "", 0);
    cache.remember(probe("a"), "", 500); // the same entry again: still one for the key under `limit`
    clock.now = 500;
    assert.equal(cache.answer(probe("a")), false, "ended");
    assert.equal(
      cache.answer(probe("a", undefined, undefined, other)),
      true,
      "the other limit's entry holds",
    );
    cache.remember(probe("b"), "", 0);
    cache.remember(probe("c"), "", 0);
    cache.remember(probe("d"), "", 0); // pushes out the oldest: a's entry under `other`
    assert.equal(cache.answer(probe("a", undefined, undefined, other)), false);
    cache.remember(probe("a", undefined, undefined, other), "", 0);
    assert.equal(cache.answer(probe("a", undefined, undefined, other)), true, "remembered again");
    cache.forgetKey("a");
    assert.equal(cache.answer(probe("a", undefined, undefined, other)), false, "reset");
    cache.clear();
    cache.remember(probe("a"), "", 0);
    assert.equal(cache.answer(probe("a")), true, "after clear");
  });

  it("ends an entry with the period Redis said it is over in, when that comes before its time", () => {
    const clock = { now: 0 };
    const cache = createOverCache(1000, 10, () => clock.now);
    cache.remember(probe("a"), "", 300);
    clock.now = 299;
    assert.equal(cache.answer(probe("a")), true);
    clock.now = 300;
    assert.equal(cache.answer(probe("a")), false);
  });

  it("adds up a strict limit's attempts, its level growing with them, until a call takes them", () => {
    const strict = limitConfig({ count: 2, mode: "strict" });
    const clock = { now: 0 };
    const cache = createOverCache(1000, 10, () => clock.now);
    // Redis: 3 with m1, counted, at 1234 by its clock
    cache.remember(probe("a", { level: 3, charge: 1 }, "m1", strict), "", 0, 1234);
    const levels = [];
    for (const message of ["m2", "m3", "m4"]) {
      const asked = probe("a", { level: 0, charge: 0 }, message, strict);
      assert.equal(cache.answer(asked), true);
      assert.equal(cache.count(asked), true);
      levels.push(asked.level);
    }
    assert.deepEqual(levels, [4, 5, 6], "the pending attempts raise the level as Redis would");
    assert.equal(
      cache.answer(probe("a", undefined, "m1", strict)),
      false,
      "m1 was counted, and m2 to m4 after it do not make Redis forget it: Redis answers",
    );
    assert.equal(
      cache.answer(probe("a", undefined, "m4", strict)),
      false,
      "m4's other recipients: Redis answers (it will know m4)",
    );
    assert.deepEqual(
      { ...cache.peek(probe("a", undefined, undefined, strict))!, limit: undefined },
      { limit: undefined, key: "a", pending: 3, instance: "m4\nm3\nm2\nm1", since: 1234 },
      "since: when Redis said over (a counter begun later is not the one they belong to)",
    );
    const taken = cache.take(probe("a", undefined, undefined, strict))!;
    assert.equal(taken.pending, 3);
    assert.equal(cache.take(probe("a", undefined, undefined, strict)), undefined, "taken once");
    assert.equal(cache.answer(probe("a", { level: 0, charge: 0 }, "m5", strict)), true, "the entry stays");
  });

  it("keeps what it counted while Redis's answer to the call carrying the earlier counts is on its way", () => {
    const strict = limitConfig({ count: 2, mode: "strict" });
    const cache = createOverCache(1000, 10, () => 0);
    cache.remember(probe("a", { level: 3, charge: 1 }, undefined, strict), "", 0);
    const asked = probe("a", { level: 0, charge: 0 }, undefined, strict);
    cache.answer(asked);
    cache.count(asked);
    cache.take(asked); // sent with a call
    cache.answer(asked);
    cache.count(asked); // counted meanwhile
    cache.remember(probe("a", { level: 5, charge: 1 }, undefined, strict), "", 0); // the call's answer
    assert.equal(cache.peek(asked)?.pending, 1);
    cache.answer(asked);
    assert.equal(asked.level, 5 + 1 + 1, "Redis's 5 after the call, 1 pending, 1 this attempt");
  });

  it("names the Redis answer its pending counts belong to: the earlier one's until taken, then the latest", () => {
    const strict = limitConfig({ count: 2, mode: "strict" });
    const cache = createOverCache(1000, 10, () => 0);
    const asked = probe("a", { level: 0, charge: 0 }, undefined, strict);
    cache.remember(probe("a", { level: 3, charge: 1 }, undefined, strict), "", 0, 100);
    cache.answer(asked);
    cache.count(asked);
    cache.remember(probe("a", { level: 4, charge: 1 }, undefined, strict), "", 0, 200); // a check: peeked
    assert.equal(cache.take(asked)?.since, 100, "counted against the counter Redis found over at 100");
    cache.answer(asked);
    cache.count(asked);
    assert.equal(cache.take(asked)?.since, 200, "counted after the take: against the one seen at 200");
  });

  it("hands ended and pushed-out entries' counts to the flush, and drops a reset key's", () => {
    const strict = limitConfig({ count: 2, mode: "strict" });
    const clock = { now: 0 };
    const cache = createOverCache(1000, 2, () => clock.now);
    const attempt = (key: string) => {
      const asked = probe(key, { level: 0, charge: 0 }, undefined, strict);
      assert.equal(cache.answer(asked), true);
      cache.count(asked);
    };
    for (const key of ["a", "b"]) {
      cache.remember(probe(key, undefined, undefined, strict), "", 0);
      attempt(key);
    }
    assert.deepEqual(cache.drain(), [], "nothing has ended");
    cache.remember(probe("c", undefined, undefined, strict), "", 0); // pushes a out
    attempt("c");
    attempt("c");
    const pending = (carries: { key: string; pending: number }[]) =>
      carries.map(({ key, pending }) => [key, pending]);
    assert.deepEqual(pending(cache.drain()), [["a", 1]]);
    assert.deepEqual(pending(cache.drain((key) => key === "c")), [["c", 2]], "show and top take live ones");
    assert.equal(cache.size, 2);
    cache.forgetKey("b");
    clock.now = 1000;
    assert.deepEqual(cache.drain(), [], "b was reset, c taken already");
    assert.equal(cache.size, 0);
  });

  it("skips only leaky limits the cached refusal outranks (or equals, coming after it)", () => {
    const decider = probe("a"); // defer, leaky
    const other = (overrides: Parameters<typeof limitConfig>[0]) =>
      probe("b", undefined, undefined, limitConfig(overrides));
    assert.equal(decidedWithout(decider, other({ action: "warn" }), true), true);
    assert.equal(
      decidedWithout(decider, other({ action: "defer" }), false),
      true,
      "after it: it wins the tie",
    );
    assert.equal(decidedWithout(decider, other({ action: "defer" }), true), false, "before it: it would win");
    assert.equal(decidedWithout(decider, other({ action: "reject" }), false), false, "stricter: asked");
    assert.equal(
      decidedWithout(decider, other({ action: "warn", mode: "strict" }), false),
      false,
      "counts anyway",
    );
  });
});
