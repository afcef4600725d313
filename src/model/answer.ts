// What a concern answers about a request, and the decision merged from such answers (engine/answer.ts).
// Here because the concerns' own modules (policy/verdict.ts for the limits, spf/ next) produce them and the
// engine consumes them: neither imports the other for it.

export type Action = "accept" | "warn" | "defer" | "reject";

/** Reply attributes after action and message (`rule=outbound count=20 limit=20`), in this order. */
export type ReplyFields = readonly (readonly [string, string | number])[];

export interface ConcernAnswer {
  action: Action;
  /** The text the MTA shows or logs (warn, defer, reject). */
  message?: string;
  /** Header lines ("Name: value") the MTA adds to the message, whatever the action. */
  headers?: readonly string[];
  /**
   * `headers` joined by newlines as the readsocket reply quotes them (quoteValue), when the concern built
   * that at less cost than quoting the whole (the SPF header, from a template per check).
   */
  quotedHeaders?: string;
  /** What the answer says besides action and message, for the reply and the log. */
  fields?: ReplyFields;
  /** The log line's fields when they say more than `fields` (the key a limit counted); else `fields`. */
  logFields?: Readonly<Record<string, string | number>>;
  /** The rule that decided ("outbound", "fail-open"): the metrics' rule label. */
  rule?: string;
  /** Some rule matched, though the action may be accept (a limit over with action = alert). */
  flagged?: boolean;
  /** Short labels for the log and the metrics: every rule that matched ("limit:outbound", "spf:fail"). */
  tags?: readonly string[];
  /**
   * Content concerns only (rules, SpamAssassin): what this answer adds to the message's spam score. The
   * merge sums the scores of every answer that has one; the spamd front reports the sum.
   */
  score?: number;
  /** Content concerns only: the tests that matched, each with the score it added (the spamd report). */
  symbols?: readonly ScoredSymbol[];
}

/** One test that matched a message (a content rule, a SpamAssassin test): its name and its score. */
export interface ScoredSymbol {
  name: string;
  score: number;
  /** One line for the report ("Subject matches /lottery/i"). */
  description?: string;
}

/** The merged answer: a ConcernAnswer, and which concern decided it. */
export interface Decision extends ConcernAnswer {
  /** The concern whose action, message and fields the decision carries; undefined: nobody objected. */
  decidedBy?: string;
}
