// The real counters actor, except that a request for crash@test (one-token or as sender) makes it throw,
// and one for stall@test is never answered: how the in-process tests make an actor fail or hang.
import { defineActor } from "../../src/actors/actor.ts";
import { type CountersEvent, type CountersInput, startCounters } from "../../src/actors/counters.ts";

export const CRASH_KEY = "crash@test";
export const STALL_KEY = "stall@test";

export const faultyCounters = defineActor<CountersInput, CountersEvent>((scope) => {
  const real = startCounters(scope);
  return {
    receive(event) {
      if (event.type === "hit" || event.type === "check") {
        const request = event.request;
        const key = request.form === "legacy"
          ? request.key
          : request.form === "attributes"
          ? request.attributes.sender
          : request.envelope.sender;
        if (key === CRASH_KEY) throw new Error("injected fault");
        if (key === STALL_KEY) return; // the reply is never called
      }
      real.receive(event);
    },
    stop: real.stop,
  };
});
