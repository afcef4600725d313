import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MAX_TIMER_DELAY_MS, timerDelay } from "../../../src/actors/timer-delay.ts";

describe("timerDelay", () => {
  it("keeps a delay the timers honour as it is", () => {
    assert.equal(timerDelay(1), 1);
    assert.equal(timerDelay(5000), 5000);
    assert.equal(timerDelay(MAX_TIMER_DELAY_MS), 2 ** 31 - 1);
  });

  it("caps a delay over 2^31-1 ms, which a runtime would turn into 1 ms", () => {
    assert.equal(timerDelay(25 * 86_400_000), MAX_TIMER_DELAY_MS);
    assert.equal(timerDelay(Infinity), MAX_TIMER_DELAY_MS);
    assert.equal(timerDelay(Number.NaN), MAX_TIMER_DELAY_MS);
  });

  it("makes zero, negative and fractional delays whole and at least 1 ms", () => {
    assert.equal(timerDelay(0), 1);
    assert.equal(timerDelay(-5), 1);
    assert.equal(timerDelay(-Infinity), 1);
    assert.equal(timerDelay(2.6), 3);
  });
});
