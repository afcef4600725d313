// The content rules applied to what a scan found: which rules match, and the one answer they make (the
// scores summed, a symbol per matching rule, the strictest action). Pure, tested directly.
import type { Action, ConcernAnswer, ScoredSymbol } from "../model/answer.ts";
import type { ContentPolicy, ContentRule, RuleCondition } from "../model/content.ts";
import type { CarriedFile, ContentFacts } from "./carried-file.ts";
import { executableReason, extensionOf } from "./executables.ts";
import { UNPRINTABLE_CHARS } from "../policy/unprintable-chars.ts";

/** What the rules look at. `content` undefined: the message was not scanned (`notScanned` says why). */
export interface MessageFacts {
  subject?: string;
  recipients: readonly string[];
  content?: ContentFacts;
  notScanned?: string;
}

export const NOT_SCANNED = "CONTENT_NOT_SCANNED";
export const PARTLY_SCANNED = "CONTENT_PARTLY_SCANNED";

const RANK: Record<Action, number> = { accept: 0, warn: 1, defer: 2, reject: 3 };
/** The usual answer: nothing matched. Shared and frozen. */
const NOTHING_MATCHED: ConcernAnswer = Object.freeze({ action: "accept", score: 0 });
const SHOWN_CHARS = 80;

interface Match {
  rule: ContentRule;
  description: string;
}

export function evaluateRules(facts: MessageFacts, policy: ContentPolicy): ConcernAnswer {
  const matches: Match[] = [];
  for (const rule of policy.rules) {
    const description = describeMatch(rule.condition, facts, policy);
    if (description !== undefined) matches.push({ rule, description });
  }
  const notes = scanNotes(facts);
  if (matches.length === 0 && notes.length === 0) return NOTHING_MATCHED;
  return answerOf(matches, notes);
}

/** Score-0 symbols that say what was not looked at, so a report never passes off a skip as clean. */
function scanNotes(facts: MessageFacts): ScoredSymbol[] {
  if (facts.notScanned !== undefined) {
    return [{ name: NOT_SCANNED, score: 0, description: facts.notScanned }];
  }
  const skipped = facts.content?.skipped ?? [];
  if (skipped.length === 0) return [];
  return [{ name: PARTLY_SCANNED, score: 0, description: `not scanned: ${skipped.slice(0, 3).join("; ")}` }];
}

function answerOf(matches: Match[], notes: ScoredSymbol[]): ConcernAnswer {
  let decider: Match | undefined;
  let score = 0;
  for (const match of matches) {
    score += match.rule.score;
    const rank = RANK[match.rule.action];
    if (rank > 0 && (decider === undefined || rank > RANK[decider.rule.action])) decider = match;
  }
  const symbols: ScoredSymbol[] = [
    ...matches.map(({ rule, description }) => ({ name: rule.symbol, score: rule.score, description })),
    ...notes,
  ];
  const answer: ConcernAnswer = {
    action: decider?.rule.action ?? "accept",
    score: Math.round(score * 1000) / 1000,
    symbols,
    tags: symbols.map((symbol) => `content:${symbol.name}`),
    flagged: matches.length > 0,
    logFields: { symbols: symbols.map((symbol) => symbol.name).join(","), score },
  };
  if (decider === undefined) return answer;
  const { rule, description } = decider;
  return {
    ...answer,
    message: rule.message ?? `refused by content rule ${rule.name}: ${description}`,
    rule: rule.name,
    fields: [["rule", rule.name]],
  };
}

/** Why the condition matches (one line for the report), or undefined. */
function describeMatch(
  condition: RuleCondition,
  facts: MessageFacts,
  policy: ContentPolicy,
): string | undefined {
  switch (condition.kind) {
    case "subject":
      return facts.subject !== undefined && condition.pattern.test(facts.subject)
        ? `Subject "${shown(facts.subject)}" matches ${condition.pattern}`
        : undefined;
    case "subject_prefix":
      return facts.subject?.toLowerCase().startsWith(condition.prefix)
        ? `Subject "${shown(facts.subject)}" starts with "${condition.prefix}"`
        : undefined;
    case "recipients": {
      const trap = facts.recipients.find((recipient) => isSpamtrap(recipient, condition));
      return trap === undefined ? undefined : `spamtrap recipient ${trap}`;
    }
    case "attachments":
      return facts.content === undefined ? undefined : describeAttachment(condition, facts.content, policy);
  }
}

function isSpamtrap(recipient: string, trap: RuleCondition & { kind: "recipients" }): boolean {
  const address = recipient.replace(/^<|>$/g, "").toLowerCase();
  if (trap.addresses.has(address)) return true;
  const at = address.lastIndexOf("@");
  return at > 0 && trap.domains.includes(address.slice(at + 1));
}

function describeAttachment(
  condition: RuleCondition & { kind: "attachments" },
  content: ContentFacts,
  policy: ContentPolicy,
): string | undefined {
  const { kinds, extensions } = condition;
  if (kinds.includes("corrupt_zip") && content.corruptZips.length > 0) {
    return `corrupt zip: ${shown(content.corruptZips[0])}`;
  }
  for (const file of content.files) {
    if (kinds.includes("executable")) {
      const reason = executableReason(file, policy.executableExtensions);
      if (reason !== undefined) return `executable ${fileLabel(file)}: ${reason}`;
    }
    if (kinds.includes("encrypted_zip") && file.encrypted) return `encrypted ${fileLabel(file)}`;
    const extension = extensionOf(file.name);
    if (extension !== "" && extensions.includes(extension)) {
      return `${fileLabel(file)}: name ends in ${extension}`;
    }
  }
  return undefined;
}

function fileLabel(file: CarriedFile): string {
  return `${file.name === "" ? "(unnamed part)" : shown(file.name)} (${file.where})`;
}

// A quote, and what must not reach a person as itself (policy/unprintable-chars.ts): a C1 control (U+009B is
// a CSI on many terminals), the bidi controls, with which "invoice<U+202E>fdp.exe" shows as
// "invoiceexe.pdf" and turned the rest of `mailpolicyd scan`'s line round, and the invisible format
// characters (U+200B). "u": the set is a Unicode property, and a tag character is one "?", not two.
const NOT_SHOWN = new RegExp(`[${UNPRINTABLE_CHARS}"]`, "gu");

/** Text from a message, cut for a report line and with its quotes and controls made harmless. */
function shown(text: string): string {
  const clean = text.replace(NOT_SHOWN, "?");
  const chars = Array.from(clean);
  return chars.length > SHOWN_CHARS ? `${chars.slice(0, SHOWN_CHARS - 1).join("")}…` : clean;
}
