import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  createMetrics,
  LATENCY_BUCKETS_S,
  recordRequest,
  requestRate,
} from "../../../src/control/metrics.ts";

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

describe("requestRate", () => {
  const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
  const burst = (metrics: ReturnType<typeof createMetrics>, n: number, at: number) => {
    for (let i = 0; i < n; i++) recordRequest(metrics, "accept", undefined, 0.0001, at + i * 100);
  };

  it("counts a burst in the current minute (it used to read 0.0/min until the minute ended)", () => {
    const metrics = createMetrics(T0);
    burst(metrics, 39, T0 + 45_000); // 10:00:45–10:00:49, asked at 10:00:50
    assert.equal(requestRate(metrics, 1, T0 + 50_000), 39);
    assert.equal(requestRate(metrics, 5, T0 + 50_000), 39, "up for under a minute: not divided by 5");
  });

  it("is over the last 60 s and 300 s, whatever the minute boundaries, divided by the minutes up", () => {
    const metrics = createMetrics(T0);
    burst(metrics, 100, T0 + 30_000); // 10:00:30
    burst(metrics, 39, T0 + 200_000); // 10:03:20
    const at = T0 + 230_000; // 10:03:50: 100 are 3m20s old
    assert.equal(requestRate(metrics, 1, at), 39);
    assert.ok(Math.abs(requestRate(metrics, 5, at) - 139 / (230 / 60)) < 1e-9, "up 3.83 minutes");
    const later = T0 + 600_000; // 10:10: both bursts over 5 minutes old
    assert.equal(requestRate(metrics, 1, later), 0);
    assert.equal(requestRate(metrics, 5, later), 0);
    burst(metrics, 30, T0 + 630_000); // 10:10:30, 600 s after the first burst: the same ring slots
    assert.equal(requestRate(metrics, 1, T0 + 640_000), 30, "the first burst's counts are not added");
    assert.equal(requestRate(metrics, 5, T0 + 640_000), 6);
  });
});
