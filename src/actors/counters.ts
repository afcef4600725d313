// The counters actor: owns every per-key counter (plain objects, see policy/sender-counter.ts), their
// expiry on one timer wheel, the outbox of undelivered alerts and the state file.
import type { Config } from "../config/types.ts";
import type { LimitConfig } from "../model/limit.ts";
import type { Logger } from "../log.ts";
import { type AlertNotice, makeAlertNotice } from "../policy/alert-notice.ts";
import { isExempt, limitKey, requestCost } from "../policy/limit-key.ts";
import { isOwnAlert, type OwnAlertMail, ownAlertMail } from "../policy/own-alert.ts";
import {
  capacity,
  commit,
  counterExpiresAt,
  currentLevel,
  levelWith,
  newCounter,
  rollCounter,
  wholeCount,
} from "../policy/rate.ts";
import type { PolicyRequest } from "../policy/request.ts";
import {
  ALERT_NONE,
  ALERT_PENDING,
  ALERT_SENT,
  recordSighting,
  type SenderCounter,
} from "../policy/sender-counter.ts";
import {
  type LimitOutcome,
  outranks,
  refuses,
  sameRefusal,
  type Verdict,
  verdictFor,
} from "../policy/verdict.ts";
import { type SenderDetail, senderDetail, type SenderRow } from "../policy/sender-report.ts";
import { displaySubject } from "../protocols/subject.ts";
import { serializeState, writeStateFile, writeStateFileAsync } from "../store/state-file.ts";
import { createJournal, FLUSH_MS } from "../store/state-journal.ts";
import { mergeRestored } from "../policy/restored-counter.ts";
import { restoreState, type RestoreSummary } from "./state-restore.ts";
import { createTimerWheel, type TimerWheel } from "../store/timer-wheel.ts";
import { createTopSenders } from "../store/top-senders.ts";
import { type GrowthWatch, watchGrowth } from "../store/after-growth.ts";
import { chooseVictim, type EvictionCursor } from "../store/eviction.ts";
import { outboxEntryProblem } from "../store/outbox-entry.ts";
import type { Metrics } from "../control/metrics.ts";
import { setImmediate } from "node:timers";
import { type ActorBehaviour, type ActorScope, defineActor, liveActor } from "./actor.ts";
import { timerDelay } from "./timer-delay.ts";

export type CountersEvent =
  | { type: "hit"; request: PolicyRequest; reply: (verdict: Verdict | undefined) => void }
  | { type: "check"; request: PolicyRequest; reply: (check: LimitsCheck | undefined) => void }
  | { type: "commit"; ticket: number; refused: boolean }
  | { type: "alerts.done"; ids: string[] } // delivered or parked: out of the outbox
  | { type: "alerts.offer" } // the alerter (re)started: offer it every undelivered alert
  | { type: "config"; config: Config }
  | { type: "stats"; reply: (stats: CountersStats) => void }
  // undefined: the ranking was dropped (the actor stopped or failed meanwhile)
  | { type: "senders"; top: number; rule?: string; reply: (rows: SenderRow[] | undefined) => void }
  | { type: "sender"; key: string; reply: (rows: SenderDetail[]) => void }
  | { type: "reset"; key: string; reply: (removed: number) => void };

/** Pass 1 of a request several concerns answer: the verdict `hit` would give, and what commit takes. */
export interface LimitsCheck {
  verdict: Verdict;
  ticket: number;
}

