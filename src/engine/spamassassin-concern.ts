// SpamAssassin as a concern of the engine: the SpamAssassin actor (actors/spamassassin.ts) asks spamd. It
// applies to whole messages ("message" requests, from the spamd front) when [spamassassin] is configured,
// and answers accept with spamd's score and tests: the front turns the summed score into its verdict. A
// message too big or cut short is answered here, without spamd. It counts nothing: commit does nothing.
import { type AnyActorSystem, liveActor } from "../actors/actor.ts";
import type { SpamAssassinConfig } from "../config/types.ts";
import { recordSpamdScan, type SpamdMetrics } from "../control/spamd-metrics.ts";
import type { PolicyRequest } from "../policy/request.ts";
import { notScannedAnswer, notScannedReason } from "../spamd/answer.ts";
import type { Concern, ConcernReply } from "./concern.ts";

export function spamAssassinConcern(
  system: () => AnyActorSystem,
  settings: () => SpamAssassinConfig | undefined,
  metrics: SpamdMetrics,
): Concern {
  const ask = (request: PolicyRequest, reply: ConcernReply) => {
    const spam = settings();
    if (spam === undefined || request.form !== "message") return reply({ action: "accept" });
    const reason = notScannedReason(request, spam.maxSize);
    if (reason !== undefined) {
      recordSpamdScan(metrics, "not-scanned");
      return reply(notScannedAnswer(reason));
    }
    const actor = liveActor(system(), "spamassassin");
    if (!actor) return reply(undefined, 0, "down");
    // The actor answers with the ConcernAnswer, or undefined when the scan failed; no ticket (0).
    actor.send({ type: "scan", request, reply });
  };
  return {
    id: "spamassassin",
    counts: false,
    applies: (request) => request.form === "message" && settings() !== undefined,
    check: ask,
    decide: ask,
    commit() {},
  };
}
