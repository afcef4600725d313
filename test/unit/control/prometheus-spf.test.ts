// /metrics' SPF families (control/prometheus.ts): absent without the SPF actor, rendered from its stats.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createMetrics } from "../../../src/control/metrics.ts";
import { renderPrometheus } from "../../../src/control/prometheus.ts";
import type { DnsServerHealth } from "../../../src/dns/server-health.ts";

const extras = { version: "t", now: 0, trackedKeys: {}, actorsUp: {}, actorRestarts: {}, concerns: {} };

describe("SPF metrics", () => {
  it("are absent while no SPF concern runs", () => {
    assert.doesNotMatch(renderPrometheus(createMetrics(0), extras), /spf|dns_/);
  });

  it("render results, the result cache and the DNS client's counters", () => {
    const metrics = createMetrics(0);
    metrics.spfResults.set("pass", 5).set("fail", 2);
    const dns = {
      hits: 30,
      misses: 10,
      coalesced: 1,
      entries: 9,
      bytes: 4096,
      evictions: 0,
      queriesSent: 12,
      tcpQueries: 1,
      timeouts: 2,
      failures: 1,
      busy: 3,
      inFlight: 0,
      health: { state: "answering", failedLookups: 0, incidents: 1 } as DnsServerHealth,
    };
    metrics.spfStats = () => ({ dns, results: { hits: 4, misses: 3, size: 3 } });
    const text = renderPrometheus(metrics, extras);
    for (
      const line of [
        'mailpolicyd_spf_results_total{result="fail"} 2',
        'mailpolicyd_spf_results_total{result="pass"} 5',
        'mailpolicyd_spf_result_cache_total{outcome="hit"} 4',
        "mailpolicyd_spf_result_cache_entries 3",
        'mailpolicyd_dns_lookups_total{outcome="miss"} 10',
        'mailpolicyd_dns_queries_total{transport="udp"} 11',
        'mailpolicyd_dns_queries_total{transport="tcp"} 1',
        "mailpolicyd_dns_timeouts_total 2",
        "mailpolicyd_dns_failures_total 1",
        "mailpolicyd_dns_busy_total 3",
        "mailpolicyd_dns_cache_bytes 4096",
        "mailpolicyd_dns_up 1",
        "mailpolicyd_dns_down_incidents_total 1",
      ]
    ) assert.ok(text.split("\n").includes(line), line);
    assert.match(text, /# TYPE mailpolicyd_spf_results_total counter\n/);
    dns.health = { state: "not answering", failedLookups: 7, incidents: 2 };
    assert.match(renderPrometheus(metrics, extras), /^mailpolicyd_dns_up 0$/m);
  });
});
