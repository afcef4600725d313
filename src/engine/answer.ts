// What a concern answers for one request, and how the answers of several concerns merge into the one
// decision the MTA gets. Pure: no concern, no I/O; the engine (policy-engine.ts) and the tests use it.
//
// The merge rule (docs/architecture.md, "The policy engine"): the strictest action wins, reject > defer >
// warn > accept; the message and reply fields are those of the first concern (in the engine's order) that
// answered that action (among accepts, the first that flagged something); the headers are everyone's, in that order; the tags are everyone's, for the log
// and the metrics; the
// scores of the content concerns add up, and their symbols are everyone's.
import type { Action, ConcernAnswer, Decision, ScoredSymbol } from "../model/answer.ts";

const RANK: Record<Action, number> = { accept: 0, warn: 1, defer: 2, reject: 3 };

export function refuses(action: Action): boolean {
  return action === "defer" || action === "reject";
}

/** The tag of a concern's failure answer under fail_mode open: `spamassassin:fail-open`. */
export const failedOpenTag = (concern: string) => `${concern}:fail-open`;

/**
 * The concerns that answered with their failure answer under fail_mode open (down, late, busy): they did
 * not judge the request, and the decision stands without them.
 */
export function failedOpenConcerns(decision: Decision): string[] {
  const suffix = failedOpenTag("");
  const tags = decision.tags ?? [];
  return tags.filter((tag) => tag.endsWith(suffix)).map((tag) => tag.slice(0, -suffix.length));
}

/** Most answers: one shared object, frozen so that no caller can change every later answer. */
export const ACCEPTED: Decision = Object.freeze({ action: "accept" });

export interface Answered {
  concern: string;
  answer: ConcernAnswer;
}

/**
 * One decision from the answers, in the engine's concern order. A lone answer is returned as it is (the
 * same object: its reply text is then remembered across requests, see reply.ts).
 */
export function mergeAnswers(answers: readonly Answered[]): Decision {
  if (answers.length === 0) return ACCEPTED;
  let decider = answers[0];
  let flagged = false;
  // A list only one answer has is taken as it is (concat copies only when two have one): nothing on a
  // request's path changes a decision's lists.
  let headers: readonly string[] | undefined;
  let quotedHeaders: string | undefined;
  let tags: readonly string[] | undefined;
  let score: number | undefined;
  let symbols: readonly ScoredSymbol[] | undefined;
  for (const answered of answers) {
    const { answer } = answered;
    const rank = RANK[answer.action] - RANK[decider.answer.action];
    // Among equals the first that flagged something speaks: an alert-only limit over says which.
    if (rank > 0 || (rank === 0 && answer.flagged && !decider.answer.flagged)) decider = answered;
    if (answer.flagged) flagged = true;
    if (answer.headers?.length) {
      // Quoted already only when one answer has headers: two are quoted again, joined.
      quotedHeaders = headers ? undefined : answer.quotedHeaders;
      headers = headers ? headers.concat(answer.headers) : answer.headers;
    }
    if (answer.tags?.length) tags = tags ? tags.concat(answer.tags) : answer.tags;
    if (answer.score !== undefined) score = (score ?? 0) + answer.score;
    if (answer.symbols?.length) symbols = symbols ? symbols.concat(answer.symbols) : answer.symbols;
  }
  if (answers.length === 1) return decider.answer;
  const { action, message, fields, logFields, rule } = decider.answer;
  if (action === "accept" && !flagged && !headers && !tags && score === undefined) return ACCEPTED;
  return {
    action,
    message,
    headers,
    quotedHeaders,
    fields,
    logFields,
    rule,
    flagged: flagged || action !== "accept",
    tags,
    score,
    symbols,
    decidedBy: action === "accept" && !rule ? undefined : decider.concern,
  };
}
