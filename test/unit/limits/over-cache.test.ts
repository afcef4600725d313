// The Redis store's local cache of keys over a leaky refusing limit: only "over" answers, for a while,
// bounded.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Probe } from "../../../src/limits/counter-store.ts";
import { createOverCache, decidedWithout } from "../../../src/limits/over-cache.ts";
import { limitConfig } from "../../helpers/limit-config.ts";

const limit = limitConfig({ count: 2 });

function probe(key: string, over = { level: 3, charge: 1 }, instance?: string, of = limit): Probe {
  return {
    limit: of,
    key,
    cost: 1,
    instance,
    charge: over.charge,
    level: over.level,
    over: true,
    isNew: false,
    counted: false,
    crossed: false,
    count: 0,
    counter: undefined,
    ref: undefined,
    mark: 0,
  };
}

describe("over cache", () => {
  it("caches only leaky limits that refuse", () => {
    const cache = createOverCache(1000, 10, () => 0);
    assert.equal(cache.eligible(limit), true);
    assert.equal(cache.eligible(limitConfig({ mode: "strict" })), false);
    assert.equal(cache.eligible(limitConfig({ action: "warn" })), false);
    assert.equal(createOverCache(0, 10, () => 0).eligible(limit), false);
  });

  it("answers over for at most its time, then lets Redis answer", () => {
    const clock = { now: 0 };
    const cache = createOverCache(1000, 10, () => clock.now);
    cache.remember(probe("a"), "");
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
    cache.remember(probe("a", { level: 2.5, charge: 1 }, "m2"), "m1"); // 1.5 before the request
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
    for (const key of ["a", "b", "c", "d"]) cache.remember(probe(key), "");
    assert.equal(cache.size, 3);
    assert.equal(cache.answer(probe("a")), false);
    assert.equal(cache.answer(probe("d")), true);
    cache.forgetKey("d");
    assert.equal(cache.answer(probe("d")), false);
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
