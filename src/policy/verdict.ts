// From per-limit outcomes to the one answer: the strictest action among the limits that are over wins
// (reject > defer > warn > alert), and its message is filled in. Pure, tested directly.
import type { LimitAction, LimitConfig } from "../model/limit.ts";
import { capacity } from "./rate.ts";
import { WARNING_FIELD } from "./header-memory.ts";
import type { ConcernAnswer } from "../model/answer.ts";
import { startsWithReplyCode, withoutReplyCode } from "../protocols/reply-code.ts";

export type ReplyAction = "accept" | "warn" | "defer" | "reject";

export interface LimitOutcome {
  limit: LimitConfig;
  key: string;
  // What the limit has counted for the key once this request is decided (wholeCount of its level): the
  // messages or recipients let through, plus in mode = strict the refused attempts. A leaky limit does
  // not count the request it refuses, so its first refusal says count = limit. See docs/decisions.md.
  count: number;
  over: boolean;
}

/** The limits' answer: a ConcernAnswer for the engine (engine/answer.ts), with the limit that decided. */
export interface Verdict extends ConcernAnswer {
  action: ReplyAction;
  over: boolean; // some limit is over: the legacy form answers "yes"
  outcome?: LimitOutcome; // the limit that decided, when one is over
  message?: string;
}

const RANK: Record<LimitAction, number> = { alert: 1, warn: 2, defer: 3, reject: 4 };

export function refuses(action: LimitAction | ReplyAction): boolean {
  return action === "defer" || action === "reject";
}

const DEFAULT_MESSAGE = "{key} over limit: {count} {unit} in {window} (limit {limit})";

type Placeholder = "key" | "what" | "count" | "limit" | "unit" | "window" | "rule";

function fill(name: Placeholder, outcome: LimitOutcome): string {
  const { limit } = outcome;
  switch (name) {
    case "key":
      return outcome.key;
    case "what":
      return limit.keyText;
    case "count":
      return String(outcome.count);
    case "limit":
      return String(capacity(limit));
    case "unit":
      return limit.per === "recipient" ? "recipients" : "messages";
    case "window":
      return limit.window;
    case "rule":
      return limit.name;
  }
}

// A refused spammer gets a rendered message on every request: split each template once into literal
// text (even indexes) and placeholder names (odd indexes) rather than running a regex each time.
const compiled = new Map<string, string[]>();

function compile(template: string): string[] {
  let parts = compiled.get(template);
  if (!parts) {
    parts = template.split(/\{(key|what|count|limit|unit|window|rule)\}/);
    if (compiled.size >= 256) compiled.clear(); // templates come from the config: few, but reloads add
    compiled.set(template, parts);
  }
  return parts;
}

/** The limit's `message` (or the default) with {key} {what} {count} {limit} {unit} {window} {rule}. */
export function renderMessage(outcome: LimitOutcome): string {
  const parts = compile(outcome.limit.message ?? DEFAULT_MESSAGE);
  // Values are inserted as they are: a key containing "{count}" or "$&" stays literal.
  let text = parts[0];
  for (let i = 1; i < parts.length; i += 2) text += fill(parts[i] as Placeholder, outcome) + parts[i + 1];
  // A reply code the template starts with is the postmaster's; one a value put there (the default template
  // starts with {key}) is the client's, and Exim would answer with it (protocols/reply-code.ts).
  return startsWithReplyCode(parts[0]) ? text : withoutReplyCode(text, "mailpolicyd: ");
}

/** True when `a` is the stricter action (reject > defer > warn > alert): it decides over `b`. */
export function outranks(a: LimitAction, b: LimitAction): boolean {
  return RANK[a] > RANK[b];
}

// Most answers: one shared object, frozen so that no caller can change every later answer.
const ACCEPT: Verdict = Object.freeze({ action: "accept", over: false });

/**
 * The answer when `winner` is the strictest limit that is over (undefined: none is). Frozen, like the
 * outcome in it: an answer may be handed out again (see sameRefusal) and its reply text is remembered.
 * withMessage false: for a one-token request, whose reply is a bare yes/no. Such an answer is never
 * handed out twice, so it is not frozen: two freezes cost ~90 ns, and a spam run is all such answers.
 */
export function verdictFor(winner: LimitOutcome | undefined, withMessage = true): Verdict {
  if (!winner) return ACCEPT;
  const action = winner.limit.action;
  const rule = winner.limit.name;
  // The one-token reply is a bare yes, and an alert says nothing to the client: no message to render.
  if (!withMessage) {
    return {
      action: action === "alert" ? "accept" : action,
      over: true,
      outcome: winner,
      rule,
      flagged: true,
    };
  }
  Object.freeze(winner);
  // What the reply says after action and message, and the log besides: the same rule, count and limit.
  const fields = Object.freeze([
    Object.freeze(["rule", rule] as const),
    Object.freeze(["count", winner.count] as const),
    Object.freeze(["limit", String(capacity(winner.limit))] as const),
  ]);
  const logFields = Object.freeze(outcomeLogFields(winner));
  const common = { over: true, outcome: winner, rule, flagged: true, fields, logFields };
  if (action === "alert") return Object.freeze({ action: "accept", ...common });
  const message = renderMessage(winner);
  switch (action) {
    case "warn": {
      const header = `${WARNING_FIELD}: ${message}`;
      return Object.freeze({ action: "warn", ...common, message, headers: Object.freeze([header]) });
    }
    default:
      return Object.freeze({ action, ...common, message });
  }
}

/**
 * True when `verdict` is the answer for this limit, key and count too. A refused sender (or a stuck
 * client) asks again and again while its count stands still: the same answer serves, so no message is
 * rendered nor reply built for each of those requests.
 */
export function sameRefusal(
  verdict: Verdict | undefined,
  limit: LimitConfig,
  key: string,
  count: number,
): boolean {
  const outcome = verdict?.outcome;
  return outcome !== undefined && outcome.limit === limit && outcome.key === key && outcome.count === count;
}

export function decideVerdict(outcomes: LimitOutcome[]): Verdict {
  let winner: LimitOutcome | undefined;
  for (const outcome of outcomes) {
    if (outcome.over && (!winner || outranks(outcome.limit.action, winner.limit.action))) winner = outcome;
  }
  return verdictFor(winner);
}

/** The log fields of a decided request: the same rule, key, count and limit as the reply and the alert. */
function outcomeLogFields(
  outcome: LimitOutcome,
): { rule: string; key: string; count: number; limit: number } {
  return { rule: outcome.limit.name, key: outcome.key, count: outcome.count, limit: capacity(outcome.limit) };
}
