// What the SpamAssassin concern answers: spamd's score and tests as a content answer (the spamd front sums
// the scores of every content concern and applies its thresholds; this concern never refuses by itself),
// and the answer for a message that is not sent to spamd at all.
import type { ConcernAnswer, ScoredSymbol } from "../model/answer.ts";
import type { SpamdSymbol } from "../protocols/spamd-client.ts";

/** The symbol of a message not sent to spamd (too big, or cut short by the listener): score 0. */
export const NOT_SCANNED_SYMBOL = "SPAMASSASSIN_NOT_SCANNED";

export interface SpamdVerdict {
  isSpam: boolean;
  score: number;
  symbols: readonly SpamdSymbol[];
}

/**
 * spamd's verdict as the concern's answer: accept, with spamd's total score (not the sum of the report's
 * rows: each row is rounded to one decimal) and its tests. SYMBOLS gives no per-test scores: they are 0.
 */
export function spamdAnswer(verdict: SpamdVerdict): ConcernAnswer {
  const symbols: ScoredSymbol[] = verdict.symbols.map((symbol) => ({
    name: symbol.name,
    score: symbol.score ?? 0,
    ...(symbol.description === undefined ? {} : { description: symbol.description }),
  }));
  return {
    action: "accept",
    score: verdict.score,
    symbols,
    tags: [verdict.isSpam ? "spamassassin:spam" : "spamassassin:ham"],
  };
}

export interface MessageToScan {
  /** The bytes the listener holds. */
  length: number;
  /** What the MTA announced. */
  size: number;
  truncated: boolean;
}

/** Why the message is not sent to spamd, or undefined to send it. */
export function notScannedReason(message: MessageToScan, maxSize: number): string | undefined {
  if (message.truncated || message.length < message.size) {
    return `message cut short by the listener at ${message.length} of ${message.size} bytes`;
  }
  const size = Math.max(message.size, message.length);
  if (size > maxSize) return `message of ${size} bytes over max_size ${maxSize}`;
  return undefined;
}

/** The answer for a message not sent to spamd: accept, score 0, one symbol saying why. */
export function notScannedAnswer(reason: string): ConcernAnswer {
  return {
    action: "accept",
    score: 0,
    symbols: [{ name: NOT_SCANNED_SYMBOL, score: 0, description: `${reason}: not sent to spamd` }],
    tags: ["spamassassin:not-scanned"],
  };
}
