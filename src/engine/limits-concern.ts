// The rate limits as a concern of the engine: the counters actor (actors/counters.ts) answers, with the
// verdict of policy/verdict.ts, which is a ConcernAnswer as it is.
import { type AnyActorSystem, deliver, liveActor } from "../actors/actor.ts";
import type { LimitsCheck } from "../actors/counters.ts";
import type { Verdict } from "../policy/verdict.ts";
import type { Concern, ConcernReply } from "./concern.ts";

const LIMITS = "limits";

export function limitsConcern(system: () => AnyActorSystem): Concern {
  const counters = () => liveActor(system(), "counters");
  return {
    id: LIMITS,
    counts: true,
    // Every request: even at a stage where no limit counts, the subject at DATA goes to the alerts of the
    // limits counted at RCPT, and the legacy form is theirs alone.
    // A whole message (the spamd front) is for the content concerns: the limits counted its RCPTs.
    applies: (request) => request.form !== "message",
    decide(request, reply: ConcernReply) {
      const actor = counters();
      if (!actor) return reply(undefined, 0, "down");
      // The engine's reply takes the verdict as it is: no wrapper per request on the usual path.
      deliver(actor, { type: "hit", request, reply: reply as (verdict: Verdict | undefined) => void });
    },
    check(request, reply) {
      const actor = counters();
      if (!actor) return reply(undefined, 0, "down");
      deliver(actor, {
        type: "check",
        request,
        reply: (check: LimitsCheck | undefined) => reply(check?.verdict, check?.ticket ?? 0),
      });
    },
    commit(ticket, refused) {
      const actor = ticket === 0 ? undefined : counters();
      if (actor) deliver(actor, { type: "commit", ticket, refused });
    },
  };
}
