// GET /metrics: the Prometheus text exposition format (version 0.0.4), names prefixed mailpolicyd_.
import { LATENCY_BUCKETS_S, type Metrics } from "./metrics.ts";
import type { ConcernHealth } from "../engine/concern-health.ts";
import { histogramLines } from "./histogram.ts";
import { DOMAINS_BEFORE_DOWN } from "../dns/server-health.ts";
import { renderSpamd } from "./spamd-metrics.ts";
import { renderSpamFront } from "./spam-front-metrics.ts";

export interface PrometheusExtras {
  version: string;
  now: number;
  trackedKeys: Record<string, number>; // per rule
  pendingAlerts?: number; // undefined: the counters actor did not answer
  stateWriteFailing?: boolean; // likewise
  actorsUp: Record<string, boolean>;
  actorRestarts: Record<string, number>;
  concerns: Record<string, ConcernHealth>;
}

const label = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

export function renderPrometheus(metrics: Metrics, extras: PrometheusExtras): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string) =>
    out.push(`# HELP mailpolicyd_${name} ${help}`, `# TYPE mailpolicyd_${name} ${type}`);

  family("build_info", "gauge", "Version of the running daemon.");
  out.push(`mailpolicyd_build_info{version="${label(extras.version)}"} 1`);
  family("uptime_seconds", "gauge", "Seconds since the daemon started.");
  out.push(`mailpolicyd_uptime_seconds ${((extras.now - metrics.startedAt) / 1000).toFixed(3)}`);

  family("requests_total", "counter", "Policy requests answered, by action and by the rule that decided.");
  for (const [key, count] of [...metrics.requests].sort()) {
    const [action, rule] = key.split("\0");
    out.push(`mailpolicyd_requests_total{action="${action}",rule="${label(rule)}"} ${count}`);
  }
  family("bad_requests_total", "counter", "Requests refused as malformed.");
  out.push(`mailpolicyd_bad_requests_total ${metrics.badRequests}`);

  family("request_duration_seconds", "histogram", "Time from a complete request to its answer.");
  out.push(...histogramLines(
    "request_duration_seconds",
    LATENCY_BUCKETS_S,
    metrics.latencyBuckets,
    metrics.latencySum,
    metrics.latencyCount,
  ));

  const perRule = (name: string, type: string, help: string, counts: Iterable<[string, number]>) => {
    family(name, type, help);
    for (const [rule, count] of [...counts].sort()) {
      out.push(`mailpolicyd_${name}{rule="${label(rule)}"} ${count}`);
    }
  };
  perRule("tracked_keys", "gauge", "Keys with a live counter, per rule.", Object.entries(extras.trackedKeys));
  perRule(
    "keys_evicted_total",
    "counter",
    "Keys forgotten to make room at max_keys, per rule.",
    metrics.keysEvicted,
  );
  perRule(
    "keys_overflowed_total",
    "counter",
    "New keys counted under <overflow>: max_keys full of keys over their limit.",
    metrics.keysOverflowed,
  );
  family(
    "alerts_total",
    "counter",
    "Alerts by result (failed: attempts; parked: given up; dropped: outbox full).",
  );
  out.push(`mailpolicyd_alerts_total{result="sent"} ${metrics.alertsSent}`);
  out.push(`mailpolicyd_alerts_total{result="failed"} ${metrics.alertsFailed}`);
  out.push(`mailpolicyd_alerts_total{result="parked"} ${metrics.alertsParked}`);
  out.push(`mailpolicyd_alerts_total{result="dropped"} ${metrics.alertsDropped}`);
  family("alert_digests_total", "counter", "Digest mails sent (one mail for many alerts).");
  out.push(`mailpolicyd_alert_digests_total ${metrics.alertDigests}`);
  if (extras.pendingAlerts !== undefined) {
    family("alerts_pending", "gauge", "Alerts in the outbox, not yet delivered.");
    out.push(`mailpolicyd_alerts_pending ${extras.pendingAlerts}`);
  }
  if (extras.stateWriteFailing !== undefined) {
    family(
      "state_write_failing",
      "gauge",
      "1 while the state file or its journal cannot be written: counts since then are lost at a restart.",
    );
    out.push(`mailpolicyd_state_write_failing ${extras.stateWriteFailing ? 1 : 0}`);
  }

  family("actor_up", "gauge", "1 when the actor is running.");
  for (const [actor, up] of Object.entries(extras.actorsUp)) {
    out.push(`mailpolicyd_actor_up{actor="${actor}"} ${up ? 1 : 0}`);
  }
  family("actor_restarts_total", "counter", "Restarts of each actor by the supervisor.");
  for (const [actor, count] of Object.entries(extras.actorRestarts)) {
    out.push(`mailpolicyd_actor_restarts_total{actor="${actor}"} ${count}`);
  }
  family(
    "concern_up",
    "gauge",
    "1 when the concern answers; 0 while its failure answer stands in or what it asks does not answer.",
  );
  for (const [concern, health] of Object.entries(extras.concerns)) {
    out.push(`mailpolicyd_concern_up{concern="${label(concern)}"} ${health.state === "ok" ? 1 : 0}`);
  }
  family("concern_answers_total", "counter", "Requests a concern answered itself.");
  for (const [concern, health] of Object.entries(extras.concerns)) {
    out.push(`mailpolicyd_concern_answers_total{concern="${label(concern)}"} ${health.answered}`);
  }
  family("concern_failures_total", "counter", "Requests answered with a concern's failure answer, by cause.");
  for (const [concern, health] of Object.entries(extras.concerns)) {
    for (const [reason, count] of Object.entries(health.failures)) {
      out.push(`mailpolicyd_concern_failures_total{concern="${label(concern)}",reason="${reason}"} ${count}`);
    }
  }
  renderRedis(metrics, family, out);
  renderSpf(metrics, family, out);
  renderSpamd(metrics.spamd, family, out);
  if (metrics.spamFront) renderSpamFront(metrics.spamFront, family, out);
  return `${out.join("\n")}\n`;
}

