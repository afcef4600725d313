// The circuit breaker in front of spamd (spamd/circuit-breaker.ts), on a clock the test turns.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type BreakerState, createCircuitBreaker } from "../../../src/spamd/circuit-breaker.ts";

function breaker(failures = 3, resetMs = 1000) {
  let now = 0;
  const changes: BreakerState[] = [];
  const it = createCircuitBreaker(() => ({ failures, resetMs }), () => now, (state) => changes.push(state));
  return { breaker: it, changes, advance: (ms: number) => now += ms };
}

describe("circuit breaker", () => {
  it("stays closed while failures in a row stay under the bound; a success resets the count", () => {
    const { breaker: b, changes } = breaker(3);
    b.failed();
    b.failed();
    b.succeeded();
    b.failed();
    b.failed();
    assert.equal(b.state(), "closed");
    assert.equal(b.admit(), true);
    assert.deepEqual(changes, []);
  });

  it("opens after N failures in a row and refuses every ask until the reset time", () => {
    const { breaker: b, changes, advance } = breaker(3, 1000);
    for (let i = 0; i < 3; i++) b.failed();
    assert.equal(b.state(), "open");
    assert.deepEqual(changes, ["open"]);
    advance(999);
    assert.equal(b.admit(), false);
    assert.equal(b.state(), "open");
  });

  it("after the reset time lets exactly one probe through; its success closes it", () => {
    const { breaker: b, changes, advance } = breaker(1, 1000);
    b.failed();
    advance(1000);
    assert.equal(b.state(), "half-open");
    assert.equal(b.admit(), true, "the probe");
    assert.equal(b.admit(), false, "a second ask while the probe runs");
    b.succeeded();
    assert.equal(b.state(), "closed");
    assert.equal(b.admit(), true);
    assert.deepEqual(changes, ["open", "half-open", "closed"]);
  });

  it("a failed probe opens it again for another reset time", () => {
    const { breaker: b, changes, advance } = breaker(2, 500);
    b.failed();
    b.failed();
    advance(600);
    assert.equal(b.admit(), true);
    b.failed();
    assert.equal(b.state(), "open");
    advance(499);
    assert.equal(b.admit(), false);
    advance(1);
    assert.equal(b.admit(), true, "the next probe");
    assert.deepEqual(changes, ["open", "half-open", "open", "half-open"]);
  });

  it("late outcomes of asks made before it opened change nothing while it is open", () => {
    const { breaker: b, advance } = breaker(2, 1000);
    b.failed();
    b.failed();
    b.failed(); // a third ask, failing late
    b.succeeded(); // a fourth, answered late (slowly): not a probe
    assert.equal(b.state(), "open");
    advance(1000);
    assert.equal(b.state(), "half-open", "the reset time counts from the opening, not from the late failure");
  });

  it("takes new settings as they come (a reload)", () => {
    let failures = 5;
    const b = createCircuitBreaker(() => ({ failures, resetMs: 10 }), () => 0);
    b.failed();
    failures = 2;
    b.failed();
    assert.equal(b.state(), "open");
  });
});
