// A content concern for tests of the spamd front, until the real ones (content rules, SpamAssassin) are
// merged: it scores a message by markers in its bytes. `MARKER-SCORE=12.5` adds 12.5 under the symbol
// TEST_MARKER; `MARKER-REJECT` answers reject with a message of its own; `MARKER-DEFER` answers defer;
// `MARKER-RULES=150` answers 150 symbols of 0.05 with names and descriptions near 200 characters each (a
// report over what Exim reads of a reply); `MARKER-COUNTED-RULES=150` answers the same, each name counting its
// reads in `nameReads` (how often a reply and its log lines went over the list).
import type { Concern } from "../../src/engine/concern.ts";
import type { ConcernAnswer } from "../../src/model/answer.ts";
import type { PolicyRequest } from "../../src/policy/request.ts";

export interface MarkerConcern extends Concern {
  /** The requests it was asked about, for assertions on the envelope and the bytes. */
  readonly seen: Extract<PolicyRequest, { form: "message" }>[];
  /** How often the names of MARKER-COUNTED-RULES's symbols were read. */
  readonly nameReads: { count: number };
}

function answerFor(
  request: Extract<PolicyRequest, { form: "message" }>,
  nameReads: { count: number },
): ConcernAnswer {
  const text = new TextDecoder("latin1").decode(request.message);
  if (text.includes("MARKER-REJECT")) {
    return {
      action: "reject",
      message: "marker says reject",
      score: 1,
      symbols: [{ name: "TEST_REJECT", score: 1 }],
    };
  }
  if (text.includes("MARKER-DEFER")) return { action: "defer", message: "marker says later" };
  const rules = /MARKER-(COUNTED-)?RULES=(\d+)/.exec(text);
  if (rules) {
    const symbols = Array.from({ length: Number(rules[2]) }, (_, i) => {
      const name = `TEST_LONG_RULE_${i + 1}_`.padEnd(190, "X");
      const description = `rule ${i + 1} of a long list, described at length: `.padEnd(200, "y");
      if (!rules[1]) return { name, score: 0.05, description };
      return {
        get name() {
          nameReads.count++;
          return name;
        },
        score: 0.05,
        description,
      };
    });
    return { action: "accept", score: Math.round(symbols.length * 5) / 100, symbols };
  }
  const match = /MARKER-SCORE=(-?\d+(?:\.\d+)?)/.exec(text);
  if (!match) return { action: "accept", score: 0 };
  const score = Number(match[1]);
  return {
    action: "accept",
    score,
    symbols: [{ name: "TEST_MARKER", score, description: `marker in the body (${score})` }],
  };
}

export function markerConcern(): MarkerConcern {
  const seen: Extract<PolicyRequest, { form: "message" }>[] = [];
  const nameReads = { count: 0 };
  const ask = (request: PolicyRequest, reply: (answer: ConcernAnswer) => void) => {
    if (request.form !== "message") return reply({ action: "accept" });
    seen.push({ ...request, message: request.message.slice() });
    reply(answerFor(request, nameReads));
  };
  return {
    id: "marker",
    counts: false,
    seen,
    nameReads,
    applies: (request) => request.form === "message",
    check: (request, reply) => ask(request, (answer) => reply(answer, 0)),
    commit() {},
    decide: (request, reply) => ask(request, (answer) => reply(answer)),
  };
}
