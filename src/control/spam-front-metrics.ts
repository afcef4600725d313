// The spamd front's counters for /metrics: scans by resulting action, the scores, the symbols that
// matched and the scans in flight. Written by the front (listeners/spamd-front.ts) on its request path,
// read by the Prometheus rendering; bounded: at most MAX_SYMBOL_LABELS symbol names, the rest counted
// under "<other>" so a rule set that names symbols from message content cannot grow the series.
import type { SpamdVerdict } from "../protocols/spamd-front.ts";

export const SCORE_BUCKETS = [-5, 0, 1, 2.5, 5, 7.5, 10, 15, 20, 50];
export const MAX_SYMBOL_LABELS = 200;
export const OTHER_SYMBOL = "<other>";

export interface SpamFrontMetrics {
  /** Scans answered, by the verdict's action, and "error" (a request refused, or the front busy). */
  readonly scans: Map<string, number>;
  readonly scoreBuckets: number[]; // raw per bucket; the last is +Inf
  scoreSum: number;
  scoreCount: number;
  readonly symbols: Map<string, number>;
  /** Messages over max_message_size, scanned only in part. */
  truncated: number;
  inFlight: number;
}

export function createSpamFrontMetrics(): SpamFrontMetrics {
  return {
    scans: new Map(),
    scoreBuckets: new Array(SCORE_BUCKETS.length + 1).fill(0),
    scoreSum: 0,
    scoreCount: 0,
    symbols: new Map(),
    truncated: 0,
    inFlight: 0,
  };
}

export function recordSpamScan(metrics: SpamFrontMetrics, verdict: SpamdVerdict, truncated: boolean): void {
  count(metrics.scans, verdict.action);
  let bucket = 0;
  while (bucket < SCORE_BUCKETS.length && verdict.score > SCORE_BUCKETS[bucket]) bucket++;
  metrics.scoreBuckets[bucket]++;
  metrics.scoreSum += verdict.score;
  metrics.scoreCount++;
  if (truncated) metrics.truncated++;
  for (const symbol of verdict.symbols) {
    const known = metrics.symbols.has(symbol.name) || metrics.symbols.size < MAX_SYMBOL_LABELS;
    count(metrics.symbols, known ? symbol.name : OTHER_SYMBOL);
  }
}

export function recordSpamError(metrics: SpamFrontMetrics): void {
  count(metrics.scans, "error");
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

const label = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** The front's Prometheus families (only when the front runs). */
export function renderSpamFront(
  metrics: SpamFrontMetrics,
  family: (name: string, type: string, help: string) => void,
  out: string[],
): void {
  // spamd_front_*, not spamd_*: with [spamassassin] the SpamAssassin client renders spamd_scans_total and
  // spamd_scans_in_flight too, and Prometheus refuses a scrape with a name's TYPE line given twice.
  family(
    "spamd_front_scans_total",
    "counter",
    "Messages the spamd front answered, by resulting action (or error).",
  );
  for (const [action, n] of [...metrics.scans].sort()) {
    out.push(`mailpolicyd_spamd_front_scans_total{action="${label(action)}"} ${n}`);
  }
  family("spamd_score", "histogram", "Spam scores the spamd front reported.");
  let cumulative = 0;
  SCORE_BUCKETS.forEach((bound, i) => {
    cumulative += metrics.scoreBuckets[i];
    out.push(`mailpolicyd_spamd_score_bucket{le="${bound}"} ${cumulative}`);
  });
  cumulative += metrics.scoreBuckets[SCORE_BUCKETS.length];
  out.push(`mailpolicyd_spamd_score_bucket{le="+Inf"} ${cumulative}`);
  out.push(`mailpolicyd_spamd_score_sum ${metrics.scoreSum.toFixed(2)}`);
  out.push(`mailpolicyd_spamd_score_count ${metrics.scoreCount}`);
  family("spamd_symbols_total", "counter", `Symbols matched, by name (after ${MAX_SYMBOL_LABELS}: <other>).`);
  for (const [name, n] of [...metrics.symbols].sort()) {
    out.push(`mailpolicyd_spamd_symbols_total{symbol="${label(name)}"} ${n}`);
  }
  family("spamd_truncated_total", "counter", "Messages over max_message_size, not scanned past it.");
  out.push(`mailpolicyd_spamd_truncated_total ${metrics.truncated}`);
  family("spamd_front_scans_in_flight", "gauge", "Scans the spamd front is waiting on.");
  out.push(`mailpolicyd_spamd_front_scans_in_flight ${metrics.inFlight}`);
}
