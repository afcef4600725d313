// Counters for the control plane: what the daemon has done since it started. A plain registry that the
// listener and the alerter write to (cheap, synchronous: it sits on the request path) and the control
// actor reads; it holds no policy state, so no actor owns it.
import type { DnsStats } from "../dns/resolver.ts";
import type { RedisHealth } from "../limits/shared-store.ts";
import { createSpamdMetrics, type SpamdMetrics } from "./spamd-metrics.ts";
import type { SpamFrontMetrics } from "./spam-front-metrics.ts";

export const LATENCY_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1];
const MINUTES_KEPT = 60;
const ALERTS_KEPT = 20;
// Rates are over the last 1 and 5 minutes up to now: requests are also counted per second for that long.
// Per-minute buckets alone showed 0.0/min during a burst in the current minute (it was left out as
// incomplete) and could not say what fell in the last 60 seconds.
const SECONDS_KEPT = 300;

export interface MinuteCounts {
  minute: number; // ms since epoch / 60000
  requests: number;
  accept: number;
  warn: number;
  defer: number;
  reject: number;
  error: number;
}

export interface RecentAlert {
  id: string;
  at: number;
  rule: string;
  key: string;
  count: number;
  limit: number;
  status: "pending" | "sent" | "failed" | "parked" | "logged" | "dropped"; // dropped: outbox full
  error?: string;
}

export interface Metrics {
  readonly startedAt: number;
  readonly requests: Map<string, number>; // "action\0rule" → count
  readonly latencyBuckets: number[]; // cumulative at render time, raw per bucket here
  latencySum: number;
  latencyCount: number;
  badRequests: number;
  alertsSent: number;
  alertsFailed: number; // failed attempts (a retried alert counts once per attempt)
  alertsParked: number; // alerts given up (policy/alert-failure.ts)
  alertsDropped: number; // alerts dropped from a full outbox
  alertDigests: number; // digest mails sent
  readonly parkedAlerts: RecentAlert[]; // the latest parked, at most [alerts] parked_max
  /** Keys forgotten to make room at max_keys, and new keys counted under <overflow> for want of room. */
  readonly keysEvicted: Map<string, number>; // rule → count
  readonly keysOverflowed: Map<string, number>;
  readonly minutes: MinuteCounts[];
  readonly perSecond: Uint32Array; // a ring: requests in the second secondOf[i] (s since epoch)
  readonly secondOf: Float64Array;
  readonly recentAlerts: RecentAlert[];
  /** SPF concern: requests by the result that decided their MAIL FROM identity (or postmaster@HELO). */
  readonly spfResults: Map<string, number>;
  /** Set by the SPF actor while it runs: its DNS client's and result cache's counters. */
  spfStats?: () => SpfStats;
  /** Set by the counters actor while [redis] is configured: limits/shared-store.ts. */
  redisHealth?: () => RedisHealth;
  /** SpamAssassin concern: scans by outcome, spamd's latency, the breaker (control/spamd-metrics.ts). */
  readonly spamd: SpamdMetrics;
  /** Set by the spamd front when it starts ([spamd] configured): control/spam-front-metrics.ts. */
  spamFront?: SpamFrontMetrics;
}

export interface SpfStats {
  dns: DnsStats;
  results: { hits: number; misses: number; size: number };
}

export function createMetrics(now = Date.now()): Metrics {
  return {
    startedAt: now,
    requests: new Map(),
    latencyBuckets: new Array(LATENCY_BUCKETS_S.length + 1).fill(0),
    latencySum: 0,
    latencyCount: 0,
    badRequests: 0,
    alertsSent: 0,
    alertsFailed: 0,
    keysEvicted: new Map(),
    keysOverflowed: new Map(),
    alertsParked: 0,
    alertsDropped: 0,
    alertDigests: 0,
    parkedAlerts: [],
    minutes: [],
    perSecond: new Uint32Array(SECONDS_KEPT),
    secondOf: new Float64Array(SECONDS_KEPT).fill(-1),
    recentAlerts: [],
    spfResults: new Map(),
    spamd: createSpamdMetrics(),
  };
}

