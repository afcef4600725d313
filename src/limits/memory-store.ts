// The in-memory CounterStore (limits/counter-store.ts): a table per limit (Map key → SenderCounter, plain
// objects: policy/sender-counter.ts), their expiry on one timer wheel per limit, max_keys
// (limits/max-keys.ts), and what the state file needs: every change reported to `touched` (the journal),
// `adopt` for the restore and `snapshotTables` for the snapshot. It answers check and commit at once:
// `done` is called before they return.
import { setImmediate } from "node:timers";
import type { Logger } from "../log.ts";
import type { Metrics } from "../control/metrics.ts";
import type { LimitConfig } from "../model/limit.ts";
import {
  capacity,
  commit as addCost,
  counterExpiresAt,
  levelWith,
  newCounter,
  rollCounter,
  wholeCount,
} from "../policy/rate.ts";
import {
  ALERT_NONE,
  ALERT_PENDING,
  ALERT_SENT,
  ALERT_UNSENT,
  recordSighting,
  type SenderCounter,
} from "../policy/sender-counter.ts";
import { type SenderDetail, senderDetail } from "../policy/sender-report.ts";
import { mergeRestored } from "../policy/restored-counter.ts";
import { holdsInstance, withNewInstance } from "../policy/counted-messages.ts";
import { lastCopy } from "../policy/unshared-text.ts";
import { createTimerWheel, type TimerWheel } from "../store/timer-wheel.ts";
import { createTopSenders } from "../store/top-senders.ts";
import type { EvictionCursor } from "../store/eviction.ts";
import type { BatchDone, CounterStore, Probe, ProbeBatch } from "./counter-store.ts";
import { createKeyRoom, OVERFLOW_KEY, type RoomTable } from "./max-keys.ts";

const TICK_MS = 1000;
// Wheel entries looked at per tick when compacting (more than a flood evicts in a second), COMPACT_SLICE
// between two turns of the event loop: in one piece, the ~5 ms a second it took at 1e6 keys came out of
// the answers' p99 (docs/decisions.md, "The good client's p99 in a flood").
const COMPACT_BUDGET = 50_000;
const COMPACT_SLICE = 4_000;
// Keys forgotten between two turns of the event loop when max_keys was lowered: each looks at 16 or more
// candidates (store/eviction.ts), ~1-2 ms a slice.
const SHED_SLICE = 2_000;

interface LimitTable extends RoomTable {
  wheel: TimerWheel<string>;
  stale: number; // wheel entries of evicted keys, not yet compacted away
}

export interface MemoryStoreOptions {
  now: () => number;
  log: Logger;
  metrics?: Metrics;
  /** A counter changed (or was created), called once this request is done with it: the journal writes it. */
  touched: (limit: string, key: string, counter: SenderCounter) => void;
  /** Something changed that the next snapshot must hold. */
  changed: () => void;
  /** An error in work done between turns of the event loop (compaction, ranking): the owner fails. */
  fail: (error: unknown) => void;
}

export interface MemoryStoreStats {
  trackedKeys: number;
  perRule: Record<string, number>;
  /** Timer wheel entries, those of evicted keys not yet swept out included. */
  wheelEntries: number;
}

export interface MemoryStore extends CounterStore {
  /** Takes a restored counter into the live table; false when not kept (no such limit, expired, full). */
  adopt(limit: string, key: string, counter: SenderCounter): boolean;
  /** How many restored keys max_keys left out. */
  readonly beyondMaxKeys: number;
  /** The live tables by limit name, for the snapshot (read in slices while requests go on). */
  snapshotTables(): Map<string, Map<string, SenderCounter>>;
  /** Each live table's key (LimitConfig.keyText), which the snapshot records beside its rows. */
  limitKeys(): Map<string, string>;
  stats(): MemoryStoreStats;
  keyCount(): number;
  /** Keys ever stored: the churn that store/after-growth.ts watches. */
  readonly created: number;
  /** No more work between turns of the event loop. */
  close(): void;
}

