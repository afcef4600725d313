// What every policy listener does with a parsed request, whatever its protocol: ask the engine, count
// the decision in the metrics, log it, and write it in the listener's own words (readsocket's
// `action=…` today, Postfix's `action=DUNNO` next).
import { type Metrics, recordRequest } from "../control/metrics.ts";
import type { Decision } from "../model/answer.ts";
import { logDecision } from "../engine/decision-log.ts";
import type { PolicyEngine } from "../engine/policy-engine.ts";
import type { Logger } from "../log.ts";
import type { PolicyRequest } from "../policy/request.ts";

export type DecisionFormat = (decision: Decision, request: PolicyRequest) => string | Uint8Array;

export type DecideAndReply = (
  request: PolicyRequest,
  started: number, // performance.now() when the request was read: the latency metric starts there
  responder: { reply(text: string | Uint8Array): void }, // called as a method: a connection object
) => void;

export function decideAndReply(
  engine: PolicyEngine,
  metrics: Metrics,
  log: Logger,
  format: DecisionFormat,
): DecideAndReply {
  // One closure per request (the engine's reply) is all this allocates.
  return (request, started, responder) =>
    engine.decide(request, (decision) => {
      recordRequest(metrics, decision.action, decision.rule, (performance.now() - started) / 1000);
      logDecision(log, request, decision);
      responder.reply(format(decision, request));
    });
}