export interface CountersStats {
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

interface LimitTable {
  limit: LimitConfig;
  counters: Map<string, SenderCounter>;
  wheel: TimerWheel<string>;
  cursor: EvictionCursor;
  stale: number; // wheel entries of evicted keys, not yet compacted away
  incident?: { since: number; last: number; evicted: number; overflowed: number };
}

/** New keys share this one when every key that could give way is over its limit (max_keys reached). */
export const OVERFLOW_KEY = "<overflow>";
// An eviction incident is over, and logged as such, when a minute passes without one.
const INCIDENT_QUIET_MS = 60_000;
// Wheel entries looked at per tick when compacting (more than a flood evicts in a second), COMPACT_SLICE
// between two turns of the event loop: in one piece, the ~5 ms a second it took at 1e6 keys came out of
// the answers' p99 (docs/decisions.md, "The good client's p99 in a flood").
const COMPACT_BUDGET = 50_000;
const COMPACT_SLICE = 4_000;

export function startCounters(
  { input, system, fail }: ActorScope<CountersInput>,
): ActorBehaviour<CountersEvent> {
  const { log } = input;
  const now = input.now ?? Date.now;
  let config = input.config;
  const tables = new Map<string, LimitTable>();
  const outbox = new Map<string, AlertNotice>();
  let dirty = false;
  let created = 0; // keys ever stored: the churn that store/after-growth.ts watches

  const tableFor = (limit: LimitConfig): LimitTable => {
    let table = tables.get(limit.name);
    if (!table) {
      table = {
        limit,
        counters: new Map(),
        wheel: createTimerWheel<string>(TICK_MS, now()),
        cursor: {},
        stale: 0,
      };
      tables.set(limit.name, table);
    }
    table.limit = limit;
    return table;
  };
  // The tables in the order of config.limits, for the request path: no lookup by name per limit.
  let ordered: LimitTable[] = [];
  let ownAlert: OwnAlertMail | undefined;
  const useConfig = (next: Config) => {
    config = next;
    ordered = config.limits.map(tableFor);
    ownAlert = ownAlertMail(config.alerts);
  };

  const offer = (notice: AlertNotice) => liveActor(system, "alerter")?.send({ type: "alert", notice });

  // Counter changes between snapshots (store/state-journal.ts); the request path only notes what it
  // touched, and a timer writes it every FLUSH_MS.
  const journal = createJournal(
    () => config.daemon.stateFile,
    1,
    (error) =>
      log.error("counters", "cannot write the state journal", {
        file: config.daemon.stateFile,
        error: error.message,
      }),
  );

  // The restore runs in slices while the daemon answers (actors/state-restore.ts); no snapshot until
  // it is done, or the snapshot would miss what is not restored yet.
  let restoring: Generator<void, RestoreSummary> | undefined;
  const restoreBegan = performance.now();
  const resetWhileRestoring = new Set<string>(); // a reset must not be undone by the restore
  const adopt = (name: string, key: string, restored: SenderCounter) => {
    const table = tables.get(name);
    if (!table || resetWhileRestoring.has(key)) return false;
    const at = now();
    if (at >= counterExpiresAt(restored, table.limit)) return false;
    const live = table.counters.get(key);
    // The journal may name more keys than memory held (evicted ones too): max_keys holds here as well.
    if (!live && keyCount() >= config.daemon.maxKeys) {
      beyondMaxKeys++;
      return false;
    }
    const counter = live ? mergeRestored(live, restored, table.limit, at) : restored;
    if (!live) table.counters.set(key, counter);
    table.wheel.schedule(key, counterExpiresAt(counter, table.limit));
    return true;
  };
  let restoreDone = false;
  let beyondMaxKeys = 0;
  const restored = (summary: RestoreSummary) => {
    restoring = undefined;
    restoreDone = true;
    resetWhileRestoring.clear();
    journal.startAt(summary.nextGeneration);
    journal.hold(false);
    dirty = true;
    earliestSave = 0; // a snapshot soon, so the journals replayed can go
    boundOutbox(config.alertQueue.outboxMax);
    log.info("counters", "state restored", {
      keys: summary.keys,
      beyond_max_keys: beyondMaxKeys || undefined,
      pending_alerts: outbox.size,
      journal_records: summary.journalRecords,
      refused_rows: summary.refused.total || undefined,
      ms: Math.round(performance.now() - restoreBegan),
    });
  };
  /** Runs the restore for up to `budgetMs`; to its end when budgetMs is Infinity (at stop). */
  const restoreSome = (budgetMs: number) => {
    if (!restoring) return;
    const until = performance.now() + budgetMs;
    for (;;) {
      const step = restoring.next();
      if (step.done) return restored(step.value);
      if (performance.now() >= until) return;
    }
  };
  const restoreInSlices = () => {
    try {
      restoreSome(8);
    } catch (error) {
      restoring = undefined;
      fail(error);
      return;
    }
    if (restoring) setImmediate(restoreInSlices);
  };
  const startRestore = () => {
    journal.hold(true);
    restoring = restoreState(config.daemon.stateFile, now(), log, {
      adopt,
      notice: (notice) => {
        // An entry that no mail can be made of (`{}`, a time past any date) would fail at every attempt.
        const problem = outboxEntryProblem(notice);
        if (problem !== undefined) {
          log.error("counters", "malformed alert in the state file's outbox, refused", {
            problem,
            entry: JSON.stringify(notice).slice(0, 200),
          });
          return;
        }
        outbox.set(notice.id, notice);
        offer(notice);
      },
    });
    setImmediate(restoreInSlices);
  };

  const snapshot = (journalFrom: number) => ({
    savedAt: now(),
    journalFrom,
    tables: new Map([...tables].map(([name, table]) => [name, table.counters])),
    outbox: [...outbox.values()],
  });

  // At stop: synchronous, complete, last word; the journals it holds are then deleted.
  const persist = () => {
    restoreSome(Infinity);
    // A restore that failed half way: the files still hold more than memory does; leave them.
    if (!dirty || !restoreDone) return;
    const journalFrom = journal.rotate();
    writeStateFile(config.daemon.stateFile, serializeState(snapshot(journalFrom)));
    journal.dropBefore(journalFrom);
    dirty = false;
  };

  // Every state_interval: in slices with async I/O, one save at a time, so answers are not held up. A
  // save may be under way at most 1/SAVE_SHARE of the time: besides the serialising, its writes and
  // fsync cost CPU and disk bandwidth. With a million keys a save takes a few seconds under load, so they
  // then come every minute or so instead of every state_interval.
  const SAVE_SHARE = 20;
  let saving = false;
  let stopped = false;
  let earliestSave = 0; // performance.now() ms
  const persistInBackground = () => {
    if (!dirty || saving || restoring || performance.now() < earliestSave) return;
    saving = true;
    dirty = false;
    const began = performance.now();
    const journalFrom = journal.rotate();
    writeStateFileAsync(config.daemon.stateFile, snapshot(journalFrom), () => stopped)
      .then(({ written, busyMs }) => {
        if (written) journal.dropBefore(journalFrom);
        const took = performance.now() - began;
        earliestSave = performance.now() + took * SAVE_SHARE;
        log.debug("counters", "state saved", {
          file: config.daemon.stateFile,
          ms: Math.round(took),
          busy_ms: Math.round(busyMs),
        });
      })
      .catch((error) => {
        dirty = true;
        log.error("counters", "cannot write state file", {
          file: config.daemon.stateFile,
          error: (error as Error).message,
        });
      })
      .finally(() => saving = false);
  };

  const growth = input.watchGrowth ?? watchGrowth();
  // Every quarter second, so that the collection after a burst comes soon after it ends.
  const watchKeys = () => {
    let keys = 0;
    for (const table of tables.values()) keys += table.counters.size;
    if (growth.tick(keys, created)) {
      log.debug("counters", "collected garbage after new keys", { keys, created });
    }
  };

  // The wheel entries of evicted keys, swept out a slice per turn of the event loop up to `budget` a tick.
  let compacting = false;
  const compactSome = (budget: number) => {
    let more = false;
    for (const table of tables.values()) {
      if (table.stale <= table.counters.size / 4 + 1000) continue;
      table.stale -= table.wheel.compact((key) => table.counters.has(key), COMPACT_SLICE);
      if (table.stale < 0) table.stale = 0;
      more = true;
    }
    compacting = more && budget > COMPACT_SLICE && !stopped;
    if (compacting) setImmediate(guarded(() => compactSome(budget - COMPACT_SLICE)));
  };

  const expire = () => {
    const at = now();
    if (!compacting) compactSome(COMPACT_BUDGET);
    for (const table of tables.values()) {
      if (table.incident && at - table.incident.last >= INCIDENT_QUIET_MS) endIncident(table, at);
      for (const key of table.wheel.advance(at)) {
        const counter = table.counters.get(key);
        if (!counter) continue;
        const expiresAt = counterExpiresAt(counter, table.limit);
        if (at >= expiresAt) {
          table.counters.delete(key);
          dirty = true;
        } else {
          table.wheel.schedule(key, expiresAt);
        }
      }
    }
  };

  // A key sliced from a request line shares the line's characters (JavaScriptCore substrings do): kept
  // in a table as is, it would hold the whole line (subject included, at DATA) for as long as the
  // counter lives, and its characters sit apart from the string, one more cache miss per lookup. Keys
  // are lower-case by construction, so lower-casing changes no character, and JavaScriptCore makes a
  // compact copy of a substring there (measured: 167 instead of 690 bytes per key for a 400-byte line).
  // Elsewhere it may return the string itself, which is then no worse than before.
  const keptKey = (key: string): string => {
    const copy = key.toLowerCase();
    return copy === key ? copy : key;
  };

  // Two passes: first every applicable limit says what this request would do, then the verdict decides
  // whether it counts (a "leaky" limit does not count requests the verdict refuses). The steps are
  // reused from request to request (hit runs to completion before the next one): with 30k requests/s,
  // fresh objects per limit and request were a measurable share of the garbage.
  interface Step {
    table: LimitTable;
    key: string;
    counter: SenderCounter;
    cost: number;
    instance: string | undefined;
    isNew: boolean;
    level: number;
    over: boolean;
  }
  const steps: Step[] = [];

  const keyCount = () => {
    let keys = 0;
    for (const table of tables.values()) keys += table.counters.size;
    return keys;
  };

  // max_keys reached: forget a key of this limit that is under its limit and has not alerted, the least
  // recently seen of a few (store/eviction.ts); else one of the largest limit's (this limit may hold
  // nothing yet). False when none may go: the new key is then counted under OVERFLOW_KEY.
  const makeRoom = (table: LimitTable, at: number): boolean => {
    let largest = table;
    for (const other of tables.values()) if (other.counters.size > largest.counters.size) largest = other;
    for (const from of largest === table ? [table] : [table, largest]) {
      const limit = from.limit;
      const victim = chooseVictim(
        from.counters,
        from.cursor,
        (counter) => counter.alert === ALERT_NONE && currentLevel(counter, limit, at) < capacity(limit),
      );
      if (victim === undefined) continue;
      from.counters.delete(victim);
      from.stale++;
      noteIncident(from, at, "evicted");
      return true;
    }
    noteIncident(table, at, "overflowed");
    return false;
  };

  const noteIncident = (table: LimitTable, at: number, what: "evicted" | "overflowed") => {
    const rule = table.limit.name;
    const totals = what === "evicted" ? input.metrics?.keysEvicted : input.metrics?.keysOverflowed;
    totals?.set(rule, (totals.get(rule) ?? 0) + 1);
    if (!table.incident) {
      table.incident = { since: at, last: at, evicted: 0, overflowed: 0 };
      log.warn("counters", "max_keys reached: the least recently seen keys give way", {
        rule,
        max_keys: config.daemon.maxKeys,
      });
    }
    table.incident.last = at;
    table.incident[what]++;
    if (what === "overflowed" && table.incident.overflowed === 1) {
      log.warn(
        "counters",
        `every key that could give way is over its limit: new keys count as ${OVERFLOW_KEY}`,
        {
          rule,
        },
      );
    }
  };

  const endIncident = (table: LimitTable, at: number) => {
    const { since, evicted, overflowed } = table.incident!;
    table.incident = undefined;
    log.info("counters", "max_keys: no key had to give way for a minute", {
      rule: table.limit.name,
      evicted,
      overflowed,
      seconds: Math.round((at - since) / 1000),
    });
  };

  const hit = (request: PolicyRequest): Verdict => {
    if (ownAlert !== undefined && isOwnAlert(request, ownAlert)) {
      log.debug("counters", "the daemon's own alert mail: not counted");
      return verdictFor(undefined);
    }
    const at = now();
    const attributes = request.form === "attributes" ? request.attributes : undefined;
    let taken = 0;
    let winner: Step | undefined;
    for (let i = 0; i < ordered.length; i++) {
      const table = ordered[i];
      const limit = table.limit;
      let key = limitKey(limit, request);
      if (key === undefined || isExempt(limit, request)) continue;
      let counter = table.counters.get(key);
      if (counter === undefined && keyCount() >= config.daemon.maxKeys && !makeRoom(table, at)) {
        key = OVERFLOW_KEY;
        counter = table.counters.get(key);
      }
      const isNew = counter === undefined;
      if (counter) rollCounter(counter, limit, at);
      else counter = newCounter(at);
      let cost = requestCost(limit, request);
      // per = message at RCPT: the message's first recipient counts it, the others see the same count.
      const instance = attributes && limit.per === "message" ? attributes.instance || undefined : undefined;
      if (instance !== undefined && counter.instance === instance) cost = 0;
      const level = levelWith(counter, limit, at, cost);
      const step = steps[taken] ??= {} as Step;
      taken++;
      step.table = table;
      step.key = key;
      step.counter = counter;
      step.cost = cost;
      step.instance = instance;
      step.isNew = isNew;
      step.level = level;
      step.over = level > capacity(limit);
      if (step.over && (!winner || outranks(limit.action, winner.table.limit.action))) winner = step;
    }
    // The strictest limit over decides; it refuses (defer, reject) or nothing does.
    const refused = winner !== undefined && refuses(winner.table.limit.action);
    const verdict = answerFor(winner, refused, request.form === "legacy");
    const subject = attributes?.subject !== undefined ? displaySubject(attributes.subject) : undefined;
    let sliced: string | undefined; // the last key stored, as computed and as kept
    let kept = "";
    for (let i = 0; i < taken; i++) {
      const step = steps[i];
      const { table, counter, cost, instance } = step;
      let key = step.key;
      const limit = table.limit;
      const counted = !refused || limit.mode === "strict";
      if (counted) {
        commit(counter, cost, at);
        if (instance !== undefined) counter.instance = instance;
      }
      counter.last = at;
      if (step.isNew) {
        if (!counted) continue; // nothing to remember about a refused first attempt
        // Limits on the same key (the usual sender limits) share one kept copy.
        if (key !== sliced) kept = keptKey(sliced = key);
        key = kept;
        table.counters.set(key, counter);
        table.wheel.schedule(key, counterExpiresAt(counter, limit));
        created++;
      }
      recordSighting(counter, subject, attributes?.client_address);
      journal.touched(limit.name, key, counter);
      if (step.over && counter.alert === ALERT_NONE) crossed(limit, key, counter, countAfter(step, counted));
    }
    if (subject !== undefined) recordElsewhere(request, taken, subject);
    dirty = true;
    return verdict;
  };

  // The count every surface shows (reply, log, alert, status): what the limit holds once the request is
  // decided. A request it does not count (a leaky limit, refused) leaves the count where it was.
  const countAfter = (step: Step, counted: boolean): number =>
    wholeCount(counted ? step.level : step.level - step.cost);

  let lastOver: Verdict | undefined; // the latest answer for a limit that was over
  const answerFor = (winner: Step | undefined, refused: boolean, legacy: boolean): Verdict => {
    if (!winner) return verdictFor(undefined);
    const count = countAfter(winner, !refused || winner.table.limit.mode === "strict");
    if (legacy) return verdictFor(outcomeOf(winner, count), false);
    if (!sameRefusal(lastOver, winner.table.limit, winner.key, count)) {
      lastOver = verdictFor(outcomeOf(winner, count));
    }
    return lastOver!;
  };

  const outcomeOf = (step: Step, count: number): LimitOutcome => ({
    limit: step.table.limit,
    key: step.key,
    count,
    over: step.over,
  });

  // The subject arrives at DATA; limits counted at RCPT still want it for their alerts' top subjects.
  const recordElsewhere = (request: PolicyRequest, taken: number, subject: string) => {
    for (const limit of config.limits) {
      if (steps.some((step, i) => i < taken && step.table.limit === limit)) continue;
      const key = limitKey(limit, request, true);
      const counter = key === undefined ? undefined : tables.get(limit.name)?.counters.get(key);
      if (counter) recordSighting(counter, subject);
    }
  };

  const crossed = (limit: LimitConfig, key: string, counter: SenderCounter, count: number) => {
    log.warn("counters", "limit passed", {
      rule: limit.name,
      key,
      count,
      limit: capacity(limit),
      window: limit.window,
      action: limit.action,
    });
    if (!limit.alert) {
      counter.alert = ALERT_SENT; // nothing to send: just do not log this again in this period
      return;
    }
    counter.alert = ALERT_PENDING;
    const notice = makeAlertNotice(limit, key, counter, count);
    outbox.set(notice.id, notice);
    journal.alert(notice);
    offer(notice);
    boundOutbox(config.alertQueue.outboxMax);
  };

  // The outbox is bounded: a storm while the relay is down for days would otherwise grow memory and the
  // state file without end. The oldest notice goes first: it is the stalest (its window has most likely
  // ended), and its crossing is in the log. Its key is not alerted again in that window.
  const boundOutbox = (max: number) => {
    for (const [id, notice] of outbox) {
      if (outbox.size <= max) return;
      settle(id);
      if (input.metrics) input.metrics.alertsDropped++;
      log.warn("counters", "alert outbox full, oldest alert dropped", {
        key: notice.key,
        rule: notice.limit,
        outbox_max: max,
      });
      liveActor(system, "alerter")?.send({ type: "alert.withdraw", id });
    }
  };

  // Top N by current count, over every limit or one: ranked in slices off the request path, shared by
  // concurrent readers (store/top-senders.ts).
  const topSenders = createTopSenders({ tables: () => tables.values(), now, stopped: () => stopped, fail });

  // The alert is done with (delivered, parked or dropped): no other for this key in this window.
  const settle = (id: string) => {
    const notice = outbox.get(id);
    if (!notice) return;
    outbox.delete(id);
    journal.sent(id);
    const counter = tables.get(notice.limit)?.counters.get(notice.key);
    if (counter && counter.start === notice.firstSeen) counter.alert = ALERT_SENT;
    dirty = true;
  };

  const guarded = (work: () => void) => () => {
    try {
      work();
    } catch (error) {
      fail(error);
    }
  };

  useConfig(config);
  startRestore();
  const ticker = setInterval(guarded(expire), TICK_MS);
  const keyWatcher = setInterval(guarded(watchKeys), 250);
  // A full disk must not take counting down with it: persistInBackground logs and tries again later.
  const saver = setInterval(persistInBackground, timerDelay(config.daemon.stateIntervalMs));
  const journalWriter = setInterval(guarded(journal.flush), FLUSH_MS);

  return {
    receive(event) {
      switch (event.type) {
        case "hit":
          return event.reply(hit(event.request));
        case "alerts.done":
          for (const id of event.ids) settle(id);
          return;
        case "alerts.offer":
          for (const notice of outbox.values()) offer(notice);
          return;
        case "config":
          // A new state_file gets its snapshot at once; the journal follows it from its next write.
          if (event.config.daemon.stateFile !== config.daemon.stateFile) earliestSave = 0;
          useConfig(event.config);
          boundOutbox(config.alertQueue.outboxMax);
          for (const name of [...tables.keys()]) {
            if (!config.limits.some((limit) => limit.name === name)) tables.delete(name);
          }
          dirty = true;
          return;
        case "stats": {
          let trackedKeys = 0;
          let wheelEntries = 0;
          const perRule: Record<string, number> = {};
          for (const [name, table] of tables) {
            trackedKeys += table.counters.size;
            wheelEntries += table.wheel.size;
            perRule[name] = table.counters.size;
          }
          return event.reply({ trackedKeys, perRule, pendingAlerts: outbox.size, wheelEntries });
        }
        case "senders":
          return topSenders.query(event.top, event.rule, event.reply);
        case "sender": {
          const at = now();
          const rows: SenderDetail[] = [];
          for (const table of tables.values()) {
            const counter = table.counters.get(event.key);
            if (counter) rows.push(senderDetail(table.limit, event.key, counter, at));
          }
          return event.reply(rows);
        }
        case "reset": {
          // The "unblock" of rspamadm/postfwd: forget the key in every limit (its wheel entry finds
          // nothing and is dropped). A pending alert for it is still delivered.
          let removed = 0;
          for (const table of tables.values()) if (table.counters.delete(event.key)) removed++;
          if (restoring) resetWhileRestoring.add(event.key);
          if (removed > 0) {
            dirty = true;
            journal.reset(event.key);
            log.info("counters", "key reset", { key: event.key, limits: removed });
          }
          return event.reply(removed);
        }
      }
    },
    stop(reason) {
      stopped = true;
      clearInterval(ticker);
      clearInterval(keyWatcher);
      clearInterval(saver);
      clearInterval(journalWriter);
      try {
        dirty = true;
        persist();
        log.info("counters", "state written", { file: config.daemon.stateFile, reason });
      } catch (error) {
        log.error("counters", "cannot write state file", {
          file: config.daemon.stateFile,
          error: (error as Error).message,
        });
        journal.rotate(); // the journal then keeps what the snapshot could not
      }
      journal.close();
    },
  };
}

export const countersActor = defineActor<CountersInput, CountersEvent>(startCounters);
