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

/**
 * Each live actor's way in without xstate's mailbox (`deliver`). Returns false once the actor is stopped
 * (the event is then sent as usual, and xstate drops it).
 */
const directEntries = new WeakMap<AnyActorRef, (event: ActorEvent) => boolean>();

export function defineActor<I, E extends ActorEvent>(start: (scope: ActorScope<I>) => ActorBehaviour<E>) {
  return fromCallback<E | FailEvent, I>(({ input, receive, system, self }) => {
    const fail = (error: unknown) => self.send({ type: "actor.fail", error });
    const behaviour = start({ input, system, self, fail });
    let stopped = false;
    // A handler is running. Events that arrive meanwhile, by either way in, wait here: xstate's mailbox
    // only knows of the events it delivered, so one delivered directly would let a nested send (this
    // actor's own, or a sibling's answering synchronously) enter the handler a second time.
    let busy = false;
    const waiting: (E | FailEvent)[] = [];
    const stop = (reason: "stop" | "failure") => {
      if (stopped) return;
      stopped = true;
      directEntries.delete(self);
      behaviour.stop(reason);
      for (const event of waiting.splice(0)) {
        (event as { reply?: (answer: unknown) => void }).reply?.(undefined);
      }
    };
    const handle = (event: E | FailEvent, thrown: (error: unknown) => void) => {
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
      busy = true;
      try {
        if (event.type === "actor.fail") throw (event as FailEvent).error;
        behaviour.receive(event as E);
      } catch (error) {
        busy = false;
        if (typeof reply === "function" && !replied) reply(undefined);
        thrown(error);
      } finally {
        busy = false;
      }
    };
    /** The event now, then those that arrived while it was handled, in order. */
    const handleNow = (event: E | FailEvent, thrown: (error: unknown) => void) => {
      handle(event, thrown);
      // A failure of one that waited goes through the mailbox (actor.fail), like a direct event's.
      while (waiting.length > 0 && !stopped) handle(waiting.shift()!, fail);
    };
    receive((event) => {
      if (stopped) return;
      if (busy) return void waiting.push(event);
      handleNow(event, (error) => {
        stop("failure");
        throw error;
      });
    });
    // Directly: the same handling. A failure goes through the mailbox (actor.fail), where xstate marks the
    // actor failed and the supervisor restarts it, as for an event sent.
    directEntries.set(self, (event) => {
      if (stopped) return false;
      if (busy) waiting.push(event as E);
      else handleNow(event as E, fail);
      return true;
    });
    return () => stop("stop");
  });
}

/**
 * Hands `event` to the actor: at once when it is idle, after its current event when it is busy, without
 * xstate's mailbox either way. The request path's events (the limits' hit, SPF's check) skip the mailbox's
 * bookkeeping, about 110 ns an event in a loop (docs/decisions.md, "Events delivered directly to an idle
 * actor"). An event for an actor already handling one (the limits' commit from within their own check's
 * reply, an alerter's answer to the counters' offer) waits its turn, whichever way it came: no handler is
 * ever entered twice, and events to one actor keep their order.
 */
export function deliver<E extends ActorEvent>(ref: AnyActorRef, event: E): void {
  const direct = directEntries.get(ref);
  if (direct === undefined || !direct(event)) ref.send(event);
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
