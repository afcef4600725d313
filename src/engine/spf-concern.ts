// SPF as a concern of the engine: the SPF actor (actors/spf.ts) answers. It applies to attribute
// requests at [spf] stage that are not exempt; it counts nothing, so commit has nothing to do and decide
// is check. While the SPF actor's DNS servers do not answer, its checks end in temperror, which it answers
// itself: its impairment says so (engine/concern-health.ts), or status would say all is well.
import { type AnyActorSystem, deliver, liveActor } from "../actors/actor.ts";
import type { DnsServerHealth } from "../dns/server-health.ts";
import type { SpfPolicy } from "../model/spf.ts";
import type { PolicyRequest } from "../policy/request.ts";
import { spfExemption } from "../spf/exemption.ts";
import type { Concern, ConcernImpairment, ConcernReply } from "./concern.ts";

/** The impairment of SPF's DNS servers while they do not answer (dns/server-health.ts). */
function dnsImpairment(health: DnsServerHealth | undefined): ConcernImpairment | undefined {
  if (health?.state !== "not answering") return undefined;
  return {
    what: "DNS",
    since: health.since!,
    lastError: health.lastError!,
    failed: health.failedLookups,
    answering: "temperror",
  };
}

/** `dnsHealth`: the running SPF actor's DNS servers (metrics.spfStats), undefined while it is down. */
export function spfConcern(
  system: () => AnyActorSystem,
  policy: () => SpfPolicy | undefined,
  dnsHealth: () => DnsServerHealth | undefined = () => undefined,
): Concern {
  const ask = (request: PolicyRequest, reply: ConcernReply) => {
    const actor = liveActor(system(), "spf");
    if (!actor) return reply(undefined, 0, "down");
    // The actor answers with the ConcernAnswer, or undefined when the check failed; no ticket (0).
    deliver(actor, { type: "check", request, reply });
  };
  return {
    id: "spf",
    counts: false,
    applies(request) {
      const spf = policy();
      if (spf === undefined || request.form !== "attributes" || request.stage !== spf.stage) return false;
      const { client_address, sender, sasl_username } = request.attributes;
      return spfExemption(spf, { clientAddress: client_address, sender, saslUsername: sasl_username }) ===
        undefined;
    },
    check: ask,
    decide: ask,
    commit() {},
    impairment: () => dnsImpairment(dnsHealth()),
  };
}
