// /metrics' spamd families (control/spamd-metrics.ts): absent without the SpamAssassin concern.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createMetrics } from "../../../src/control/metrics.ts";
import { renderPrometheus } from "../../../src/control/prometheus.ts";
import { recordSpamdScan } from "../../../src/control/spamd-metrics.ts";

const extras = { version: "t", now: 0, trackedKeys: {}, actorsUp: {}, actorRestarts: {}, concerns: {} };

describe("spamd metrics", () => {
  it("are absent while no SpamAssassin concern runs", () => {
    assert.doesNotMatch(renderPrometheus(createMetrics(0), extras), /spamd/);
  });

  it("render scans by outcome, the latency histogram, the breaker, in flight and waiting", () => {
    const metrics = createMetrics(0);
    recordSpamdScan(metrics.spamd, "ok", 0.3);
    recordSpamdScan(metrics.spamd, "ok", 30);
    recordSpamdScan(metrics.spamd, "timeout");
    recordSpamdScan(metrics.spamd, "busy");
    metrics.spamd.live = () => ({ breaker: "open", inFlight: 2, queued: 5 });
    const text = renderPrometheus(metrics, extras);
    assert.match(text, /^mailpolicyd_spamd_scans_total\{outcome="ok"\} 2$/m);
    assert.match(text, /^mailpolicyd_spamd_scans_total\{outcome="timeout"\} 1$/m);
    assert.match(text, /^mailpolicyd_spamd_scans_total\{outcome="breaker-open"\} 0$/m);
    assert.match(text, /^mailpolicyd_spamd_scan_duration_seconds_bucket\{le="0.25"\} 0$/m);
    assert.match(text, /^mailpolicyd_spamd_scan_duration_seconds_bucket\{le="0.5"\} 1$/m);
    assert.match(text, /^mailpolicyd_spamd_scan_duration_seconds_bucket\{le="\+Inf"\} 2$/m);
    assert.match(text, /^mailpolicyd_spamd_scan_duration_seconds_sum 30.300000$/m);
    assert.match(text, /^mailpolicyd_spamd_scan_duration_seconds_count 2$/m);
    assert.match(text, /^mailpolicyd_spamd_breaker_state\{state="open"\} 1$/m);
    assert.match(text, /^mailpolicyd_spamd_breaker_state\{state="closed"\} 0$/m);
    assert.match(text, /^mailpolicyd_spamd_scans_in_flight 2$/m);
    assert.match(text, /^mailpolicyd_spamd_scans_waiting 5$/m);
  });
});
