import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ACCEPTED, mergeAnswers } from "../../../src/engine/answer.ts";
import type { ConcernAnswer } from "../../../src/model/answer.ts";
import { formatDecision, formatLegacyDecision } from "../../../src/engine/reply.ts";

const limits = (answer: ConcernAnswer) => ({ concern: "limits", answer });
const spf = (answer: ConcernAnswer) => ({ concern: "spf", answer });
const content = (answer: ConcernAnswer) => ({ concern: "content", answer });

const deferred: ConcernAnswer = {
  action: "defer",
  message: "alice over limit",
  fields: [["rule", "out"], ["count", 20], ["limit", "20"]],
  rule: "out",
  flagged: true,
  tags: ["limit:out"],
};
const rejected: ConcernAnswer = {
  action: "reject",
  message: "SPF fail",
  fields: [["spf", "fail"]],
  rule: "spf-fail",
  flagged: true,
  tags: ["spf:fail"],
};

describe("mergeAnswers: content scores", () => {
  it("adds up the scores of the answers that have one and keeps everyone's symbols in order", () => {
    const rules: ConcernAnswer = {
      action: "accept",
      score: 2.5,
      symbols: [{ name: "SUBJECT_WIN", score: 2.5 }],
    };
    const spamd: ConcernAnswer = { action: "accept", score: 4, symbols: [{ name: "BAYES_99", score: 4 }] };
    const decision = mergeAnswers([content(rules), limits({ action: "accept" }), {
      concern: "spamd",
      answer: spamd,
    }]);
    assert.equal(decision.score, 6.5);
    assert.deepEqual(decision.symbols?.map((symbol) => symbol.name), ["SUBJECT_WIN", "BAYES_99"]);
    assert.notEqual(decision, ACCEPTED);
  });

  it("a zero score is still a score (the front reports 0.0), and no score stays undefined", () => {
    assert.equal(
      mergeAnswers([content({ action: "accept", score: 0 }), limits({ action: "accept" })]).score,
      0,
    );
    assert.equal(mergeAnswers([limits({ action: "accept" }), spf({ action: "accept" })]).score, undefined);
  });
});

describe("mergeAnswers: reject > defer > warn > accept", () => {
  it("no answer is an accept; a lone answer is the decision itself (its reply is remembered)", () => {
    assert.equal(mergeAnswers([]), ACCEPTED);
    assert.equal(mergeAnswers([limits(deferred)]), deferred);
  });

  it("the strictest action wins, with its concern's message, fields and rule, whatever the order", () => {
    for (const answers of [[limits(deferred), spf(rejected)], [spf(rejected), limits(deferred)]]) {
      const decision = mergeAnswers(answers);
      assert.equal(decision.action, "reject");
      assert.equal(decision.message, "SPF fail");
      assert.deepEqual(decision.fields, [["spf", "fail"]]);
      assert.equal(decision.rule, "spf-fail");
      assert.equal(decision.decidedBy, "spf");
    }
  });

  it("on equal actions the first concern in the engine's order speaks", () => {
    const other: ConcernAnswer = { ...rejected, action: "defer", message: "try later" };
    assert.equal(mergeAnswers([limits(deferred), spf(other)]).message, "alice over limit");
    assert.equal(mergeAnswers([spf(other), limits(deferred)]).message, "try later");
  });

  it("headers and tags come from every concern, in order; a warn under a refusal still adds its header", () => {
    const warned: ConcernAnswer = {
      action: "warn",
      message: "soft",
      headers: ["X-Spam-Flag: YES"],
      tags: ["content:spam"],
    };
    const marked: ConcernAnswer = { action: "accept", headers: ["Received-SPF: pass"], tags: ["spf:pass"] };
    const decision = mergeAnswers([limits(deferred), spf(marked), content(warned)]);
    assert.equal(decision.action, "defer");
    assert.deepEqual(decision.headers, ["Received-SPF: pass", "X-Spam-Flag: YES"]);
    assert.deepEqual(decision.tags, ["limit:out", "spf:pass", "content:spam"]);
    assert.equal(decision.flagged, true);
  });

  it("a list only one answer has is the decision's as it is; lists are copied, never changed, when two have one", () => {
    const tags = Object.freeze(["spf:pass"]);
    const headers = Object.freeze(["Received-SPF: pass"]);
    const marked: ConcernAnswer = { action: "accept", headers, tags };
    const alone = mergeAnswers([limits({ action: "accept" }), spf(marked)]);
    assert.equal(alone.headers, headers);
    assert.equal(alone.tags, tags);
    const both = mergeAnswers([limits(deferred), spf(marked)]);
    assert.deepEqual(both.tags, ["limit:out", "spf:pass"]);
    assert.deepEqual(tags, ["spf:pass"], "the answer's own list is left as it was");
    assert.deepEqual(deferred.tags, ["limit:out"]);
  });

  it("all accept: ACCEPTED, unless one flagged something, which then speaks (an alert-only limit)", () => {
    assert.equal(mergeAnswers([limits({ action: "accept" }), spf({ action: "accept" })]), ACCEPTED);
    const alerted: ConcernAnswer = {
      action: "accept",
      fields: [["rule", "watch"]],
      rule: "watch",
      flagged: true,
    };
    const decision = mergeAnswers([spf({ action: "accept" }), limits(alerted)]);
    assert.equal(decision.action, "accept");
    assert.equal(decision.rule, "watch");
    assert.equal(decision.flagged, true);
    assert.equal(decision.decidedBy, "limits");
  });
});

