// `mailpolicyd scan`'s printed report (formatScan): the score it prints is the one the spamd front reports.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatScan } from "../../../src/cli/scan-command.ts";
import { mergeAnswers } from "../../../src/engine/answer.ts";
import { spamVerdict } from "../../../src/engine/spam-thresholds.ts";

describe("formatScan", () => {
  it("prints the summed score as the front reports it, not the sum's floating-point noise", () => {
    const decision = mergeAnswers([
      { concern: "content", answer: { action: "accept", score: 0.1, symbols: [{ name: "A", score: 0.1 }] } },
      {
        concern: "spamassassin",
        answer: { action: "accept", score: 0.2, symbols: [{ name: "B", score: 0.2 }] },
      },
    ]);
    const thresholds = { mark: 5, reject: 10 };
    const spam = spamVerdict(decision, thresholds);
    const text = formatScan(decision, 100, 1, { spam, thresholds, spamd: undefined });
    assert.match(text, /^score: +0\.3$/m);
  });
});
