// /metrics' spamd front families (control/spam-front-metrics.ts): absent without the front; scans by
// action, the score histogram, symbols with a bounded number of names, in flight.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createMetrics } from "../../../src/control/metrics.ts";
import { renderPrometheus } from "../../../src/control/prometheus.ts";
import {
  createSpamFrontMetrics,
  MAX_SYMBOL_LABELS,
  recordSpamError,
  recordSpamScan,
} from "../../../src/control/spam-front-metrics.ts";
import { recordSpamdScan } from "../../../src/control/spamd-metrics.ts";
import type { SpamdVerdict } from "../../../src/protocols/spamd-front.ts";

const extras = { version: "t", now: 0, trackedKeys: {}, actorsUp: {}, actorRestarts: {}, concerns: {} };

const verdict = (score: number, action: SpamdVerdict["action"], symbols: string[] = []): SpamdVerdict => ({
  action,
  spam: action !== "no action",
  score,
  threshold: 5,
  rejectThreshold: 10,
  symbols: symbols.map((name) => ({ name, score: 1 })),
  notes: [],
});

describe("spamd front metrics", () => {
  it("are absent while the front does not run", () => {
    assert.doesNotMatch(renderPrometheus(createMetrics(0), extras), /spamd_/);
  });

  it("render scans by action, the score histogram, symbols, truncated and in flight", () => {
    const metrics = createMetrics(0);
    const front = metrics.spamFront = createSpamFrontMetrics();
    recordSpamScan(front, verdict(0, "no action"), false);
    recordSpamScan(front, verdict(7.5, "add header", ["A", "B"]), true);
    recordSpamScan(front, verdict(12, "reject", ["A"]), false);
    recordSpamError(front);
    front.inFlight = 2;
    const text = renderPrometheus(metrics, extras);
    for (
      const line of [
        'mailpolicyd_spamd_front_scans_total{action="add header"} 1',
        'mailpolicyd_spamd_front_scans_total{action="error"} 1',
        'mailpolicyd_spamd_front_scans_total{action="no action"} 1',
        'mailpolicyd_spamd_front_scans_total{action="reject"} 1',
        'mailpolicyd_spamd_score_bucket{le="0"} 1',
        'mailpolicyd_spamd_score_bucket{le="7.5"} 2',
        'mailpolicyd_spamd_score_bucket{le="10"} 2',
        'mailpolicyd_spamd_score_bucket{le="15"} 3',
        'mailpolicyd_spamd_score_bucket{le="+Inf"} 3',
        "mailpolicyd_spamd_score_sum 19.50",
        "mailpolicyd_spamd_score_count 3",
        'mailpolicyd_spamd_symbols_total{symbol="A"} 2',
        'mailpolicyd_spamd_symbols_total{symbol="B"} 1',
        "mailpolicyd_spamd_truncated_total 1",
        "mailpolicyd_spamd_front_scans_in_flight 2",
      ]
    ) assert.ok(text.includes(`\n${line}\n`), line);
  });

  it("keep at most MAX_SYMBOL_LABELS symbol names, the rest under <other>", () => {
    const front = createSpamFrontMetrics();
    const names = Array.from({ length: MAX_SYMBOL_LABELS + 50 }, (_, i) => `S${i}`);
    recordSpamScan(front, verdict(1, "no action", names), false);
    recordSpamScan(front, verdict(1, "no action", ["S0", "S999"]), false);
    assert.equal(front.symbols.size, MAX_SYMBOL_LABELS + 1);
    assert.equal(front.symbols.get("<other>"), 51);
    assert.equal(front.symbols.get("S0"), 2);
  });

  it("with [spamassassin] too, every family has one HELP and one TYPE line and no series twice", () => {
    // The documented set-up: the front sums spamd's score. Both render spamd_* families; Prometheus refuses
    // a scrape with a second TYPE line for a name, or the same series twice.
    const metrics = createMetrics(0);
    const front = metrics.spamFront = createSpamFrontMetrics();
    recordSpamScan(front, verdict(7.5, "add header", ["A"]), false);
    front.inFlight = 1;
    recordSpamdScan(metrics.spamd, "ok", 0.3);
    metrics.spamd.live = () => ({ breaker: "closed", inFlight: 2, queued: 0 });
    const lines = renderPrometheus(metrics, extras).trimEnd().split("\n");
    const seen = new Map<string, number>();
    for (const line of lines) {
      const key = /^# (HELP|TYPE) (\S+)/.exec(line)?.slice(1, 3).join(" ") ?? line.replace(/ [^ ]+$/, "");
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    assert.deepEqual([...seen].filter(([, n]) => n > 1), []);
    assert.ok(lines.includes('mailpolicyd_spamd_scans_total{outcome="ok"} 1'));
    assert.ok(lines.includes("mailpolicyd_spamd_scans_in_flight 2"));
  });
});
