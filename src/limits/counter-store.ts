// Where the counters live, as the counting engine (limits/limit-engine.ts) sees it: the memory store
// (limits/memory-store.ts) now, a Redis store shared by several MX hosts later (issue 21). The engine
// decides which limits apply and what the verdict is; the store holds the counters and answers, per
// (limit, key), two questions that mirror rspamd's ratelimit check and update Lua scripts:
//   check  — what would this request make the level? (nothing is written)
//   commit — count it (or not), note the sighting, and say whether this commit passed the limit.
// In Redis each is one atomic script per (limit, key); the answers come back later. So both calls are
// continuation-passing: the store calls `done(batch)` when it has filled the batch in, synchronously (the
// memory store: no Promise nor closure on the request path) or later (Redis), exactly once either way.
// The engine never reuses a batch before its commit's `done` (docs/decisions.md, "A CounterStore that can
// answer later").
import type { LimitConfig } from "../model/limit.ts";
import { refuses } from "../policy/verdict.ts";
import type { SenderCounter } from "../policy/sender-counter.ts";
import type { SenderDetail, SenderRow } from "../policy/sender-report.ts";

/**
 * One (limit, key) a request counts under. The engine writes the first group before check and `counted`
 * before commit; the store writes the rest. Probes are reused from request to request: every field is
 * written each time.
 */
export interface Probe {
  // --- the engine, before check
  limit: LimitConfig;
  /** The key; the store may replace it with OVERFLOW_KEY (memory store, max_keys) at check or commit. */
  key: string;
  /** What the request adds: 1, or the message's recipient count (per = recipient at DATA). */
  cost: number;
  /** per = message at RCPT: the message (Postfix `instance`); its other recipients add nothing. */
  instance: string | undefined;

  // --- the store, at check and again at commit (from the counter as it is then)
  /** What the request adds to this counter: `cost`, or 0 when `instance` is the message counted last. */
  charge: number;
  /** The level with `charge` added, the counter brought to the time of the call (policy/rate.ts). */
  level: number;
  /** level > capacity(limit): the request is over this limit. */
  over: boolean;
  /** The key had no counter at check (it is created at commit, if the request counts). */
  isNew: boolean;

  // --- the engine, before commit
  /** Whether the request counts: always for mode = strict, for leaky only when the verdict lets it through. */
  counted: boolean;

  // --- the store, at commit
  /**
   * True when this commit passed the limit: over, and the counter had not alerted in its current period.
   * The store has then marked the counter (alert pending when limit.alert, else sent), atomically with
   * the commit, so that of several hosts sharing a store only one alerts.
   */
  crossed: boolean;
  /** When crossed: what the limit holds for the key, wholeCount(level), less `charge` when not counted. */
  count: number;
  /** The counter after the commit (an alert lists its window, subjects and client IPs); a copy may do. */
  counter: SenderCounter | undefined;

  // --- the store's own, between check and commit; the engine never reads them
  ref: unknown;
  mark: number;
}

/** The probes of one request, and what its commit records. Owned by the engine; see Probe. */
/** A probe with every field present (one object shape for all), for `limit` and `key`. */
export function newProbe(limit: LimitConfig, key: string): Probe {
  return {
    limit,
    key,
    cost: 0,
    instance: undefined,
    charge: 0,
    level: 0,
    over: false,
    isNew: false,
    counted: false,
    crossed: false,
    count: 0,
    counter: undefined,
    ref: undefined,
    mark: 0,
  };
}

export interface ProbeBatch {
  probes: Probe[];
  /** How many of `probes` this request uses (the array is reused and may be longer). */
  size: number;
  /** The time of the check (ms). */
  at: number;
  /** Sightings the commit records on every counted or existing counter (alerts list them). */
  subject: string | undefined;
  clientAddress: string | undefined;
  /** How many probes the commit marked `crossed` (the store sets it). */
  crossings: number;
  /**
   * The store could not answer (Redis away with [redis] fallback = open or closed): set at check, the
   * limits answer as a failed concern and nothing is committed; the engine clears it.
   */
  failed: boolean;
  /** Answered before the store's answer (CounterStore.answersAhead): the store's answer only counts. */
  ahead: boolean;
}