function minuteOf(metrics: Metrics, now: number): MinuteCounts {
  const minute = Math.floor(now / 60_000);
  const last = metrics.minutes[metrics.minutes.length - 1];
  if (last && last.minute === minute) return last;
  const fresh = { minute, requests: 0, accept: 0, warn: 0, defer: 0, reject: 0, error: 0 };
  metrics.minutes.push(fresh);
  if (metrics.minutes.length > MINUTES_KEPT) metrics.minutes.shift();
  return fresh;
}

export type RecordedAction = "accept" | "warn" | "defer" | "reject" | "error";

// The map keys "action\0rule", made once per rule: a key built per request was a string to hash each time.
const requestKeys = new Map<string, Record<RecordedAction, string>>();

function requestKey(action: RecordedAction, rule: string): string {
  let keys = requestKeys.get(rule);
  if (!keys) {
    const key = (action: RecordedAction) => `${action}\0${rule}`;
    keys = {
      accept: key("accept"),
      warn: key("warn"),
      defer: key("defer"),
      reject: key("reject"),
      error: key("error"),
    };
    if (requestKeys.size >= 1024) requestKeys.clear(); // rules come and go with reloads: stay bounded
    requestKeys.set(rule, keys);
  }
  return keys[action];
}

export function recordRequest(
  metrics: Metrics,
  action: RecordedAction,
  rule: string | undefined,
  seconds: number,
  now = Date.now(),
): void {
  const key = requestKey(action, rule ?? "");
  metrics.requests.set(key, (metrics.requests.get(key) ?? 0) + 1);
  let bucket = 0;
  while (bucket < LATENCY_BUCKETS_S.length && seconds > LATENCY_BUCKETS_S[bucket]) bucket++;
  metrics.latencyBuckets[bucket]++;
  metrics.latencySum += seconds;
  metrics.latencyCount++;
  const minute = minuteOf(metrics, now);
  minute.requests++;
  minute[action]++;
  const second = Math.floor(now / 1000);
  const slot = second % SECONDS_KEPT;
  if (metrics.secondOf[slot] !== second) {
    metrics.secondOf[slot] = second;
    metrics.perSecond[slot] = 0;
  }
  metrics.perSecond[slot]++;
  if (action === "error") metrics.badRequests++;
}

export function recordAlert(metrics: Metrics, alert: RecentAlert): void {
  const index = metrics.recentAlerts.findIndex((entry) => entry.id === alert.id);
  const previous = index >= 0 ? metrics.recentAlerts[index] : undefined;
  if (alert.status === "sent" && previous?.status !== "sent") metrics.alertsSent++;
  if (alert.status === "failed") metrics.alertsFailed++;
  if (index >= 0) metrics.recentAlerts.splice(index, 1);
  metrics.recentAlerts.push(alert);
  if (metrics.recentAlerts.length > ALERTS_KEPT) metrics.recentAlerts.shift();
}

/** An alert given up: counted, and kept in a list of the latest `max` for status. */
export function recordParked(metrics: Metrics, alert: RecentAlert, max: number): void {
  recordAlert(metrics, alert);
  metrics.alertsParked++;
  metrics.parkedAlerts.push(alert);
  if (metrics.parkedAlerts.length > max) metrics.parkedAlerts.splice(0, metrics.parkedAlerts.length - max);
}

/**
 * Requests per minute over the last `minutes` minutes up to `now` (at most 5): the requests of those
 * seconds, divided by the minutes the daemon has been up in that span, at least one. So 39 requests in
 * the last 60 s read 39/min, also in a daemon up for 10 s.
 */
export function requestRate(metrics: Metrics, minutes: number, now = Date.now()): number {
  const current = Math.floor(now / 1000);
  const span = Math.min(minutes * 60, SECONDS_KEPT);
  let total = 0;
  for (let slot = 0; slot < SECONDS_KEPT; slot++) {
    const second = metrics.secondOf[slot];
    if (second > current - span && second <= current) total += metrics.perSecond[slot];
  }
  const upMinutes = (now - metrics.startedAt) / 60_000;
  return total / Math.max(1, Math.min(span / 60, upMinutes));
}
