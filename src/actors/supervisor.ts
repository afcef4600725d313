// The supervisor: starts every service actor, and when one fails restarts it after a backoff that
// doubles with each failure in the last minute, so a crash loop cannot spin the CPU. While a child is
// down the others keep working; the listener answers with the fail_mode verdict meanwhile.
import { type AnyActorLogic, assign, enqueueActions, setup } from "xstate";
import type { Logger } from "../log.ts";
import { backoffDelay } from "./backoff.ts";

export interface ChildSpec {
  id: string; // also its systemId, so siblings find the live instance with liveActor (actor.ts: ACTOR_IDS)
  logic: AnyActorLogic;
  input: () => unknown; // read at every (re)start, so a restarted child gets the current config
}

export interface SupervisorInput {
  children: ChildSpec[];
  log: Logger;
  restartMinMs?: number;
  restartMaxMs?: number;
  now?: () => number;
}

interface SupervisorContext {
  children: ChildSpec[];
  log: Logger;
  restartMinMs: number;
  restartMaxMs: number;
  now: () => number;
  failures: Record<string, number[]>; // failure times in the last minute, per child
  restarts: Record<string, number>; // since start, for status and metrics
}

type SupervisorEvent =
  | { type: "restart"; id: string }
  | { type: "broadcast"; event: { type: string; [field: string]: unknown } }
  | { type: `xstate.error.actor.${string}`; error: unknown };

// xstate types spawn options from the logic; children here are heterogeneous, so widen once, here.
// deno-lint-ignore no-explicit-any
const spawnOptions = (child: ChildSpec): any => ({ id: child.id, systemId: child.id, input: child.input() });

const ERROR_PREFIX = "xstate.error.actor.";
const FAILURE_MEMORY_MS = 60_000;

export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    input: {} as SupervisorInput,
  },
}).createMachine({
  id: "supervisor",
  context: ({ input }) => ({
    children: input.children,
    log: input.log,
    restartMinMs: input.restartMinMs ?? 100,
    restartMaxMs: input.restartMaxMs ?? 30_000,
    now: input.now ?? Date.now,
    failures: {},
    restarts: {},
  }),
  entry: enqueueActions(({ context, enqueue }) => {
    for (const child of context.children) {
      enqueue.spawnChild(child.logic, spawnOptions(child));
    }
  }),
  on: {
    "xstate.error.actor.*": {
      actions: [
        assign({
          failures: ({ context, event }) => {
            const id = event.type.slice(ERROR_PREFIX.length);
            const since = context.now() - FAILURE_MEMORY_MS;
            const recent = (context.failures[id] ?? []).filter((at) => at >= since);
            return { ...context.failures, [id]: [...recent, context.now()] };
          },
        }),
        enqueueActions(({ context, event, enqueue }) => {
          const id = event.type.slice(ERROR_PREFIX.length);
          const delay = backoffDelay(
            context.failures[id].length,
            context.restartMinMs,
            context.restartMaxMs,
          );
          const error = (event as { error?: unknown }).error;
          context.log.error("supervisor", "actor failed, restarting", {
            actor: id,
            error: error instanceof Error ? error.message : String(error),
            restart_in_ms: delay,
          });
          enqueue.raise({ type: "restart", id }, { delay });
        }),
      ],
    },
    restart: {
      actions: [
        enqueueActions(({ context, event, enqueue }) => {
          const child = context.children.find((spec) => spec.id === event.id);
          if (!child) return;
          enqueue.stopChild(child.id);
          enqueue.spawnChild(child.logic, spawnOptions(child));
        }),
        assign({
          restarts: ({ context, event }) => ({
            ...context.restarts,
            [event.id]: (context.restarts[event.id] ?? 0) + 1,
          }),
        }),
        ({ context, event }) => context.log.info("supervisor", "actor restarted", { actor: event.id }),
      ],
    },
    // A config reload: every child gets the new config; children keep their own state.
    broadcast: {
      actions: ({ context, event, system }) => {
        for (const child of context.children) system.get(child.id)?.send(event.event);
      },
    },
  },
});
