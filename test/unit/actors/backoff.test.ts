import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { backoffDelay } from "../../../src/actors/backoff.ts";
import { MAX_TIMER_DELAY_MS } from "../../../src/actors/timer-delay.ts";

describe("backoffDelay", () => {
  it("is the minimum after the first failure, doubles per further one, and stops at the maximum", () => {
    assert.deepEqual([1, 2, 3, 4, 10].map((n) => backoffDelay(n, 100, 1000)), [100, 200, 400, 800, 1000]);
    assert.equal(backoffDelay(3, 10_000, 600_000), 40_000);
  });

  it("before any failure is the minimum too", () => {
    assert.equal(backoffDelay(0, 100, 1000), 100);
    assert.equal(backoffDelay(-3, 100, 1000), 100);
  });

  it("is a delay every timer honours even when the bounds are out of range", () => {
    assert.equal(backoffDelay(60, 10_000, Infinity), MAX_TIMER_DELAY_MS);
    assert.equal(backoffDelay(1, 25 * 86_400_000, 30 * 86_400_000), MAX_TIMER_DELAY_MS);
    assert.equal(backoffDelay(2000, 10, 1000), 1000, "2^1999 is Infinity: the maximum still holds");
    assert.equal(backoffDelay(1, 0, 1000), 1);
  });
});
