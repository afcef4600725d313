// The engine over fake concerns: parallel asks, timeouts, failure answers, the merge, and the commit of
// what the merged decision lets through. The limits concern against the real counters actor is tested in
// test/integration (supervisor-restart, exim-*).
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ConcernAnswer, Decision } from "../../../src/model/answer.ts";
import type { Concern, ConcernReply, ConcernSettings } from "../../../src/engine/concern.ts";
import { createPolicyEngine, type PolicyEngine } from "../../../src/engine/policy-engine.ts";
import { createLogger } from "../../../src/log.ts";
import type { PolicyRequest } from "../../../src/policy/request.ts";

const REQUEST: PolicyRequest = {
  form: "attributes",
  stage: "rcpt",
  attributes: { sender: "a@example.org", recipient: "b@example.net" },
} as PolicyRequest;

interface FakeConcern extends Concern {
  asked: string[]; // "decide" | "check"
  commits: [number, boolean][];
  pending: ConcernReply[]; // replies held by a concern that answers later (or never)
}

/** `answer`: given at once; "later": held in `pending`; "down": the concern is not running. */
function fake(
  id: string,
  answer: ConcernAnswer | "later" | "down",
  ticket = 0,
  stages?: string[],
): FakeConcern {
  const concern: FakeConcern = {
    id,
    counts: ticket !== 0, // a concern that hands out tickets counts
    asked: [],
    commits: [],
    pending: [],
    applies: (request) => !stages || (request.form === "attributes" && stages.includes(request.stage)),
    decide(_request, reply) {
      concern.asked.push("decide");
      respond(reply);
    },
    check(_request, reply) {
      concern.asked.push("check");
      respond(reply);
    },
    commit(ticket, refused) {
      concern.commits.push([ticket, refused]);
    },
  };
  const respond = (reply: ConcernReply) => {
    if (answer === "down") return reply(undefined, 0, "down");
    if (answer === "later") return concern.pending.push(reply);
    reply(answer, ticket);
  };
  return concern;
}

const DEFER: ConcernAnswer = {
  action: "defer",
  message: "over",
  rule: "out",
  flagged: true,
  tags: ["limit:out"],
};
const REJECT: ConcernAnswer = { action: "reject", message: "spf fail", rule: "spf", flagged: true };

let engine: PolicyEngine | undefined;
afterEach(() => engine?.stop());

function start(concerns: Concern[], settings: Partial<Record<string, Partial<ConcernSettings>>> = {}) {
  const lines: string[] = [];
  engine = createPolicyEngine({
    concerns,
    settings: (id) => ({ timeoutMs: 50, failMode: "open", ...settings[id] }),
    log: createLogger("debug", (line) => lines.push(line)),
  });
  const decide = (request = REQUEST) => new Promise<Decision>((resolve) => engine!.decide(request, resolve));
  return { engine, lines, decide };
}

