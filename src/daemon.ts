// Wires the actors together under the supervisor and owns the pidfile. `mailpolicyd run` and the
// in-process tests both start the daemon through startDaemon.
import { mkdirSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { type AnyActorLogic, createActor } from "xstate";
import { alerterMachine } from "./actors/alerter.ts";
import { countersActor } from "./actors/counters.ts";
import { supervisorMachine } from "./actors/supervisor.ts";
import type { Config } from "./config/types.ts";
import { policyListenerActor } from "./listeners/policy-listener.ts";
import type { Logger } from "./log.ts";
import { VERSION } from "./version.ts";

export interface DaemonOptions {
  config: Config;
  log: Logger;
  /** Replace an actor's logic (tests inject faults this way); keys are actor ids. */
  overrides?: Partial<Record<ActorId, AnyActorLogic>>;
  restartMinMs?: number;
}

export type ActorId = "counters" | "alerter" | "policy";

export interface Daemon {
  readonly config: Config;
  reload(config: Config): void;
  /** Actor id → "active" | "error" | "stopped" | "down" (between failure and restart). */
  actorStates(): Record<ActorId, string>;
  stop(): void;
}

const ACTOR_LOGIC: Record<ActorId, AnyActorLogic> = {
  counters: countersActor,
  alerter: alerterMachine,
  policy: policyListenerActor,
};

export function startDaemon(options: DaemonOptions): Daemon {
  const { log } = options;
  let config = options.config;
  const ids: ActorId[] = ["counters", "alerter", "policy"];
  const supervisor = createActor(supervisorMachine, {
    input: {
      log,
      restartMinMs: options.restartMinMs,
      children: ids.map((id) => ({
        id,
        logic: options.overrides?.[id] ?? ACTOR_LOGIC[id],
        input: () => ({ config, log }),
      })),
    },
  });
  supervisor.start();

  mkdirSync(dirname(config.daemon.pidfile), { recursive: true });
  writeFileSync(config.daemon.pidfile, `${process.pid}\n`);
  log.info("daemon", "started", { version: VERSION, config: config.file, pid: process.pid });

  let stopped = false;
  return {
    get config() {
      return config;
    },
    reload(next) {
      config = next;
      log.setLevel(next.daemon.logLevel);
      supervisor.send({ type: "broadcast", event: { type: "config", config: next } });
      log.info("daemon", "config reloaded", { config: next.file });
    },
    actorStates() {
      const states = {} as Record<ActorId, string>;
      for (const id of ids) states[id] = supervisor.system.get(id)?.getSnapshot().status ?? "down";
      return states;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      // Stopping the supervisor stops every child: the listener closes and removes its socket, the
      // counters actor writes the state file.
      supervisor.stop();
      try {
        unlinkSync(config.daemon.pidfile);
      } catch { /* already gone */ }
      log.info("daemon", "stopped");
    },
  };
}