/** The shared counters' families, when [redis] is configured (limits/shared-store.ts). */
function renderRedis(
  metrics: Metrics,
  family: (name: string, type: string, help: string) => void,
  out: string[],
): void {
  const health = metrics.redisHealth?.();
  if (health === undefined) return;
  family("redis_up", "gauge", "1 while Redis answers; 0 while the fallback does ([redis] fallback).");
  out.push(`mailpolicyd_redis_up ${health.state === "up" ? 1 : 0}`);
  family("redis_incidents_total", "counter", "Times Redis stopped answering (each logged once).");
  out.push(`mailpolicyd_redis_incidents_total ${health.incidents}`);
  family("redis_fallback_checks_total", "counter", "Checks the fallback answered while Redis was away.");
  out.push(`mailpolicyd_redis_fallback_checks_total ${health.fallbackChecks}`);
  family(
    "redis_merged_total",
    "counter",
    "Counters of this host added into Redis (after an outage, at upgrade).",
  );
  out.push(`mailpolicyd_redis_merged_total ${health.merged}`);
  family("redis_round_trips_total", "counter", "Round trips to Redis (a pipeline is one).");
  out.push(`mailpolicyd_redis_round_trips_total ${health.store.roundTrips}`);
  family(
    "redis_cache_hits_total",
    "counter",
    "Checks answered by the local cache of keys over a limit ([redis] over_cache).",
  );
  out.push(`mailpolicyd_redis_cache_hits_total ${health.store.cacheHits}`);
  family(
    "redis_cache_carried_total",
    "counter",
    "Attempts under strict limits counted in the local cache, then added to Redis.",
  );
  out.push(`mailpolicyd_redis_cache_carried_total ${health.store.carried}`);
  family(
    "redis_answered_ahead_total",
    "counter",
    "Requests accepted before Redis answered ([redis] answer_ahead).",
  );
  out.push(`mailpolicyd_redis_answered_ahead_total ${health.store.answeredAhead}`);
  family(
    "redis_ahead_over_total",
    "counter",
    "Requests accepted ahead that Redis then found over a limit that refuses: the over-grants.",
  );
  out.push(`mailpolicyd_redis_ahead_over_total ${health.store.aheadOver}`);
}

