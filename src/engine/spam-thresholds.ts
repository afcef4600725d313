// From the engine's merged decision about a whole message to the spamd front's verdict: the summed score
// against [spamd] mark_threshold and reject_threshold (elspy's REJECT_THRESHOLD), a concern's own action
// kept. Pure; the front (listeners/spamd-front.ts) words the verdict for its client (protocols/spamd-front.ts).
import type { Decision } from "../model/answer.ts";
import { failedOpenConcerns } from "./answer.ts";
import type { SpamdVerdict } from "../protocols/spamd-front.ts";

export interface SpamThresholds {
  /** At or above: "add header" (the X-Spam-* headers, `$spam_action = add header`). */
  mark: number;
  /** At or above: "reject". */
  reject: number;
}

// A concern that failed open (spamd down, hung, busy) gave no score: said in the report, or a message spamd
// never saw read as one it scanned clean ($spam_report the same as for ham), in the delivered mail's headers
// as in spamc's output.
const FAILED_OPEN_NOTE = "it did not answer, scored without it (fail_mode open)";

/** Scores are reported with two decimals: the verdict is taken on the score as reported. */
const round = (score: number) => Math.round(score * 100) / 100;

/**
 * The verdict: reject when a concern rejected or the score reaches reject; "soft reject" when a concern
 * deferred (a concern down with fail_mode = closed); "add header" from mark; else "no action".
 *
 * The thresholds reported are chosen so that the client's own test, score ≥ threshold (Exim's spam_rc,
 * spamc's is_spam), agrees with the verdict: the mark threshold, or the score itself when a concern's own
 * action makes the message spam below it; the reject threshold likewise for rspamd's third number. So
 * `spam = user` is true exactly when the front says spam, whatever the variant.
 */
export function spamVerdict(
  decision: Decision,
  thresholds: SpamThresholds,
  notes: readonly string[] = [],
): SpamdVerdict {
  const score = round(decision.score ?? 0);
  let action: SpamdVerdict["action"] = "no action";
  if (decision.action === "reject" || score >= thresholds.reject) action = "reject";
  else if (decision.action === "defer") action = "soft reject";
  else if (score >= thresholds.mark) action = "add header";
  const spam = action !== "no action";
  return {
    action,
    spam,
    score,
    threshold: spam ? Math.min(thresholds.mark, score) : thresholds.mark,
    rejectThreshold: action === "reject" ? Math.min(thresholds.reject, score) : thresholds.reject,
    symbols: decision.symbols ?? [],
    notes: [
      ...(decision.message && decision.action !== "accept" ? [decision.message] : []),
      ...failedOpenConcerns(decision).map((concern) => `not scanned by ${concern}: ${FAILED_OPEN_NOTE}`),
      ...notes,
    ],
  };
}