describe("formatDecision and formatLegacyDecision", () => {
  it("writes action, message, the decider's fields in order, then every header joined by \\n", () => {
    const decision = mergeAnswers([
      limits(deferred),
      spf({ action: "accept", headers: ["Received-SPF: pass (x)"] }),
      content({ action: "warn", headers: ['X-Spam: "yes"'] }),
    ]);
    assert.equal(
      formatDecision(decision),
      'action=defer message="alice over limit" rule=out count=20 limit=20 ' +
        'header="Received-SPF: pass (x)\\nX-Spam: \\"yes\\""',
    );
    assert.equal(formatDecision(ACCEPTED), "action=accept");
  });

  it("headers one concern quoted already are written as it quoted them; two concerns' are quoted again", () => {
    // A quoted form that differs from quoteValue's on purpose: which of the two the reply used shows.
    const quoted: ConcernAnswer = {
      action: "accept",
      headers: ['Received-SPF: pass (x) envelope-from="a@b"'],
      quotedHeaders: '"from the template"',
    };
    const alone = mergeAnswers([limits(deferred), spf(quoted)]);
    assert.equal(alone.quotedHeaders, '"from the template"');
    assert.match(formatDecision(alone), / header="from the template"$/);
    const both = mergeAnswers([
      limits(deferred),
      spf(quoted),
      content({ action: "warn", headers: ["X-Spam: yes"] }),
    ]);
    assert.equal(both.quotedHeaders, undefined);
    assert.match(
      formatDecision(both),
      / header="Received-SPF: pass \(x\) envelope-from=\\"a@b\\"\\nX-Spam: yes"$/,
    );
  });

  it("the same decision twice gives the same reply; another decision its own", () => {
    assert.equal(formatDecision(deferred), formatDecision(deferred));
    assert.match(formatDecision(rejected), /^action=reject message="SPF fail" spf=fail$/);
    assert.match(formatDecision(deferred), /^action=defer /);
  });

  it("the one-token form says yes exactly when the decision is flagged", () => {
    assert.equal(formatLegacyDecision(ACCEPTED), "no");
    assert.equal(formatLegacyDecision(deferred), "yes");
    assert.equal(formatLegacyDecision({ action: "accept", flagged: true }), "yes");
  });
});
