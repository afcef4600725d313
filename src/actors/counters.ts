// The counters actor: dispatches messages to the counting engine (limits/limit-engine.ts) over the
// memory store (limits/memory-store.ts), and runs what needs timers: the wheel's tick, the growth watch,
// the journal and the state file (actors/counters-state.ts). It also keeps the outbox of undelivered
// alerts (actors/alert-outbox.ts). docs/architecture.md, "Counters".
import type { Config } from "../config/types.ts";
import type { Logger } from "../log.ts";
import { makeAlertNotice } from "../policy/alert-notice.ts";
import { ownAlertMail } from "../policy/own-alert.ts";
import { processLogin } from "../store/account-names.ts";
import { capacity } from "../policy/rate.ts";
import type { PolicyRequest } from "../policy/request.ts";
import type { Verdict } from "../policy/verdict.ts";
import type { SenderDetail, SenderRow } from "../policy/sender-report.ts";
import { FLUSH_MS } from "../store/state-journal.ts";
import { type GrowthWatch, watchGrowth } from "../store/after-growth.ts";
import type { Metrics } from "../control/metrics.ts";
import { createLimitEngine, type LimitsCheck } from "../limits/limit-engine.ts";
import { holdFor } from "../limits/held-checks.ts";
import type { CounterStore, Probe } from "../limits/counter-store.ts";
import { createMemoryStore } from "../limits/memory-store.ts";
import { createCountersRedis } from "./counters-redis.ts";
import { type ActorBehaviour, type ActorScope, defineActor, liveActor } from "./actor.ts";
import { createAlertOutbox } from "./alert-outbox.ts";
import { createCountersState, type StateWrites } from "./counters-state.ts";
import { timerDelay } from "./timer-delay.ts";

export type { LimitsCheck };

export type CountersEvent =
  // check + commit with its own verdict: the answer when the limits are the only concern
  | { type: "hit"; request: PolicyRequest; reply: (verdict: Verdict | undefined) => void }
  // pass 1 only: the verdict `hit` would give, and the ticket of what to commit (0: nothing)
  | { type: "check"; request: PolicyRequest; reply: (check: LimitsCheck | undefined) => void }
  // pass 2: `refused` is the final merged verdict's (every concern's)
  | { type: "commit"; ticket: number; refused: boolean }
  | { type: "alerts.done"; ids: string[]; delivered: boolean } // delivered or not (parked): out of the outbox
  | { type: "alerts.offer" } // the alerter (re)started: offer it every undelivered alert
  | { type: "alerts.partly"; ids: string[]; recipients: string[] } // delivered to all but `recipients`
  | { type: "alerts.handing" } // an alert is being handed to `[alerts] sendmail =` (LimitEngine.alertHandedOver)
  | { type: "config"; config: Config }
  | { type: "stats"; reply: (stats: CountersStats) => void }
  // undefined: the ranking was dropped (the actor stopped or failed meanwhile)
  // null: the shared counters (Redis) did not answer (limits/counter-store.ts).
  | { type: "senders"; top: number; rule?: string; reply: (rows: SenderRow[] | undefined | null) => void }
  | { type: "sender"; key: string; reply: (rows: SenderDetail[] | null) => void }
  | { type: "reset"; key: string; reply: (removed: number | null) => void };

export interface CountersStats {
  /** Whether the state file and journal are written (a full disk): status and /metrics. */
  stateWrites?: StateWrites;
  /** Present while the state file is being restored after a start: keys not back yet are not shown. */
  restoring?: { keysSoFar: number };
  trackedKeys: number;
  perRule: Record<string, number>;
  pendingAlerts: number;
  /** Timer wheel entries, those of evicted keys not yet swept out included. */
  wheelEntries: number;
}

export interface CountersInput {
  config: Config;
  log: Logger;
  now?: () => number;
  watchGrowth?: GrowthWatch;
  metrics?: Metrics;
}

const TICK_MS = 1000;

/** Whether a limit of both configs counts under another key in `next`. */
function keyChanged(current: Config, next: Config): boolean {
  const keys = new Map(current.limits.map((limit) => [limit.name, limit.keyText]));
  return next.limits.some((limit) => keys.has(limit.name) && keys.get(limit.name) !== limit.keyText);
}

/** The limits `current` has and `next` has not (removed, or renamed: by name, a limit is another one). */
function removedLimits(current: Config, next: Config): string[] {
  const names = new Set(next.limits.map((limit) => limit.name));
  return current.limits.map((limit) => limit.name).filter((name) => !names.has(name));
}

