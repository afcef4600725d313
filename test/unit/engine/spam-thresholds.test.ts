// From the merged decision to the spamd front's verdict, and the thresholds it reports.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spamVerdict } from "../../../src/engine/spam-thresholds.ts";
import type { Decision } from "../../../src/model/answer.ts";

const thresholds = { mark: 5, reject: 10 };
const scored = (score: number | undefined, action: Decision["action"] = "accept"): Decision => ({
  action,
  score,
});

/** Exim's test (spam.c): spam when score ≥ the threshold reported; rspamd's reject likewise. */
function eximAgrees(decision: Decision) {
  const verdict = spamVerdict(decision, thresholds);
  assert.equal(verdict.score >= verdict.threshold, verdict.spam, JSON.stringify(verdict));
  assert.equal(
    verdict.score >= verdict.rejectThreshold,
    verdict.action === "reject",
    JSON.stringify(verdict),
  );
  return verdict;
}

describe("spamVerdict", () => {
  it("says in the report which concern failed open: its score is missing, not zero", () => {
    const decision: Decision = {
      action: "accept",
      score: 0.5,
      tags: ["spamassassin:fail-open", "content:ok"],
    };
    assert.deepEqual(spamVerdict(decision, thresholds, ["not scanned: over 4096 bytes"]).notes, [
      "not scanned by spamassassin: it did not answer, scored without it (fail_mode open)",
      "not scanned: over 4096 bytes",
    ]);
    assert.deepEqual(spamVerdict({ action: "accept", tags: ["spamassassin:ham"] }, thresholds).notes, []);
  });
  it("maps the score to no action, add header and reject at the thresholds", () => {
    assert.equal(eximAgrees(scored(undefined)).action, "no action");
    assert.equal(eximAgrees(scored(4.99)).action, "no action");
    assert.equal(eximAgrees(scored(5)).action, "add header");
    assert.equal(eximAgrees(scored(9.99)).action, "add header");
    assert.equal(eximAgrees(scored(10)).action, "reject");
    assert.equal(eximAgrees(scored(-3)).action, "no action");
  });
  it("reports the configured thresholds when the score decides", () => {
    const verdict = eximAgrees(scored(7));
    assert.deepEqual([verdict.threshold, verdict.rejectThreshold], [5, 10]);
    assert.deepEqual([eximAgrees(scored(1)).threshold, eximAgrees(scored(12)).threshold], [5, 5]);
  });
  it("takes the verdict on the score as reported, with two decimals", () => {
    const verdict = eximAgrees(scored(4.996));
    assert.equal(verdict.score, 5);
    assert.equal(verdict.action, "add header");
  });
  it("keeps a concern's own reject below the thresholds, reporting thresholds Exim agrees with", () => {
    const verdict = eximAgrees({ action: "reject", message: "executable attachment", score: 1 });
    assert.equal(verdict.action, "reject");
    assert.deepEqual([verdict.threshold, verdict.rejectThreshold], [1, 1]);
    assert.deepEqual(verdict.notes, ["executable attachment"]);
  });
  it("makes a defer (a concern down, fail_mode closed) a soft reject", () => {
    const verdict = eximAgrees({ action: "defer", message: "mail policy service unavailable" });
    assert.equal(verdict.action, "soft reject");
    assert.equal(verdict.spam, true);
  });
  it("passes the symbols and the front's notes on", () => {
    const symbols = [{ name: "A", score: 6 }];
    const verdict = spamVerdict({ action: "accept", score: 6, symbols }, thresholds, ["not scanned"]);
    assert.deepEqual(verdict.symbols, symbols);
    assert.deepEqual(verdict.notes, ["not scanned"]);
  });
});
