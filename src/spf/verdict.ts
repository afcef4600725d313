// What the SPF concern answers for a request, from its check results and the [spf] policy: the action
// configured for the result, the SMTP text, the Received-SPF: header, and the reply's and log's fields.
// Pure (docs/spf.md, "The SPF concern").
import type { Action, ConcernAnswer, ReplyFields } from "../model/answer.ts";
import { SPF_RESULTS, type SpfPolicy } from "../model/spf.ts";
import { receivedSpf } from "./received-spf.ts";
import { withoutReplyCode } from "../protocols/reply-code.ts";
import type { CachedCheck } from "./result-cache.ts";
import type { SpfResult } from "./types.ts";

export interface SpfVerdictInput {
  /** The MAIL FROM check (for the null sender: postmaster@HELO, identity helo). */
  check: CachedCheck;
  /** The HELO check, when helo_check is log or enforce and the sender is not null. */
  heloCheck?: CachedCheck;
  policy: SpfPolicy;
  ip: string;
  sender: string;
  helo: string;
  /** This host's name, for Received-SPF. */
  receiver: string;
}

const RANK: Record<Action, number> = { accept: 0, warn: 1, defer: 2, reject: 3 };
// An exp= text comes from the sender's DNS; it goes into an SMTP reply line.
const MAX_MESSAGE = 300;

/** The SMTP text of a refused or warned request: the exp= text for a fail when the record gave one. */
export function spfMessage(check: CachedCheck, ip: string): string {
  const { result, domain } = check;
  if (result === "fail") {
    const text = check.explanation === undefined ? "" : replyText(check.explanation);
    // The text is the sender domain's: a leading "421 " would be taken by Exim as the reply's code.
    if (text) return withoutReplyCode(text, "SPF fail: ");
    return `SPF fail: ${domain} does not designate ${ip} as permitted sender`;
  }
  if (result === "temperror") return `SPF temporary error for ${domain}, try again later`;
  if (result === "softfail") return `SPF softfail: ${domain} does not designate ${ip} as permitted sender`;
  if (result === "permerror") {
    // The problem quotes the record's bad term, or a target expanded from the sender: any length.
    return replyText(`SPF permanent error for ${domain}: ${check.problem ?? "bad record"}`);
  }
  return `SPF ${result} for ${domain} and ${ip}`;
}

/** Text from the network for an SMTP reply line: control characters out, at most MAX_MESSAGE kept. */
function replyText(text: string): string {
  // deno-lint-ignore no-control-regex
  const clean = text.replace(/[\x00-\x1f\x7f]/g, " ").trim();
  return clean.length > MAX_MESSAGE ? `${clean.slice(0, MAX_MESSAGE)}...` : clean;
}

/** The reply's fields, the tags and the rule that name the results: frozen, shared by every answer. */
interface Labels {
  fields: ReplyFields;
  tags: readonly string[];
  rule: string;
}

const labelsOf = (result: SpfResult, helo?: SpfResult): Labels =>
  Object.freeze({
    fields: Object.freeze(
      helo === undefined ? [Object.freeze(["spf", result] as const)] : [
        Object.freeze(["spf", result] as const),
        Object.freeze(["spf_helo", helo] as const),
      ],
    ),
    tags: Object.freeze(helo === undefined ? [`spf:${result}`] : [`spf:${result}`, `spf-helo:${helo}`]),
    rule: `spf-${result}`,
  });

// Built once: most requests are answered from the result cache, and their labels are these.
const LABELS = Object.fromEntries(SPF_RESULTS.map((result) => [result, labelsOf(result)])) as Record<
  SpfResult,
  Labels
>;
const HELO_LABELS = Object.fromEntries(
  SPF_RESULTS.map((result) => [
    result,
    Object.fromEntries(SPF_RESULTS.map((helo) => [helo, labelsOf(result, helo)])),
  ]),
) as Record<SpfResult, Record<SpfResult, Labels>>;

/** The answer: the stricter of the MAIL FROM action and, with helo_check = enforce, the HELO one. */
export function spfAnswer(input: SpfVerdictInput): ConcernAnswer {
  const { check, heloCheck, policy } = input;
  const enforced = policy.heloCheck === "enforce" ? heloCheck : undefined;
  const mailAction = policy.actions[check.result];
  const heloAction = enforced ? policy.actions[enforced.result] : "accept";
  const byHelo = enforced !== undefined && RANK[heloAction] > RANK[mailAction];
  const decider = byHelo ? enforced : check;
  const action = byHelo ? heloAction : mailAction;
  const labels = heloCheck ? HELO_LABELS[check.result][heloCheck.result] : LABELS[check.result];
  const answer: ConcernAnswer = {
    action,
    fields: labels.fields,
    rule: byHelo ? `spf-helo-${decider.result}` : labels.rule,
    flagged: action !== "accept",
    tags: labels.tags,
  };
  if (policy.receivedSpf) addHeaders(answer, input, enforced);
  // The log line names the check only when the answer objects (engine/decision-log.ts): an accept's
  // fields would be built for nothing on nearly every request.
  if (action !== "accept") {
    answer.message = spfMessage(decider, input.ip);
    answer.logFields = logFieldsOf(input, decider);
  }
  return answer;
}

/**
 * The HELO check's header too when it was enforced: it took part in the decision. With them the quoted
 * form the readsocket reply writes, built from the headers' templates (received-spf.ts).
 */
function addHeaders(answer: ConcernAnswer, input: SpfVerdictInput, enforced: CachedCheck | undefined): void {
  const header = (check: CachedCheck) =>
    receivedSpf({ check, ip: input.ip, sender: input.sender, helo: input.helo, receiver: input.receiver });
  const mail = header(input.check);
  if (enforced === undefined) {
    answer.headers = [mail.text];
    answer.quotedHeaders = `"${mail.quoted}"`;
    return;
  }
  const helo = header(enforced);
  answer.headers = [helo.text, mail.text];
  answer.quotedHeaders = `"${helo.quoted}\\n${mail.quoted}"`;
}

function logFieldsOf(input: SpfVerdictInput, decider: CachedCheck): Record<string, string> {
  const fields: Record<string, string> = {
    spf: input.check.result,
    domain: input.check.domain,
    identity: input.check.identity,
    client: input.ip,
    sender: input.sender,
  };
  if (input.heloCheck) fields.spf_helo = input.heloCheck.result;
  if (decider.mechanism !== undefined) fields.mechanism = decider.mechanism;
  if (decider.problem !== undefined) fields.problem = decider.problem;
  if (decider !== input.check) fields.decided_by = "helo";
  return fields;
}
