// The SpamAssassin client's counters for /metrics: scans by outcome, spamd's latency, and (while the actor
// runs) its breaker state, scans in flight and waiting. Written by the actor and the concern, read by
// prometheus.ts; rendered only on a daemon with [spamassassin].
import type { BreakerState } from "../spamd/circuit-breaker.ts";
import { histogramLines } from "./histogram.ts";

/**
 * What became of a scan: answered (ok); no answer in time (timeout, the socket destroyed); connection
 * refused or socket missing (refused); anything else gone wrong, spamd's error replies included (error);
 * max_in_flight busy and max_queue full (busy); refused by the open breaker (breaker-open); a message too
 * big or cut short, not sent (not-scanned).
 */
export const SPAMD_OUTCOMES = [
  "ok",
  "timeout",
  "refused",
  "error",
  "busy",
  "breaker-open",
  "not-scanned",
] as const;
export type SpamdOutcome = typeof SPAMD_OUTCOMES[number];

/** Seconds; spamd takes 0.1-1 s for a small message here, up to its DNS timeouts (15 s) for others. */
export const SPAMD_LATENCY_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20];

export interface SpamdLive {
  breaker: BreakerState;
  inFlight: number;
  queued: number;
}

export interface SpamdMetrics {
  readonly scans: Record<SpamdOutcome, number>;
  /** Scans spamd answered, by how long the connection took (connect to close): raw per bucket. */
  readonly latencyBuckets: number[];
  latencySum: number;
  latencyCount: number;
  /** Set by the SpamAssassin actor while it runs. */
  live?: () => SpamdLive;
}

export function createSpamdMetrics(): SpamdMetrics {
  return {
    scans: Object.fromEntries(SPAMD_OUTCOMES.map((outcome) => [outcome, 0])) as Record<SpamdOutcome, number>,
    latencyBuckets: new Array(SPAMD_LATENCY_BUCKETS_S.length + 1).fill(0),
    latencySum: 0,
    latencyCount: 0,
  };
}

/** Counts a scan; `seconds` (spamd's answer time) only for a scan spamd answered. */
export function recordSpamdScan(metrics: SpamdMetrics, outcome: SpamdOutcome, seconds?: number): void {
  metrics.scans[outcome]++;
  if (seconds === undefined) return;
  let bucket = 0;
  while (bucket < SPAMD_LATENCY_BUCKETS_S.length && seconds > SPAMD_LATENCY_BUCKETS_S[bucket]) bucket++;
  metrics.latencyBuckets[bucket]++;
  metrics.latencySum += seconds;
  metrics.latencyCount++;
}

const BREAKER_STATES: readonly BreakerState[] = ["closed", "half-open", "open"];

/** The spamd families, when the daemon has a SpamAssassin client. */
export function renderSpamd(
  metrics: SpamdMetrics,
  family: (name: string, type: string, help: string) => void,
  out: string[],
): void {
  const live = metrics.live?.();
  if (live === undefined && SPAMD_OUTCOMES.every((outcome) => metrics.scans[outcome] === 0)) return;
  family("spamd_scans_total", "counter", "Messages the SpamAssassin concern asked spamd about, by outcome.");
  for (const outcome of SPAMD_OUTCOMES) {
    out.push(`mailpolicyd_spamd_scans_total{outcome="${outcome}"} ${metrics.scans[outcome]}`);
  }
  family("spamd_scan_duration_seconds", "histogram", "Time spamd took to answer a scan (connect to answer).");
  out.push(...histogramLines(
    "spamd_scan_duration_seconds",
    SPAMD_LATENCY_BUCKETS_S,
    metrics.latencyBuckets,
    metrics.latencySum,
    metrics.latencyCount,
  ));
  if (live === undefined) return;
  family("spamd_breaker_state", "gauge", "1 for the state spamd's circuit breaker is in.");
  for (const state of BREAKER_STATES) {
    out.push(`mailpolicyd_spamd_breaker_state{state="${state}"} ${live.breaker === state ? 1 : 0}`);
  }
  family("spamd_scans_in_flight", "gauge", "Scans with a connection to spamd now (at most max_in_flight).");
  out.push(`mailpolicyd_spamd_scans_in_flight ${live.inFlight}`);
  family("spamd_scans_waiting", "gauge", "Scans waiting for a connection (at most max_queue).");
  out.push(`mailpolicyd_spamd_scans_waiting ${live.queued}`);
}
