// The real counters actor, except that a request for crash@test (one-token or as sender) makes it throw:
// how the in-process tests make an actor fail.
import { defineActor } from "../../src/actors/actor.ts";
import { type CountersEvent, type CountersInput, startCounters } from "../../src/actors/counters.ts";

export const CRASH_KEY = "crash@test";

export const faultyCounters = defineActor<CountersInput, CountersEvent>((scope) => {
  const real = startCounters(scope);
  return {
    receive(event) {
      if (event.type === "hit") {
        const request = event.request;
        const key = request.form === "legacy" ? request.key : request.attributes.sender;
        if (key === CRASH_KEY) throw new Error("injected fault");
      }
      real.receive(event);
    },
    stop: real.stop,
  };
});
