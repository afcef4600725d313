// A service actor built on xstate's callback logic, with the one thing xstate does not do for it: when a
// message handler throws, xstate marks the actor failed (the supervisor restarts it) but never runs its
// cleanup, which would leak the socket or timer it holds. Here cleanup runs on stop and on failure,
// errors in async work are turned into a failure through the actor's own mailbox, and a request whose
// handler fails is still answered (with undefined).
import { type ActorSystem, type AnyActorRef, fromCallback } from "xstate";

// deno-lint-ignore no-explicit-any
export type AnyActorSystem = ActorSystem<any>;

export interface ActorEvent {
  type: string;
}

export interface ActorScope<I> {
  input: I;
  system: AnyActorSystem;
  self: AnyActorRef;
  /** Report an error from async work: the actor fails and is restarted. */
  fail(error: unknown): void;
}

export interface ActorBehaviour<E> {
  receive(event: E): void;
  stop(reason: "stop" | "failure"): void;
}

interface FailEvent {
  type: "actor.fail";
  error: unknown;
}

export function defineActor<I, E extends ActorEvent>(start: (scope: ActorScope<I>) => ActorBehaviour<E>) {
  return fromCallback<E | FailEvent, I>(({ input, receive, system, self }) => {
    const fail = (error: unknown) => self.send({ type: "actor.fail", error });
    const behaviour = start({ input, system, self, fail });
    let stopped = false;
    const stop = (reason: "stop" | "failure") => {
      if (stopped) return;
      stopped = true;
      behaviour.stop(reason);
    };
    receive((event) => {
      if (stopped) return;
      // A request carries `reply`; whatever happens in the handler, the asker gets exactly one answer
      // (undefined when the handler failed) so it can fall back at once instead of waiting for a timeout.
      let replied = false;
      const request = event as E & { reply?: (answer: unknown) => void };
      const reply = request.reply;
      if (typeof reply === "function") {
        request.reply = (answer) => {
          if (replied) return;
          replied = true;
          reply(answer);
        };
      }
      try {
        if (event.type === "actor.fail") throw (event as FailEvent).error;
        behaviour.receive(event as E);
      } catch (error) {
        if (typeof reply === "function" && !replied) reply(undefined);
        stop("failure");
        throw error;
      }
    });
    return () => stop("stop");
  });
}

/**
 * The daemon's service actors, in the order the supervisor starts them (daemon.ts). Each id is also the
 * actor's xstate systemId, the name its siblings find it by: liveActor(system, "counters"). The daemon
 * starts "spf", "spamassassin", "postfix" and "spamd" (the spamd front) only when the config at start has
 * their section (daemon.ts, OPTIONAL_ACTORS).
 */
export const ACTOR_IDS = [
  "counters",
  "spf",
  "spamassassin",
  "alerter",
  "policy",
  "postfix",
  "spamd",
  "control",
] as const;
export type ActorId = typeof ACTOR_IDS[number];

/** The live actor registered under systemId, or undefined while it is down or restarting. */
export function liveActor(system: AnyActorSystem, systemId: ActorId): AnyActorRef | undefined {
  const ref = system.get(systemId);
  return ref && ref.getSnapshot().status === "active" ? ref : undefined;
}
