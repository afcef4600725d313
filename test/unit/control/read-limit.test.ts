// The control listeners' pacing: a burst at once, then one request per 1/rate, and 429 only when too
// many already wait.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createReadLimit } from "../../../src/control/read-limit.ts";

describe("read limit", () => {
  it("serves a burst at once, then paces the rest in order", async () => {
    const limit = createReadLimit({ perSecond: 50, burst: 3, maxWaiting: 10 });
    const began = performance.now();
    const done: number[] = [];
    const admitted = await Promise.all(
      Array.from({ length: 6 }, (_, i) => limit.admit().then((ok) => (done.push(i), ok))),
    );
    const elapsed = performance.now() - began;
    assert.deepEqual(admitted, [true, true, true, true, true, true]);
    assert.deepEqual(done, [0, 1, 2, 3, 4, 5], "in order of arrival");
    // three waited for tokens 20 ms apart
    assert.ok(elapsed >= 55, `paced: ${elapsed} ms`);
    assert.ok(elapsed < 1000, `not stuck: ${elapsed} ms`);
  });

  it("refuses beyond the waiting room", async () => {
    const limit = createReadLimit({ perSecond: 20, burst: 1, maxWaiting: 2 });
    const results = await Promise.all(Array.from({ length: 5 }, () => limit.admit()));
    assert.deepEqual(results, [true, true, true, false, false]);
    assert.equal(limit.waiting, 0);
  });

  it("refills with time up to the burst", () => {
    let clock = 0;
    const limit = createReadLimit({ perSecond: 10, burst: 2, maxWaiting: 0, now: () => clock });
    const now = async () => await limit.admit();
    return (async () => {
      assert.equal(await now(), true);
      assert.equal(await now(), true);
      assert.equal(await now(), false, "burst spent, nobody may wait");
      clock += 100; // one token
      assert.equal(await now(), true);
      assert.equal(await now(), false);
      clock += 10_000; // refills to the burst, not beyond
      assert.equal(await now(), true);
      assert.equal(await now(), true);
      assert.equal(await now(), false);
    })();
  });
});
