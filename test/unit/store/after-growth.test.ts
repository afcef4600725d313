import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { watchGrowth } from "../../../src/store/after-growth.ts";

describe("watchGrowth", () => {
  const run = (ticks: number[]) => {
    const collectedAt: number[] = [];
    const watch = watchGrowth(() => collectedAt.push(-1));
    ticks.forEach((keys, i) => {
      if (watch.tick(keys)) collectedAt[collectedAt.length - 1] = i;
    });
    return collectedAt;
  };

  it("collects once a burst of 100 000 new keys has stopped growing, not during it", () => {
    // A fill at 35k keys/s to 150k, then quiet: the first quiet second (index 6) collects.
    assert.deepEqual(run([0, 35_000, 70_000, 105_000, 140_000, 150_000, 150_100, 150_200, 150_200]), [6]);
  });

  it("never collects for growth under 100 000 keys, nor in steady traffic", () => {
    assert.deepEqual(run([0, 50_000, 99_000, 99_500, 99_500, 99_500]), []);
    assert.deepEqual(run(Array.from({ length: 50 }, () => 1_000_000).map((k, i) => (i === 0 ? 0 : k))), [2]);
  });

  it("after a collection, needs another 100 000 or a tenth more (whichever is larger)", () => {
    const big = [0, 1_000_000, 1_000_000, 1_080_000, 1_080_000, 1_100_000, 1_100_000];
    assert.deepEqual(run(big), [2, 6]);
  });

  it("measures growth from a lower count once keys have expired", () => {
    // 200k collected, expiry takes it down to 20k, a new burst of 100k collects again.
    assert.deepEqual(run([0, 200_000, 200_000, 20_000, 20_000, 120_000, 120_000]), [2, 6]);
  });

  it("collects in a flood at max_keys: a quarter of the keys (at least 100 000) created since the last", () => {
    const collected: number[] = [];
    const watch = watchGrowth(() => collected.push(0));
    // A million keys, flat (every new key replaces an evicted one), 12 000 created per tick.
    for (let tick = 1; tick <= 100; tick++) {
      if (watch.tick(1_000_000, 1_000_000 + tick * 12_000)) collected.push(tick);
    }
    // The first tick collects for the growth to a million; then every 250 000 created: 21 ticks apart.
    assert.deepEqual(collected.filter((_, i) => i % 2 === 1), [1, 22, 43, 64, 85]);
  });

  it("never collects for churn under 100 000 keys, nor for a quarter of few keys", () => {
    const watch = watchGrowth(() => {
      throw new Error("collected");
    });
    // 20 000 keys, 4 000 created per tick: the quarter is 5 000, but 100 000 is the least.
    for (let tick = 1; tick <= 20; tick++) assert.equal(watch.tick(20_000, tick * 4_000), false);
  });

  it("does nothing where the runtime cannot collect on request", () => {
    const watch = watchGrowth(null);
    assert.equal(watch.tick(0), false);
    assert.equal(watch.tick(2_000_000), false);
    assert.equal(watch.tick(2_000_000), false);
  });
});