export function createMemoryStore(options: MemoryStoreOptions): MemoryStore {
  const { now, touched, changed } = options;
  const tables = new Map<string, LimitTable>();
  let maxKeys = Infinity;
  let created = 0;
  let beyondMaxKeys = 0;
  let closed = false;
  // Changes with every change to the tables (a commit, a key added or dropped): a probe checked at
  // another version is looked up and measured again at commit.
  let version = 0;

  const tableFor = (limit: LimitConfig): LimitTable => {
    let table = tables.get(limit.name);
    if (!table) {
      const made: LimitTable = {
        limit,
        counters: new Map(),
        wheel: createTimerWheel<string>(TICK_MS, now()),
        cursor: {} as EvictionCursor,
        stale: 0,
        forgot: () => {
          made.stale++;
          version++;
        },
      };
      tables.set(limit.name, table = made);
    }
    table.limit = limit;
    return table;
  };

  const keyCount = () => {
    let keys = 0;
    for (const table of tables.values()) keys += table.counters.size;
    return keys;
  };
  const room = createKeyRoom(() => tables.values(), () => maxKeys, options.log, options.metrics);

  /** The counter of (table, key) as of `at`, made room for (or OVERFLOW_KEY) when new; probe.key follows. */
  const lookUp = (probe: Probe, table: LimitTable, at: number): SenderCounter => {
    let counter = table.counters.get(probe.key);
    if (counter === undefined && keyCount() >= maxKeys && !room.makeRoom(table, at)) {
      probe.key = OVERFLOW_KEY;
      counter = table.counters.get(OVERFLOW_KEY);
    }
    probe.isNew = counter === undefined;
    if (counter === undefined) return newCounter(at);
    rollCounter(counter, table.limit, at);
    return counter;
  };

  // charge, level and over of the request on `counter` (brought to `at` already).
  const measure = (probe: Probe, counter: SenderCounter, limit: LimitConfig, at: number) => {
    const instance = probe.instance;
    probe.charge = instance !== undefined && holdsInstance(counter.instance, instance) ? 0 : probe.cost;
    probe.level = levelWith(counter, limit, at, probe.charge);
    probe.over = probe.level > capacity(limit);
    probe.counter = counter;
  };

  // What a counter keeps from a request (its key, a message's instance) is copied (policy/unshared-text.ts):
  // a value sliced from the request would hold the whole request for as long as the counter lives, and
  // its characters would sit apart from the string, one more cache miss per lookup. Limits on the same key
  // (the usual sender limits) share one kept copy, and the limits a message counts in share one instance:
  // the last one made in a commit.
  const keptKey = lastCopy();
  const keptInstance = lastCopy();

  // Commits one probe; returns the key as stored, or undefined when nothing was stored (a refused first
  // attempt, or a limit dropped by a reload since the check).
  const commitProbe = (probe: Probe, batch: ProbeBatch, at: number): string | undefined => {
    let table = probe.ref as LimitTable | undefined;
    let counter = probe.counter!;
    // Within one `hit` nothing changed between check and commit: the counter found then is still the
    // one, and its level as measured. Otherwise (held checks, an eviction by a later probe, a batch
    // another store checked: the Redis store's fallback commits here what Redis could not) look again.
    if (table?.limit !== probe.limit || probe.mark !== version || at !== batch.at) {
      const current = tables.get(probe.limit.name);
      if (current === undefined) return undefined;
      probe.ref = table = current;
      counter = lookUp(probe, table, at);
      measure(probe, counter, table.limit, at);
    }
    const limit = table.limit;
    const counted = probe.counted;
    if (counted) {
      addCost(counter, probe.charge, at);
      const instance = probe.instance;
      if (instance !== undefined && !holdsInstance(counter.instance, instance)) {
        counter.instance = withNewInstance(counter.instance, keptInstance.of(instance));
      }
    }
    counter.last = at;
    let key = probe.key;
    if (probe.isNew) {
      if (!counted) return undefined; // nothing to remember about a refused first attempt
      key = keptKey.of(key);
      table.counters.set(key, counter);
      table.wheel.schedule(key, counterExpiresAt(counter, limit));
      created++;
    }
    recordSighting(counter, batch.subject, batch.clientAddress);
    if (probe.over && counter.alert === ALERT_NONE) {
      probe.crossed = true;
      probe.count = wholeCount(counted ? probe.level : probe.level - probe.charge);
      batch.crossings++;
      // Nothing to send when the limit does not alert: "sent" just keeps it from being logged again.
      counter.alert = limit.alert ? ALERT_PENDING : ALERT_SENT;
    }
    // Last: the journal may write the counter as it is now (store/state-journal.ts).
    touched(limit.name, key, counter);
    return key;
  };

  const guarded = (work: () => void) => () => {
    try {
      work();
    } catch (error) {
      options.fail(error);
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
    compacting = more && budget > COMPACT_SLICE && !closed;
    if (compacting) setImmediate(guarded(() => compactSome(budget - COMPACT_SLICE)));
  };

  // max_keys lowered by a reload below the keys held: the keys that may give way go, SHED_SLICE between two
  // turns of the event loop, down to the new bound. Left to new keys, each would only have taken an old
  // one's place, and the memory the postmaster lowered max_keys for stayed taken until the windows ended.
  let shedding = false;
  const shedSome = () => {
    const at = now();
    let excess = keyCount() - maxKeys;
    for (let n = 0; excess > 0 && n < SHED_SLICE; n++, excess--) {
      if (!room.shed(at)) excess = 0; // none may go now: the next tick tries again
    }
    version++;
    changed();
    shedding = excess > 0 && !closed;
    if (shedding) setImmediate(guarded(shedSome));
  };
  const shedIfOver = () => {
    if (shedding || closed || keyCount() <= maxKeys) return;
    shedding = true;
    setImmediate(guarded(shedSome));
  };

  const topSenders = createTopSenders({
    tables: () => tables.values(),
    now,
    stopped: () => closed,
    fail: options.fail,
  });

  return {
    configure(limits, keys) {
      maxKeys = keys;
      for (const limit of limits) {
        // A limit that now counts under another key (a reload): its counters were counted under the old
        // one, and the same string under the new one is someone else. Kept, key = sender changed to
        // recipient made a user's sending count the mail sent to her, deferred at once. It counts afresh;
        // a change of count, time or algorithm keeps the counts (policy/rate.ts reads them anew).
        const table = tables.get(limit.name);
        if (table !== undefined && table.limit.keyText !== limit.keyText) {
          options.log.warn("counters", "limit key changed: its counters start afresh", {
            rule: limit.name,
            from: table.limit.keyText,
            to: limit.keyText,
            dropped: table.counters.size,
          });
          tables.delete(limit.name);
          version++;
          changed();
        }
        tableFor(limit);
      }
      for (const name of [...tables.keys()]) {
        if (limits.some((limit) => limit.name === name)) continue;
        tables.delete(name);
        version++; // probes held on it find it gone at commit
      }
      shedIfOver();
    },

    check(batch: ProbeBatch, done: BatchDone) {
      const at = batch.at;
      const probes = batch.probes;
      batch.crossings = 0;
      for (let i = 0; i < batch.size; i++) {
        const probe = probes[i];
        let table = probe.ref as LimitTable | undefined;
        if (table === undefined || table.limit !== probe.limit) probe.ref = table = tableFor(probe.limit);
        const counter = lookUp(probe, table, at);
        probe.mark = version;
        measure(probe, counter, table.limit, at);
      }
      done(batch);
    },

    commit(batch: ProbeBatch, at: number, done: BatchDone) {
      const probes = batch.probes;
      batch.crossings = 0;
      for (let i = 0; i < batch.size; i++) {
        const probe = probes[i];
        probe.crossed = false;
        const key = commitProbe(probe, batch, at);
        if (key !== undefined) probe.key = key;
      }
      keptKey.forget(); // no request kept alive through them
      keptInstance.forget();
      version++;
      changed();
      done(batch);
    },

    recordSubject(limit, key, subject) {
      const counter = tables.get(limit.name)?.counters.get(key);
      if (counter) recordSighting(counter, subject);
    },

    alertSettled(limitName, key, firstSeen, delivered) {
      const counter = tables.get(limitName)?.counters.get(key);
      if (!counter || counter.start !== firstSeen || counter.alert >= ALERT_SENT) return;
      counter.alert = delivered ? ALERT_SENT : ALERT_UNSENT;
      // Journalled, or a restart after a kill -9 shows the alert delivered here as pending for good.
      touched(limitName, key, counter);
    },

    expire(at) {
      if (!compacting) compactSome(COMPACT_BUDGET);
      shedIfOver(); // keys that could not go at the reload (over their limit then) may now
      room.endQuietIncidents(at);
      for (const table of tables.values()) {
        for (const key of table.wheel.advance(at)) {
          const counter = table.counters.get(key);
          if (!counter) continue;
          const expiresAt = counterExpiresAt(counter, table.limit);
          if (at >= expiresAt) {
            table.counters.delete(key);
            version++;
            changed();
          } else {
            table.wheel.schedule(key, expiresAt);
          }
        }
      }
    },

    top: (top, rule, reply) => topSenders.query(top, rule, reply),

    show(key, reply) {
      const at = now();
      const rows: SenderDetail[] = [];
      for (const table of tables.values()) {
        const counter = table.counters.get(key);
        if (counter) rows.push(senderDetail(table.limit, key, counter, at));
      }
      reply(rows);
    },

    // The "unblock" of rspamadm/postfwd: its wheel entry finds nothing and is dropped.
    reset(key, reply) {
      let removed = 0;
      for (const table of tables.values()) {
        if (!table.counters.delete(key)) continue;
        version++;
        removed++;
      }
      if (removed > 0) changed();
      reply(removed);
    },

    adopt(name, key, restored) {
      const table = tables.get(name);
      if (!table) return false;
      const at = now();
      if (at >= counterExpiresAt(restored, table.limit)) return false;
      const live = table.counters.get(key);
      // The journal may name more keys than memory held (evicted ones too): max_keys holds here as well.
      if (!live && keyCount() >= maxKeys) {
        beyondMaxKeys++;
        return false;
      }
      const counter = live ? mergeRestored(live, restored, table.limit, at) : restored;
      if (!live) table.counters.set(key, counter);
      version++;
      table.wheel.schedule(key, counterExpiresAt(counter, table.limit));
      return true;
    },

    get beyondMaxKeys() {
      return beyondMaxKeys;
    },

    snapshotTables: () => new Map([...tables].map(([name, table]) => [name, table.counters])),

    limitKeys: () => new Map([...tables].map(([name, table]) => [name, table.limit.keyText])),

    stats() {
      let trackedKeys = 0;
      let wheelEntries = 0;
      const perRule: Record<string, number> = {};
      for (const [name, table] of tables) {
        trackedKeys += table.counters.size;
        wheelEntries += table.wheel.size;
        perRule[name] = table.counters.size;
      }
      return { trackedKeys, perRule, wheelEntries };
    },

    keyCount,

    get created() {
      return created;
    },

    close() {
      closed = true;
    },
  };
}