export function startCounters(
  { input, system, fail }: ActorScope<CountersInput>,
): ActorBehaviour<CountersEvent> {
  const { log } = input;
  const now = input.now ?? Date.now;
  let config = input.config;

  const state = createCountersState({
    config: () => config,
    log,
    now,
    fail,
    restored: () => redis.restored(),
  });
  const local = createMemoryStore({
    now,
    log,
    metrics: input.metrics,
    touched: state.journal.touched,
    changed: state.changed,
    fail,
  });
  // The engine's store: the memory store, or with [redis] the shared store over it (limits/shared-store.ts);
  // a reload may switch it (engine.useStore).
  let store: CounterStore = local;
  const redis = createCountersRedis({
    use: (next) => {
      store = next;
      engine.useStore(next);
    },
    local,
    log,
    metrics: input.metrics,
    now,
    changed: () => {
      state.changed();
      state.saveSoon();
    },
    stateFile: () => config.daemon.stateFile,
  });
  const outbox = createAlertOutbox({
    log,
    metrics: input.metrics,
    journal: state.journal,
    offer: (notice) => liveActor(system, "alerter")?.send({ type: "alert", notice }),
    withdraw: (id) => liveActor(system, "alerter")?.send({ type: "alert.withdraw", id }),
    settled: (notice, delivered) => store.alertSettled(notice.limit, notice.key, notice.firstSeen, delivered),
    changed: state.changed,
  });

  const crossed = (probe: Probe) => {
    const { limit, key, count } = probe;
    log.warn("counters", "limit passed", {
      rule: limit.name,
      key,
      count,
      limit: capacity(limit),
      window: limit.window,
      action: limit.action,
    });
    if (limit.alert) {
      outbox.add(makeAlertNotice(limit, key, probe.counter!, count), config.alertQueue.outboxMax);
      // Written to the journal now, before the answer that crossed goes out, not at the next FLUSH_MS:
      // with [redis] the crossing is marked in Redis at once (no host alerts again in that window), so a
      // kill -9 in the 200 ms before the flush lost the alert for good, where the memory store lost the
      // count with it and the key crossed again. One write per crossing (once per key and window).
      state.journal.flush();
    }
  };
  const engine = createLimitEngine(store, now, {
    crossed,
    ownAlert: () => log.debug("counters", "the daemon's own alert mail: not counted"),
    heldIncident: (incident) =>
      incident.kind === "expired"
        ? log.debug("counters", "checks not committed in time, committed as their own verdict said", {
          count: incident.count,
        })
        : log.debug("counters", "too many checks held, the oldest committed as its own verdict said", {
          max: incident.max,
        }),
  });

  // Who hands `[alerts] sendmail =` alerts to the MTA: how the engine knows them at the local stage.
  const login = processLogin();
  const useConfig = (next: Config) => {
    config = next;
    store.configure(config.limits, config.daemon.maxKeys);
    redis.use(config);
    const timeouts = Object.values(config.concerns).map((concern) => concern.timeoutMs);
    engine.configure(config.limits, ownAlertMail(config.alerts, login), holdFor(timeouts));
  };

  const growth = input.watchGrowth ?? watchGrowth();
  // Every quarter second, so that the collection after a burst comes soon after it ends.
  const watchKeys = () => {
    const keys = local.keyCount();
    if (growth.tick(keys, local.created)) {
      log.debug("counters", "collected garbage after new keys", { keys, created: local.created });
    }
  };

  const guarded = (work: () => void) => () => {
    try {
      work();
    } catch (error) {
      fail(error);
    }
  };

  useConfig(config);
  state.start(local, outbox);
  const ticker = setInterval(
    guarded(() => {
      store.expire(now());
      engine.expireHeld();
    }),
    TICK_MS,
  );
  const keyWatcher = setInterval(guarded(watchKeys), 250);
  // A full disk must not take counting down with it: saveInBackground logs and tries again later.
  const saver = setInterval(state.saveInBackground, timerDelay(config.daemon.stateIntervalMs));
  const journalWriter = setInterval(guarded(state.journal.flush), FLUSH_MS);

  return {
    receive(event) {
      switch (event.type) {
        case "hit":
          return engine.hit(event.request, event.reply);
        case "check":
          return engine.check(event.request, event.reply);
        case "commit":
          return engine.commit(event.ticket, event.refused);
        case "alerts.done":
          for (const id of event.ids) outbox.settle(id, event.delivered);
          // Written now, not at the next FLUSH_MS: a kill in those 200 ms left the alert in the outbox the
          // restart reads, and the postmaster got it twice. One write per alert mail.
          state.journal.flush();
          return;
        case "alerts.offer":
          return outbox.offerAll();
        case "alerts.handing":
          return engine.alertHandedOver();
        case "alerts.partly":
          outbox.partlyDelivered(event.ids, event.recipients);
          // Written now: a kill before the next FLUSH_MS sent the alert again to those who had it.
          state.journal.flush();
          return;
        case "config":
          // A new state_file gets its snapshot at once; the journal follows it from its next write.
          if (event.config.daemon.stateFile !== config.daemon.stateFile) state.saveSoon();
          // A limit whose key changed drops its counters (limits/memory-store.ts): a snapshot soon, or a
          // restart replays the journal's records of the old keys into the limit.
          if (keyChanged(config, event.config)) state.saveSoon();
          // The memory store drops a removed limit's counters (limits/memory-store.ts, configure): said, as
          // a key change is, and a snapshot soon for the same reason.
          for (const rule of removedLimits(config, event.config)) {
            const dropped = local.snapshotTables().get(rule)?.size ?? 0;
            log.warn("counters", "limit removed: its counters on this host are dropped", { rule, dropped });
            state.saveSoon();
          }
          useConfig(event.config);
          outbox.bound(config.alertQueue.outboxMax);
          state.changed();
          return;
        case "stats":
          return event.reply({
            ...local.stats(),
            pendingAlerts: outbox.size,
            stateWrites: state.writes(),
            restoring: state.restoring(),
          });
        case "senders":
          return store.top(event.top, event.rule, event.reply);
        case "sender":
          return store.show(event.key, event.reply);
        case "reset":
          // The "unblock" of rspamadm/postfwd: forget the key in every limit. A pending alert for it is
          // still delivered. The key's copies of shared counters go with this host's part.
          redis.keyReset(event.key);
          return store.reset(event.key, (removed) => {
            // null: Redis did not answer; the memory store's part may be gone (journaled as a reset).
            state.keyReset(event.key, removed ?? 1);
            if (removed !== null && removed > 0) {
              log.info("counters", "key reset", { key: event.key, limits: removed });
            }
            event.reply(removed);
          });
      }
    },
    stop(reason) {
      redis.stop();
      local.close();
      clearInterval(ticker);
      clearInterval(keyWatcher);
      clearInterval(saver);
      clearInterval(journalWriter);
      state.stop(reason);
    },
  };
}

export const countersActor = defineActor<CountersInput, CountersEvent>(startCounters);