describe("policy engine", () => {
  it("one concern that applies: asked to decide (check and commit in one), its answer is the decision", async () => {
    const limits = fake("limits", DEFER, 7);
    const spf = fake("spf", REJECT, 0, ["mail"]); // not at rcpt
    const { decide } = start([limits, spf]);
    assert.equal(await decide(), DEFER);
    assert.deepEqual(limits.asked, ["decide"]);
    assert.deepEqual(spf.asked, []);
    assert.deepEqual(limits.commits, [], "decide commits by itself");
  });

  it("asks each concern once whether it applies (SPF's answer parses the client address)", async () => {
    const asked = new Map<string, number>();
    const counted = (concern: FakeConcern): FakeConcern => {
      const applies = concern.applies;
      concern.applies = (request) => {
        asked.set(concern.id, (asked.get(concern.id) ?? 0) + 1);
        return applies(request);
      };
      return concern;
    };
    const { decide } = start([
      counted(fake("limits", { action: "accept" }, 3)),
      counted(fake("spf", { action: "accept", tags: ["spf:pass"] })),
      counted(fake("content", REJECT, 0, ["data"])),
    ]);
    assert.deepEqual((await decide()).tags, ["spf:pass"]);
    assert.deepEqual(Object.fromEntries(asked), { limits: 1, spf: 1, content: 1 });
  });

  it("no concern applies: accept", async () => {
    const { decide } = start([fake("spf", REJECT, 0, ["mail"])]);
    assert.equal((await decide()).action, "accept");
  });

  it("several: all checked, answers merged, every ticket committed with the merged refusal", async () => {
    const limits = fake("limits", { action: "accept" }, 3);
    const spf = fake("spf", REJECT, 0);
    const content = fake("content", { action: "warn", headers: ["X-Spam: yes"] }, 9);
    const { decide } = start([limits, spf, content]);
    const decision = await decide();
    assert.equal(decision.action, "reject");
    assert.equal(decision.decidedBy, "spf");
    assert.deepEqual(decision.headers, ["X-Spam: yes"]);
    assert.deepEqual([limits.asked, spf.asked, content.asked], [["check"], ["check"], ["check"]]);
    // A leaky limit must not count a request another concern refused: it learns refused = true.
    assert.deepEqual(limits.commits, [[3, true]]);
    assert.deepEqual(content.commits, [[9, true]]);
    assert.deepEqual(spf.commits, [], "ticket 0: nothing to commit");
  });

  it("commits refused = false when the merged decision lets the request through", async () => {
    const limits = fake("limits", { action: "accept" }, 4);
    const spf = fake("spf", "later");
    const { decide } = start([limits, spf]);
    const decided = decide();
    assert.deepEqual(limits.asked, ["check"], "the other has not answered yet: two passes");
    spf.pending[0]({ action: "warn", message: "softfail" });
    assert.equal((await decided).action, "warn");
    assert.deepEqual(limits.commits, [[4, false]]);
  });

  it("one pass when the others answered at once without refusing: the counting concern decides alone", async () => {
    const limits = fake("limits", DEFER, 4);
    const spf = fake("spf", { action: "warn", message: "softfail", headers: ["Received-SPF: softfail"] });
    const { decide } = start([limits, spf]);
    const decision = await decide();
    assert.deepEqual([spf.asked, limits.asked], [["check"], ["decide"]]);
    assert.deepEqual(limits.commits, [], "decide commits by itself");
    // Merged in the configured order, as with two passes: the limits' defer, SPF's header.
    assert.equal(decision.action, "defer");
    assert.equal(decision.message, "over");
    assert.deepEqual(decision.headers, ["Received-SPF: softfail"]);
  });

  it("two passes when another concern refuses at once: the counting one learns refused = true", async () => {
    const limits = fake("limits", { action: "accept" }, 6);
    const spf = fake("spf", REJECT);
    const { decide } = start([limits, spf]);
    assert.equal((await decide()).action, "reject");
    assert.deepEqual(limits.asked, ["check"]);
    assert.deepEqual(limits.commits, [[6, true]]);
  });

  it("one pass with a deadline: a counting concern that decides late gets its failure answer", async () => {
    const limits = fake("limits", "later", 7);
    const { decide } = start([limits, fake("spf", { action: "accept" })], { limits: { timeoutMs: 30 } });
    const decision = await decide();
    assert.deepEqual(limits.asked, ["decide"]);
    assert.equal(decision.rule, "fail-open");
    assert.deepEqual(decision.tags, ["limits:fail-open"]);
  });

  it("a concern that is down gives its fail_mode answer; one incident logged, ended by its next answer", async () => {
    let state: "down" | "up" = "down";
    const flaky: Concern = {
      ...fake("limits", DEFER),
      decide: (_request, reply) => state === "down" ? reply(undefined, 0, "down") : reply(DEFER),
    };
    const { decide, lines, engine } = start([flaky]);
    for (let i = 0; i < 3; i++) assert.equal((await decide()).action, "accept");
    assert.equal((await decide()).rule, "fail-open");
    assert.equal(lines.filter((line) => / warn engine: /.test(line)).length, 1, lines.join("\n"));
    assert.match(
      lines[0],
      /concern limits is down: answering fail-open until it answers concern=limits reason=down/,
    );
    const failing = engine.health().limits;
    assert.equal(failing.state, "failing");
    assert.equal(failing.failures.down, 4);
    assert.equal(failing.reason, "down");
    state = "up";
    assert.equal(await decide(), DEFER);
    assert.match(
      lines.at(-1)!,
      /info engine: concern limits answers again concern=limits failed_requests=4 /,
    );
    assert.equal(engine.health().limits.state, "ok");
    assert.equal(engine.health().limits.answered, 1);
  });

  it("fail_mode closed: the failure answer defers, and the one-token form would say yes", async () => {
    const { decide } = start([fake("limits", "down")], { limits: { failMode: "closed" } });
    const decision = await decide();
    assert.equal(decision.action, "defer");
    assert.equal(decision.message, "mail policy service unavailable, try again later");
    assert.equal(decision.rule, "fail-closed");
    assert.equal(decision.flagged, true);
  });

  it("a concern that does not answer in its timeout contributes its failure answer; a late answer is dropped", async () => {
    const slow = fake("limits", "later");
    const { decide, engine } = start([slow], { limits: { timeoutMs: 30 } });
    const began = performance.now();
    const decision = await decide();
    const waited = performance.now() - began;
    assert.equal(decision.rule, "fail-open");
    assert.ok(waited >= 25, `answered after ${waited} ms, before the timeout`);
    assert.equal(engine.health().limits.failures.timeout, 1);
    let replies = 0;
    engine.decide(REQUEST, () => replies++);
    slow.pending[1](DEFER); // the second ask, answered in time
    slow.pending[0](DEFER); // the first, far too late: no second reply for it
    assert.equal(replies, 1);
  });

  it("with several concerns, a slow one times out alone: the others' answers stand, its late ticket is committed", async () => {
    const limits = fake("limits", DEFER, 5);
    const slow = fake("spf", "later");
    const { decide, engine } = start([limits, slow], { spf: { timeoutMs: 30, failMode: "closed" } });
    const decision = await decide();
    assert.equal(decision.action, "defer");
    assert.equal(decision.decidedBy, "limits", "limits answered first in order with the same action");
    assert.deepEqual(decision.tags, ["limit:out", "spf:fail-closed"]);
    assert.deepEqual(limits.commits, [[5, true]]);
    slow.pending[0]({ action: "accept" }, 11); // arrives after the decision
    assert.deepEqual(slow.commits, [[11, true]], "what it checked is committed on the decision made");
    assert.equal(engine.health().spf.state, "failing");
    assert.equal(engine.health().limits.state, "ok");
  });

  it("a concern that answers while what it asks does not is failing, however many requests it answers", async () => {
    const impaired = { what: "DNS", since: 1, lastError: "ETIMEOUT", failed: 5, answering: "temperror" };
    let now: typeof impaired | undefined = impaired;
    const spf: Concern = { ...fake("spf", { action: "defer" }), impairment: () => now };
    const { decide, engine, lines } = start([spf]);
    await decide();
    await decide();
    const health = engine.health().spf;
    assert.deepEqual([health.state, health.impaired, health.answered, health.reason], [
      "failing",
      impaired,
      2,
      undefined,
    ]);
    assert.ok(!lines.some((line) => /concern spf/.test(line)), "the concern logs its own impairment");
    now = undefined;
    assert.equal(engine.health().spf.state, "ok");
    assert.equal(engine.health().spf.impaired, undefined);
  });

  it("a timed-out concern whose answer comes before the others finish has its ticket committed once, at the end", async () => {
    const slow = fake("limits", "later");
    const slower = fake("spf", "later");
    const { engine } = start([slow, slower], { limits: { timeoutMs: 20 }, spf: { timeoutMs: 200 } });
    const decided = new Promise<Decision>((resolve) => engine.decide(REQUEST, resolve));
    await new Promise((resolve) => setTimeout(resolve, 60)); // limits has timed out, spf not yet
    slow.pending[0]({ action: "accept" }, 8);
    assert.deepEqual(slow.commits, [], "no decision yet");
    slower.pending[0](REJECT);
    assert.equal((await decided).action, "reject");
    assert.deepEqual(slow.commits, [[8, true]]);
  });

  it("a reload that shortens a timeout: the asks made after it expire at the new timeout", async () => {
    const slow = fake("spf", "later");
    const settings = { timeoutMs: 400, failMode: "closed" as const };
    engine = createPolicyEngine({ concerns: [slow], settings: () => settings, log: createLogger("error") });
    const answered: string[] = [];
    const asked = (name: string) =>
      new Promise<void>((resolve) => engine!.decide(REQUEST, () => resolve(void answered.push(name))));
    const before = asked("before the reload");
    settings.timeoutMs = 30; // the reload
    const began = performance.now();
    await asked("after the reload");
    const waited = performance.now() - began;
    assert.ok(waited < 300, `waited ${waited} ms: behind the ask made before the reload`);
    await before;
    assert.deepEqual(answered, ["after the reload", "before the reload"]);
  });

  it("stop answers every ask still waiting with its failure answer", async () => {
    const { engine } = start([fake("limits", "later")], { limits: { timeoutMs: 60_000 } });
    const decided = new Promise<Decision>((resolve) => engine.decide(REQUEST, resolve));
    engine.stop();
    assert.equal((await decided).rule, "fail-open");
  });
});
