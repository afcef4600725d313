import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createMetrics, LATENCY_BUCKETS_S, recordRequest } from "../../../src/control/metrics.ts";

describe("recordRequest", () => {
  it("counts by action and deciding rule, under the keys the exporters split on NUL", () => {
    const metrics = createMetrics(0);
    recordRequest(metrics, "accept", undefined, 0.0001, 1000);
    recordRequest(metrics, "accept", undefined, 0.0001, 1000);
    recordRequest(metrics, "defer", "outbound", 0.0003, 1000);
    recordRequest(metrics, "defer", "outbound", 0.0003, 1000);
    recordRequest(metrics, "reject", "outbound", 0.002, 1000);
    recordRequest(metrics, "error", undefined, 0.5, 61_000);
    assert.deepEqual(
      [...metrics.requests].sort(),
      [["accept\0", 2], ["defer\0outbound", 2], ["error\0", 1], ["reject\0outbound", 1]],
    );
    assert.equal(metrics.badRequests, 1);
    assert.equal(metrics.latencyCount, 6);
    assert.deepEqual(metrics.latencyBuckets.slice(0, 5), [2, 0, 2, 0, 1]);
    assert.equal(metrics.latencyBuckets[LATENCY_BUCKETS_S.length - 1], 1, "0.5 s falls in the 1 s bucket");
    assert.deepEqual(metrics.minutes.map(({ minute, requests }) => [minute, requests]), [[0, 5], [1, 1]]);
  });

  it("keeps rules apart that only a reload brought, and many of them", () => {
    const metrics = createMetrics(0);
    for (let i = 0; i < 1500; i++) recordRequest(metrics, "warn", `rule${i % 1100}`, 0.0001, 0);
    assert.equal(metrics.requests.size, 1100);
    assert.equal(metrics.requests.get("warn\0rule7"), 2);
    assert.equal(metrics.requests.get("warn\0rule1099"), 1);
  });
});
