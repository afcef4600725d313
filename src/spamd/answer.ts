// What the SpamAssassin concern answers: spamd's score and tests as a content answer (the spamd front sums
// the scores of every content concern and applies its thresholds; this concern never refuses by itself),
// and the answer for a message that is not sent to spamd at all.
import type { ConcernAnswer, ScoredSymbol } from "../model/answer.ts";
import type { SpamdSymbol } from "../protocols/spamd-client.ts";
import { mboxEnvelopeEnd } from "../protocols/spamd-front.ts";

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
  /** The bytes the listener holds: from Exim, its mbox copy, envelope lines first. */
  message: Uint8Array;
  /** What the MTA announced: from Exim, the mbox copy's size. */
  size: number;
  truncated: boolean;
}

/**
 * Why the message is not sent to spamd, or undefined to send it. `max_size` bounds the message itself:
 * the `From `, `X-Envelope-From:` and `X-Envelope-To:` lines of Exim's mbox copy (mboxEnvelopeEnd) are not
 * counted. X-Envelope-To lists every recipient, and a small message to a few thousand was over max_size,
 * not sent to spamd, where Exim asking spamd itself had it scanned. What is sent stays the whole copy, as
 * Exim sends it to spamd.
 */
export function notScannedReason(toScan: MessageToScan, maxSize: number): string | undefined {
  const { message, size: announced } = toScan;
  if (toScan.truncated || message.length < announced) {
    return `message cut short by the listener at ${message.length} of ${announced} bytes`;
  }
  const size = Math.max(announced, message.length) - mboxEnvelopeEnd(message);
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