/** The SPF concern's families, when it runs ([spf] configured): results, DNS traffic and caches. */
function renderSpf(
  metrics: Metrics,
  family: (name: string, type: string, help: string) => void,
  out: string[],
): void {
  const stats = metrics.spfStats?.();
  if (stats === undefined && metrics.spfResults.size === 0) return;
  family("spf_results_total", "counter", "Requests the SPF concern answered, by the SPF result.");
  for (const [result, count] of [...metrics.spfResults].sort()) {
    out.push(`mailpolicyd_spf_results_total{result="${label(result)}"} ${count}`);
  }
  if (stats === undefined) return;
  const { dns, results } = stats;
  family("spf_result_cache_total", "counter", "SPF results answered from the result cache (hit) or checked.");
  out.push(`mailpolicyd_spf_result_cache_total{outcome="hit"} ${results.hits}`);
  out.push(`mailpolicyd_spf_result_cache_total{outcome="miss"} ${results.misses}`);
  family("spf_result_cache_entries", "gauge", "SPF results cached.");
  out.push(`mailpolicyd_spf_result_cache_entries ${results.size}`);
  family("dns_lookups_total", "counter", "SPF DNS lookups, answered from the cache (hit) or not (miss).");
  out.push(`mailpolicyd_dns_lookups_total{outcome="hit"} ${dns.hits}`);
  out.push(`mailpolicyd_dns_lookups_total{outcome="miss"} ${dns.misses}`);
  family(
    "dns_queries_total",
    "counter",
    "DNS queries sent, by transport (a TCP query follows a truncated UDP one).",
  );
  out.push(`mailpolicyd_dns_queries_total{transport="udp"} ${dns.queriesSent - dns.tcpQueries}`);
  out.push(`mailpolicyd_dns_queries_total{transport="tcp"} ${dns.tcpQueries}`);
  family(
    "dns_up",
    "gauge",
    `1 while the DNS servers answer; 0 once lookups of ${DOMAINS_BEFORE_DOWN} domains failed in a row, until one ` +
      "is answered.",
  );
  out.push(`mailpolicyd_dns_up ${dns.health.state === "answering" ? 1 : 0}`);
  family(
    "dns_down_incidents_total",
    "counter",
    "Times the DNS servers stopped answering (each logged once).",
  );
  out.push(`mailpolicyd_dns_down_incidents_total ${dns.health.incidents}`);
  family("dns_timeouts_total", "counter", "DNS tries that got no answer in dns_timeout.");
  out.push(`mailpolicyd_dns_timeouts_total ${dns.timeouts}`);
  family("dns_failures_total", "counter", "DNS lookups that failed (timeout, SERVFAIL, refused, ...).");
  out.push(`mailpolicyd_dns_failures_total ${dns.failures}`);
  family(
    "dns_busy_total",
    "counter",
    "DNS lookups refused at once: DNS's share of the open-file limit was in use (SPF temperror).",
  );
  out.push(`mailpolicyd_dns_busy_total ${dns.busy}`);
  family("dns_cache_entries", "gauge", "DNS answers cached.");
  out.push(`mailpolicyd_dns_cache_entries ${dns.entries}`);
  family("dns_cache_bytes", "gauge", "Estimated bytes of the cached DNS answers.");
  out.push(`mailpolicyd_dns_cache_bytes ${dns.bytes}`);
}