/** An empty batch, every field present (one object shape for all). */
export const newBatch = (): ProbeBatch => ({
  probes: [],
  size: 0,
  at: 0,
  subject: undefined,
  clientAddress: undefined,
  crossings: 0,
  failed: false,
  ahead: false,
});

export type BatchDone = (batch: ProbeBatch) => void;

/** The request's own verdict refuses it when a probe is over a limit that defers or rejects. */
export const refusesWhenOver = (probe: Probe): boolean => probe.over && refuses(probe.limit.action);

/** What a probe counts on the final verdict: everything when not refused, a strict limit always. */
export const countsOnVerdict = (probe: Probe, refused: boolean): boolean =>
  !refused || probe.limit.mode === "strict";

/**
 * Counters per (limit, key). Semantics the engine relies on, for every implementation:
 * - `check(batch, done)`: for each probe, find the counter of (limit, key) (none: a new one, not stored),
 *   bring it to `batch.at` (rollCounter), work out `charge`, `level` and `over` and set `isNew`. Writes
 *   nothing a later request could see (the memory store may evict another key to make room). Then
 *   `done(batch)`.
 * - `commit(batch, at, done)`: for each probe, look the (limit, key) up AGAIN (other requests may have
 *   been counted since the check, seconds ago: a key new at check may exist now — count into it, never
 *   overwrite it; a key gone since — create it again), bring it to `at`, and work out charge, level and
 *   over once more. When `counted`: add `charge` at time `at` and set `instance`. Either way note `at` as
 *   the key's latest request and record the batch's sightings — except for a new key not counted, which
 *   is not stored at all. Then set `crossed` (and, when crossed, `count` and `counter`) and the batch's
 *   `crossings`, and call `done(batch)`.
 * - `checkAndCommit(batch, done)` (optional): both at once, atomically, when the limits are the only
 *   concern and so the request's own verdict decides what counts: check every probe, then commit each with
 *   `counted` = the request is not refused (no probe over a limit that refuses, policy/verdict.ts) or the
 *   limit is strict, and set `counted` as it did. The batch's sightings are set before the call. A store
 *   without it gets `check` then `commit` (the Redis store has it: one script call instead of two).
 * - The other calls answer the control plane and the actor's timers; those with a reply may answer later.
 */
export interface CounterStore {
  /** The limits of the config, in order; tables of limits no longer there are dropped. */
  configure(limits: readonly LimitConfig[], maxKeys: number): void;
  check(batch: ProbeBatch, done: BatchDone): void;
  commit(batch: ProbeBatch, at: number, done: BatchDone): void;
  checkAndCommit?(batch: ProbeBatch, done: BatchDone): void;
  /**
   * Optional (the Redis store with [redis] answer_ahead): whether the request may be accepted before the
   * store answers (limits/ahead-levels.ts says when). True: the store has set `batch.ahead`; the caller
   * accepts the request at once and still calls checkAndCommit, whose answer then only counts (crossings,
   * alerts, sightings).
   */
  answersAhead?(batch: ProbeBatch): boolean;
  /** A subject seen at DATA for a limit counted at another stage: noted on the key's counter if it has one. */
  recordSubject(limit: LimitConfig, key: string, subject: string): void;
  /**
   * The alert with this window start is done with: no other in that window. `delivered`: its mail went out;
   * false when it was parked, dropped or only logged (ALERT_UNSENT).
   */
  alertSettled(limitName: string, key: string, firstSeen: number, delivered: boolean): void;
  /** Drops counters whose window has ended (the memory store's wheel; Redis expires keys itself). */
  expire(at: number): void;
  /**
   * The top `top` keys by current count, over every limit or `rule`'s; undefined when dropped. null, here
   * and in show and reset: the shared counters (Redis) did not answer, which is not "no counter".
   */
  top(top: number, rule: string | undefined, reply: (rows: SenderRow[] | undefined | null) => void): void;
  /** The key under every limit that holds it. */
  show(key: string, reply: (rows: SenderDetail[] | null) => void): void;
  /** Forgets the key under every limit; replies with how many limits held it. */
  reset(key: string, reply: (removed: number | null) => void): void;
}
