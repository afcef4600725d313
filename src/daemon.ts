// Wires the actors together under the supervisor and owns the pidfile. `mailpolicyd run` and the
// in-process tests both start the daemon through startDaemon.
import { mkdirSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { type AnyActorLogic, createActor } from "xstate";
import { ACTOR_IDS, type ActorId, liveActor } from "./actors/actor.ts";
import { alerterMachine } from "./actors/alerter.ts";
import { countersActor } from "./actors/counters.ts";
import { supervisorMachine } from "./actors/supervisor.ts";
import type { Config } from "./config/types.ts";
import { policyListenerActor } from "./listeners/policy-listener.ts";
import { postfixListenerActor } from "./listeners/postfix-listener.ts";
import { controlActor } from "./actors/control.ts";
import { createMetrics, type Metrics } from "./control/metrics.ts";
import type { ConfigResult } from "./config/load.ts";
import type { Logger } from "./log.ts";
import { VERSION } from "./version.ts";
import { statePathProblem } from "./store/regular-file.ts";
import { lockStateFile, type StateLock } from "./store/state-lock.ts";
import { createPolicyEngine, type PolicyEngine } from "./engine/policy-engine.ts";
import { limitsConcern } from "./engine/limits-concern.ts";
import { spfActor } from "./actors/spf.ts";
import { spfConcern } from "./engine/spf-concern.ts";
import { contentConcern } from "./engine/content-concern.ts";
import type { Concern } from "./engine/concern.ts";
import { spamAssassinActor } from "./actors/spamassassin.ts";
import { spamAssassinConcern } from "./engine/spamassassin-concern.ts";
import { spamdFrontActor } from "./listeners/spamd-front.ts";
import { startOnlyChanges, withStartOnlySettings } from "./config/start-only.ts";
import { processDescriptorPlan } from "./listeners/connection-bound.ts";
import { logDescriptorPlan } from "./listeners/descriptor-plan-log.ts";

export interface DaemonOptions {
  config: Config;
  log: Logger;
  /** Re-reads the config for SIGHUP and POST /reload; without it a reload re-applies the current one. */
  loadConfig?: () => ConfigResult;
  /** Replace an actor's logic (tests inject faults this way); keys are actor ids. */
  overrides?: Partial<Record<ActorId, AnyActorLogic>>;
  restartMinMs?: number;
  /**
   * The lock of config.daemon.stateFile, taken by `run` (cli/run.ts): released at stop, and moved to a new
   * state_file by a reload, which is refused while another daemon holds that one. Without it (in-process
   * tests) no lock is taken.
   */
  stateLock?: StateLock;
  /** Tests only: concerns asked after the daemon's own (a content concern scoring test messages). */
  extraConcerns?: Concern[];
}

export type ReloadResult = { ok: true } | { ok: false; errors: string[] };

export interface Daemon {
  readonly config: Config;
  readonly metrics: Metrics;
  readonly engine: PolicyEngine;
  reload(config: Config): void;
  /** Validates the config source and swaps it in; an invalid one is refused and the old one stays. */
  reloadFromSource(): ReloadResult;
  actorRestarts(): Partial<Record<ActorId, number>>;
  /** Actor id → "active" | "error" | "stopped" | "down" (between failure and restart). */
  actorStates(): Partial<Record<ActorId, string>>;
  /**
   * The first half of a graceful stop: the policy listener stops accepting and answers every request it
   * accepted (at most `graceMs`). Resolves with the number left unanswered; stop() follows.
   */
  drain(graceMs: number): Promise<number>;
  stop(): void;
}

const ACTOR_LOGIC: Record<ActorId, AnyActorLogic> = {
  counters: countersActor,
  spf: spfActor,
  spamassassin: spamAssassinActor,
  alerter: alerterMachine,
  policy: policyListenerActor,
  postfix: postfixListenerActor,
  spamd: spamdFrontActor,
  control: controlActor,
};

/**
 * Actors started only when the config at start has their section; adding the section later takes a
 * restart (a reload says so).
 */
const OPTIONAL_ACTORS: Partial<
  Record<ActorId, {
    section: OptionalSection;
    what: string;
    configured: (config: Config) => boolean;
    /** What a reload without the section says (SWITCHED_CONCERNS say it for the concerns). */
    removed?: string;
  }>
> = {
  spf: { section: "spf", what: "the SPF concern", configured: (config) => config.spf !== undefined },
  spamassassin: {
    section: "spamassassin",
    what: "the SpamAssassin concern",
    configured: (config) => config.spamassassin !== undefined,
  },
  postfix: {
    section: "postfix",
    what: "the Postfix listener",
    configured: (config) => config.postfix !== undefined,
    removed: "[postfix] was removed: the listener stops at the next restart",
  },
  spamd: {
    section: "spamd",
    what: "the spamd front",
    configured: (config) => config.spamd !== undefined,
    removed: "[spamd] was removed: the front stops after a restart",
  },
};
type OptionalSection = "spf" | "spamassassin" | "postfix" | "spamd";

/**
 * The config an actor (re)starts with: the current one, but an optional actor whose section a reload removed
 * keeps the section it started with, as it does while it runs (the section goes at the daemon's restart,
 * docs/configuration.md). The supervisor restarts a failed actor with this: without its section the
 * Postfix listener and the spamd front failed at once, again and again, for as long as the daemon ran.
 * The settings a reload says take a restart (addresses, sockets, their modes, bounds) stay those of the
 * daemon's start (config/start-only.ts): a restarted listener bound the reloaded address, where the log
 * had said it would not listen and the MTA did not look.
 */
function actorConfig(id: ActorId, config: Config, atStart: Config): Config {
  const section = OPTIONAL_ACTORS[id]?.section;
  const withSection = section === undefined || config[section] !== undefined
    ? config
    : { ...config, [section]: atStart[section] };
  return withStartOnlySettings(withSection, atStart);
}

/**
 * Concerns that a reload turns off at once when their section goes (each applies only while its section is
 * there: engine/spf-concern.ts, spamassassin-concern.ts, content-concern.ts) and on again when it comes back,
 * as long as the daemon started with it. Said in the log, as a reload that adds one says it takes a restart.
 */
const SWITCHED_CONCERNS: ReadonlyArray<
  { section: string; off: string; on: string; configured: (config: Config) => boolean }
> = [
  {
    section: "spf",
    // enabled = no reads as no [spf] (config/load.ts).
    off: "[spf] was removed or enabled = no: SPF is no longer checked",
    on: "[spf] is back: SPF is checked again",
    configured: (config) => config.spf !== undefined,
  },
  {
    section: "spamassassin",
    off: "[spamassassin] was removed: messages are no longer sent to spamd",
    on: "[spamassassin] is back: messages are sent to spamd again",
    configured: (config) => config.spamassassin !== undefined,
  },
  {
    section: "content",
    off: "[content] was removed: the content rules no longer apply",
    on: "[content] is back: the content rules apply again",
    configured: (config) => config.content !== undefined,
  },
];

/**
 * The actors this daemon runs: those of OPTIONAL_ACTORS only when the config at start has their section,
 * so sites without them see the same actors, concerns and metrics as before.
 */
export function daemonActorIds(config: Config): ActorId[] {
  return ACTOR_IDS.filter((id) => OPTIONAL_ACTORS[id]?.configured(config) ?? true);
}

/** The pidfile could not be written: nothing was started (`run` refuses to start, exit 1). */
export class PidfileUnwritable extends Error {}

export function startDaemon(options: DaemonOptions): Daemon {
  const { log } = options;
  let config = options.config;
  // What the listeners, the pidfile and the save timer took at start: a reload does not change them.
  const atStart = config.daemon;
  // Before any listener: a daemon that has bound its sockets and then cannot write its pidfile answers
  // mail that the init script can neither stop nor reload.
  try {
    mkdirSync(dirname(atStart.pidfile), { recursive: true });
    writeFileSync(atStart.pidfile, `${process.pid}\n`);
  } catch (error) {
    throw new PidfileUnwritable((error as Error).message);
  }
  logDescriptorPlan(log, processDescriptorPlan(config.spamassassin?.maxInFlight ?? 0));
  const metrics = createMetrics();
  const ids = daemonActorIds(config);
  const actorStates = () => {
    const states: Partial<Record<ActorId, string>> = {};
    for (const id of ids) states[id] = supervisor.system.get(id)?.getSnapshot().status ?? "down";
    return states;
  };
  const actorRestarts = () => {
    const restarts = supervisor.getSnapshot().context.restarts;
    return Object.fromEntries(ids.map((id) => [id, restarts[id] ?? 0])) as Partial<Record<ActorId, number>>;
  };
  let stateLock = options.stateLock;
  const refuse = (error: string): ReloadResult => {
    log.error("config", error);
    log.error("daemon", "reload refused: new config invalid, keeping the running one");
    return { ok: false, errors: [error] };
  };
  const reloadFromSource = (): ReloadResult => {
    const next = options.loadConfig ? options.loadConfig() : { ok: true as const, config };
    if (!next.ok) {
      for (const error of next.errors) log.error("config", error);
      log.error("daemon", "reload refused: new config invalid, keeping the running one");
      return next;
    }
    // A state_file that `run` refuses (cli/run.ts) must not come in by a reload either: every save would
    // fail there, and the daemon could not be started again with the config it runs.
    const stateFile = next.config.daemon.stateFile;
    const stateProblem = stateFile === config.daemon.stateFile ? undefined : statePathProblem(stateFile);
    if (stateProblem !== undefined) return refuse(`state_file ${stateFile} ${stateProblem}`);
    // Nor one that another daemon writes (store/state-lock.ts): the two would overwrite each other's counts.
    let movedLock: StateLock | undefined;
    if (stateLock !== undefined && stateFile !== config.daemon.stateFile) {
      const taken = lockStateFile(stateFile);
      if (!taken.ok) {
        return refuse(
          taken.holder
            ? `state_file ${stateFile} is in use by another mailpolicyd (pid ${taken.holder.pid}, lock ${taken.path})`
            : `state_file ${stateFile} ${taken.error}`,
        );
      }
      movedLock = taken.lock;
    }
    for (const warning of next.warnings ?? []) log.warn("config", warning);
    daemon.reload(next.config);
    if (movedLock !== undefined) {
      stateLock?.release();
      stateLock = movedLock;
    }
    return { ok: true };
  };
  // The engine outlives the actors it asks: a listener's restart keeps its view of each concern's health.
  // In the order their answers merge: on equal actions the limits' message comes first.
  const concerns: Concern[] = [limitsConcern(() => supervisor.system)];
  if (ids.includes("spf")) {
    concerns.push(
      spfConcern(() => supervisor.system, () => config.spf, () => metrics.spfStats?.().dns.health),
    );
  }
  if (ids.includes("spamassassin")) {
    concerns.push(spamAssassinConcern(() => supervisor.system, () => config.spamassassin, metrics.spamd));
  }
  // In-process, no actor; like [spf], present only when [content] was there at start.
  const withContent = config.content !== undefined;
  const startedWith = new Set(SWITCHED_CONCERNS.filter((c) => c.configured(config)).map((c) => c.section));
  if (withContent) concerns.push(contentConcern(() => config.content, log));
  concerns.push(...options.extraConcerns ?? []);
  const engine = createPolicyEngine({
    concerns,
    // extraConcerns (tests) have no section of their own: they follow [limits]' timeout and fail_mode.
    settings: (concern) => config.concerns[concern as keyof Config["concerns"]] ?? config.concerns.limits,
    log,
  });
  const supervisor = createActor(supervisorMachine, {
    input: {
      log,
      restartMinMs: options.restartMinMs,
      children: ids.map((id) => ({
        id,
        logic: options.overrides?.[id] ?? ACTOR_LOGIC[id],
        input: () => ({
          config: actorConfig(id, config, options.config),
          log,
          metrics,
          engine,
          version: VERSION,
          actorStates,
          actorRestarts,
          reload: reloadFromSource,
        }),
      })),
    },
  });
  supervisor.start();
  log.info("daemon", "started", { version: VERSION, config: config.file, pid: process.pid });

  let stopped = false;
  const daemon: Daemon = {
    get config() {
      return config;
    },
    metrics,
    engine,
    reloadFromSource,
    actorRestarts,
    reload(next) {
      for (const [id, optional] of Object.entries(OPTIONAL_ACTORS)) {
        if (optional.configured(next) && !ids.includes(id as ActorId)) {
          log.warn("daemon", `[${optional.section}] was added: restart the daemon to start ${optional.what}`);
        }
      }
      if (next.content !== undefined && !withContent) {
        log.warn("daemon", "[content] was added: restart the daemon to start the content concern");
      }
      for (const concern of SWITCHED_CONCERNS) {
        const [was, is] = [concern.configured(config), concern.configured(next)];
        // A concern the daemon started without is OPTIONAL_ACTORS' (or withContent's) to speak of.
        if (was === is || !startedWith.has(concern.section)) continue;
        if (is) log.info("daemon", concern.on);
        else log.warn("daemon", concern.off);
      }
      // Said here, not by the actors that read them: one that is down (failed, waiting for its restart) would
      // miss the reload, and with it the only word that the change waits for a restart.
      for (const [id, optional] of Object.entries(OPTIONAL_ACTORS)) {
        if (optional.removed && ids.includes(id as ActorId) && !optional.configured(next)) {
          log.warn(id, optional.removed);
        }
      }
      for (const change of startOnlyChanges(next, options.config)) {
        log.warn(change.source, change.message, change.fields);
      }
      config = next;
      log.setLevel(next.daemon.logLevel);
      supervisor.send({ type: "broadcast", event: { type: "config", config: next } });
      log.info("daemon", "config reloaded", { config: next.file });
    },
    actorStates,
    drain(graceMs) {
      // Every listener at once: each answers what it accepted within the same grace.
      const listeners = (["policy", "postfix", "spamd"] as const).map((id) =>
        liveActor(supervisor.system, id)
      );
      return Promise.all(
        listeners.map((listener) =>
          listener
            ? new Promise<number>((resolve) => listener.send({ type: "drain", graceMs, done: resolve }))
            : 0
        ),
      ).then((left) => left.reduce((sum, n) => sum + Math.max(0, n), 0));
    },
    stop() {
      if (stopped) return;
      stopped = true;
      // Stopping the supervisor stops every child: the listener closes and removes its socket, the
      // counters actor writes the state file.
      supervisor.stop();
      engine.stop();
      stateLock?.release(); // after the counters actor's last save
      try {
        unlinkSync(atStart.pidfile); // the one written at start, whatever a reload named since
      } catch { /* already gone */ }
      log.info("daemon", "stopped");
    },
  };
  return daemon;
}
