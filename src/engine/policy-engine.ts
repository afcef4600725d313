// The policy engine: offers a request to every concern that applies, each with its own timeout and
// failure answer, in parallel; merges their answers (answer.ts) into one decision; then lets each concern
// commit what the decision lets through (a leaky limit counts only a request the decision does not
// refuse). Every listener asks it the same way: decide(request, reply).
import type { Logger } from "../log.ts";
import type { PolicyRequest } from "../policy/request.ts";
import { ACCEPTED, type Answered, failedOpenTag, mergeAnswers, refuses } from "./answer.ts";
import type { ConcernAnswer, Decision } from "../model/answer.ts";
import type { Concern, ConcernFailure, ConcernSettings } from "./concern.ts";
import { type ConcernHealth, createHealthBook } from "./concern-health.ts";
import { answered, createDeadlines, type Deadlines, type Waiting } from "./deadlines.ts";

export interface PolicyEngineInput {
  /** In the order their answers are merged: on equal actions the first one's message wins. */
  concerns: readonly Concern[];
  settings: (concern: string) => ConcernSettings;
  log: Logger;
  /** performance.now() by default: deadlines only. */
  clock?: () => number;
}

export interface PolicyEngine {
  /** `reply` is called exactly once, at the latest when the slowest concern's timeout passes. */
  decide(request: PolicyRequest, reply: (decision: Decision) => void): void;
  health(): Record<string, ConcernHealth>;
  stop(): void;
}

const FAILED_OPEN = (concern: string): ConcernAnswer =>
  Object.freeze({ action: "accept", rule: "fail-open", tags: Object.freeze([failedOpenTag(concern)]) });
const FAILED_CLOSED = (concern: string): ConcernAnswer =>
  Object.freeze({
    action: "defer",
    message: "mail policy service unavailable, try again later",
    rule: "fail-closed",
    flagged: true,
    tags: Object.freeze([`${concern}:fail-closed`]),
  });

export function createPolicyEngine(input: PolicyEngineInput): PolicyEngine {
  const { concerns, settings, log } = input;
  const clock = input.clock ?? (() => performance.now());
  const byId = new Map(concerns.map((concern) => [concern.id, concern]));
  const book = createHealthBook(
    concerns.map((concern) => concern.id),
    log,
    Date.now,
    (id) => byId.get(id)?.impairment?.(),
  );
  const deadlines = new Map<string, Deadlines>(
    concerns.map((concern) => [concern.id, createDeadlines(clock)]),
  );
  const failureAnswers = new Map(
    concerns.map((c) => [c.id, { open: FAILED_OPEN(c.id), closed: FAILED_CLOSED(c.id) }]),
  );

  /** The concern's own answer, or its failure answer; the health book notes which. */
  const answerOf = (concern: Concern, answer: ConcernAnswer | undefined, failure?: ConcernFailure) => {
    if (answer !== undefined) {
      book.answered(concern.id);
      return answer;
    }
    const { failMode } = settings(concern.id);
    book.failed(concern.id, failure ?? "error", failMode);
    return failureAnswers.get(concern.id)![failMode];
  };

  const wait = (concern: Concern, expire: () => void): Waiting => {
    const waiting = { at: clock() + settings(concern.id).timeoutMs, done: false, expire };
    deadlines.get(concern.id)!.add(waiting);
    return waiting;
  };

  // The usual case, one concern: it decides and commits in one step, and its answer is the decision.
  const askAlone = (concern: Concern, request: PolicyRequest, reply: (decision: Decision) => void) => {
    let settled = false;
    let waiting: Waiting | undefined;
    concern.decide(request, (answer, _ticket, failure) => {
      if (settled) return; // too late: the failure answer went out
      settled = true;
      if (waiting) answered(waiting);
      reply(answerOf(concern, answer, failure));
    });
    // In-process concerns answer at once; only a slower one needs a deadline.
    if (!settled) {
      waiting = wait(concern, () => {
        settled = true;
        reply(answerOf(concern, undefined, "timeout"));
      });
    }
  };

  const askAll = (asked: Concern[], request: PolicyRequest, reply: (decision: Decision) => void) => {
    const answers: (Answered | undefined)[] = new Array(asked.length);
    const tickets = new Array<number>(asked.length).fill(0);
    let left = asked.length;
    let decision: Decision | undefined;
    const finish = () => {
      decision = mergeAnswers(answers as Answered[]);
      const refused = refuses(decision.action);
      for (let i = 0; i < asked.length; i++) if (tickets[i] !== 0) asked[i].commit(tickets[i], refused);
      reply(decision);
    };
    const settle = (i: number, answer: ConcernAnswer) => {
      answers[i] = { concern: asked[i].id, answer };
      if (--left === 0) finish();
    };
    const check = (i: number) => {
      const concern = asked[i];
      let waiting: Waiting | undefined;
      concern.check(request, (answer, ticket = 0, failure) => {
        if (answers[i] !== undefined) {
          // Timed out already: what it checked is committed on the decision made without it.
          if (ticket === 0) return;
          if (decision) concern.commit(ticket, refuses(decision.action));
          else tickets[i] = ticket; // finish() commits it
          return;
        }
        if (waiting) answered(waiting);
        tickets[i] = ticket;
        settle(i, answerOf(concern, answer, failure));
      });
      if (answers[i] === undefined) {
        waiting = wait(concern, () => settle(i, answerOf(concern, undefined, "timeout")));
      }
    };
    // The concern that counts (the limits) decides in one step, as if it were alone, when the others have
    // answered at once and none refuses: the merged decision then refuses exactly when its own answer does,
    // so its commit needs no second pass (SPF from its result cache: docs/decisions.md, "One pass when the
    // others answered at once").
    const decideLast = (i: number) => {
      const concern = asked[i];
      let waiting: Waiting | undefined;
      concern.decide(request, (answer, _ticket, failure) => {
        if (answers[i] !== undefined) return; // too late: its failure answer was merged
        if (waiting) answered(waiting);
        settle(i, answerOf(concern, answer, failure));
      });
      if (answers[i] === undefined) {
        waiting = wait(concern, () => settle(i, answerOf(concern, undefined, "timeout")));
      }
    };
    let counting = -1;
    for (let i = 0; i < asked.length; i++) {
      if (!asked[i].counts) check(i);
      else counting = counting === -1 ? i : -2; // -2: more than one counts
    }
    if (
      counting >= 0 && left === 1 && !answers.some((answered) => answered && refuses(answered.answer.action))
    ) {
      return decideLast(counting);
    }
    for (let i = 0; i < asked.length; i++) if (asked[i].counts) check(i);
  };

  return {
    decide(request, reply) {
      // Each concern is asked once whether it applies: SPF's answer parses the client address.
      let only: Concern | undefined;
      let asked: Concern[] | undefined;
      for (const concern of concerns) {
        if (!concern.applies(request)) continue;
        if (only === undefined) only = concern;
        else (asked ??= [only]).push(concern);
      }
      if (only === undefined) return reply(ACCEPTED);
      if (asked === undefined) return askAlone(only, request, reply);
      askAll(asked, request, reply);
    },
    health: () => book.snapshot(),
    stop() {
      for (const queue of deadlines.values()) queue.stop();
    },
  };
}
