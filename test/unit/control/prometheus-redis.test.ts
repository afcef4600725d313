// /metrics' Redis families (control/prometheus.ts): absent without [redis], rendered from the shared
// store's health.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createMetrics } from "../../../src/control/metrics.ts";
import { renderPrometheus } from "../../../src/control/prometheus.ts";

const extras = { version: "t", now: 0, trackedKeys: {}, actorsUp: {}, actorRestarts: {}, concerns: {} };

describe("Redis metrics", () => {
  it("are absent without [redis]", () => {
    assert.doesNotMatch(renderPrometheus(createMetrics(0), extras), /redis/);
  });

  it("render the state, incidents, round trips and the local cache's hits and carried attempts", () => {
    const metrics = createMetrics(0);
    metrics.redisHealth = () => ({
      state: "down",
      since: 0,
      fallback: "local",
      incidents: 2,
      fallbackChecks: 7,
      merged: 3,
      store: {
        roundTrips: 40,
        batches: 38,
        cacheHits: 11,
        cacheEntries: 1,
        carried: 9,
        unavailable: 1,
        answeredAhead: 7,
        aheadOver: 2,
        aheadKeys: 5,
      },
    });
    const lines = renderPrometheus(metrics, extras).split("\n");
    for (
      const line of [
        "mailpolicyd_redis_up 0",
        "mailpolicyd_redis_incidents_total 2",
        "mailpolicyd_redis_fallback_checks_total 7",
        "mailpolicyd_redis_merged_total 3",
        "mailpolicyd_redis_round_trips_total 40",
        "mailpolicyd_redis_cache_hits_total 11",
        "mailpolicyd_redis_cache_carried_total 9",
        "mailpolicyd_redis_answered_ahead_total 7",
        "mailpolicyd_redis_ahead_over_total 2",
      ]
    ) assert.ok(lines.includes(line), line);
  });
});
