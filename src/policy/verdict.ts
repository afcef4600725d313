// From per-limit outcomes to the one answer: the strictest action among the limits that are over wins
// (reject > defer > warn > alert), and its message is filled in. Pure, tested directly.
import type { LimitAction, LimitConfig } from "../config/types.ts";
import { formatAttributes } from "../protocols/attributes.ts";
import { capacity } from "./rate.ts";

export type ReplyAction = "accept" | "warn" | "defer" | "reject";

export interface LimitOutcome {
  limit: LimitConfig;
  key: string;
  level: number; // the count (or bucket level) including this request
  over: boolean;
}

export interface Verdict {
  action: ReplyAction;
  over: boolean; // some limit is over: the legacy form answers "yes"
  outcome?: LimitOutcome; // the limit that decided, when one is over
  message?: string;
  header?: string;
}

const RANK: Record<LimitAction, number> = { alert: 1, warn: 2, defer: 3, reject: 4 };

export function refuses(action: LimitAction | ReplyAction): boolean {
  return action === "defer" || action === "reject";
}

export function formatWindow(ms: number): string {
  const seconds = ms / 1000;
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${Math.round(seconds * 1000) / 1000}s`;
}

const DEFAULT_MESSAGE = "{what} over limit: {count} {unit} in {window}";

/** The limit's `message` (or the default) with {key} {what} {count} {limit} {unit} {window} {rule}. */
export function renderMessage(outcome: LimitOutcome): string {
  const { limit } = outcome;
  // One pass with a function, so a key containing "{count}" or "$&" is inserted as it is.
  return (limit.message ?? DEFAULT_MESSAGE).replace(
    /\{(key|what|count|limit|unit|window|rule)\}/g,
    (_, name: string) => {
      switch (name) {
        case "key":
          return outcome.key;
        case "what":
          return limit.keyText;
        case "count":
          return String(Math.ceil(outcome.level));
        case "limit":
          return String(capacity(limit));
        case "unit":
          return limit.per === "recipient" ? "recipients" : "messages";
        case "window":
          return formatWindow(limit.windowMs);
        default:
          return limit.name;
      }
    },
  );
}

export function decideVerdict(outcomes: LimitOutcome[]): Verdict {
  let winner: LimitOutcome | undefined;
  for (const outcome of outcomes) {
    if (outcome.over && (!winner || RANK[outcome.limit.action] > RANK[winner.limit.action])) winner = outcome;
  }
  if (!winner) return { action: "accept", over: false };
  const message = renderMessage(winner);
  switch (winner.limit.action) {
    case "alert":
      return { action: "accept", over: true, outcome: winner };
    case "warn":
      return {
        action: "warn",
        over: true,
        outcome: winner,
        message,
        header: `X-Mailpolicyd-Warning: ${message}`,
      };
    default:
      return { action: winner.limit.action, over: true, outcome: winner, message };
  }
}

/** The attribute-form reply: `action=defer message="…" rule=outbound count=21 limit=20`. */
export function formatVerdict(verdict: Verdict): string {
  const outcome = verdict.outcome;
  if (!outcome && verdict.action === "accept") return "action=accept"; // most answers: skip the builder
  return formatAttributes([
    ["action", verdict.action],
    ["message", verdict.message],
    ["rule", outcome?.limit.name],
    ["count", outcome ? Math.ceil(outcome.level) : undefined],
    ["limit", outcome ? capacity(outcome.limit) : undefined],
    ["header", verdict.header],
  ]);
}
