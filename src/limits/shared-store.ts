// The counters of a site with several MX hosts ([redis], docs/redis.md): the Redis store
// (limits/redis-store.ts) while Redis answers, and this host's memory store (limits/memory-store.ts) as the
// fallback. Redis failing a check or commit (an error, the command timeout) starts an incident: logged
// once, and until Redis answers a PING again (every [redis] retry_every) no request goes to Redis. Then
// `fallback` answers: `local` counts in memory, `open`/`closed` make the limits a failed concern (the
// engine answers accept or defer). When Redis is back, the counters counted here are added into Redis
// and dropped here: the same merge as the upgrade from the memory store (`mergeLocal`).
import type { Redis } from "ioredis";
import type { RedisConfig } from "../config/types.ts";
import type { Logger } from "../log.ts";
import type { LimitConfig } from "../model/limit.ts";
import { countedSince } from "../policy/restored-counter.ts";
import type { SenderCounter } from "../policy/sender-counter.ts";
import {
  type BatchDone,
  type CounterStore,
  countsOnVerdict,
  type ProbeBatch,
  refusesWhenOver,
} from "./counter-store.ts";
import type { ExportedCounters } from "./exported-counters.ts";
import type { MemoryStore } from "./memory-store.ts";
import { createMergesInDoubt, type MergeInDoubt, type MergesInDoubt } from "./merges-in-doubt.ts";
import { createRedisStore, type Phase, type RedisStore, type RedisStoreStats } from "./redis-store.ts";
import { redisTlsRemedy } from "./redis-tls-remedy.ts";

/** What /health, /status and /metrics show of Redis. */
export interface RedisHealth {
  state: "up" | "down";
  /** When the current state began (ms). */
  since: number;
  fallback: RedisConfig["fallback"];
  incidents: number;
  /** Checks answered by the fallback (locally, or as a failed concern). */
  fallbackChecks: number;
  /** Counters added into Redis from this host after an incident or at the upgrade. */
  merged: number;
  lastError?: string;
  store: RedisStoreStats;
}

export interface SharedStore extends CounterStore {
  health(): RedisHealth;
  /**
   * Adds every counter the memory store holds into Redis and drops it there (counted while Redis was away,
   * or restored from the state file of the memory store's days); resolves with how many.
   */
  mergeLocal(): Promise<number>;
  /**
   * Resolves when no mergeLocal is under way: a store replacing this one merges after it, so that what this
   * one's merge gives back to the memory store (it failed, or was cut short by close) is merged there.
   */
  mergesSettled(): Promise<void>;
  /** Every shared counter into the memory store (switching back to memory); resolves with how many. */
  exportToLocal(): Promise<number>;
  /**
   * A move to another Redis (server, database or prefix): every shared counter is written into `target`
   * where it has none. Not added: every host moves the same shared set, and adding would count it once per
   * host. Resolves with how many were written.
   */
  moveTo(target: SharedStore): Promise<number>;
  /** A counter from another Redis, written only where this one has none; false when it had one. */
  adoptIfAbsent(limit: string, key: string, counter: SenderCounter): Promise<boolean>;
  /** The alerts settled while Redis was away and not yet marked sent there: for a store replacing this one. */
  settledWhileDown(): SettledMark[];
  close(): void;
}

/** An alert settled while Redis was away, as alertSettled names it: its limit, key, window start, fate. */
export type SettledMark = [limitName: string, key: string, firstSeen: number, delivered: boolean];

export interface SharedStoreOptions {
  client: Redis;
  config: RedisConfig;
  local: MemoryStore;
  /** The shared counters this host copied into memory when it last left Redis (exported-counters.ts). */
  exported: ExportedCounters;
  /** Copies were made or used up: the owner keeps them on disk. */
  exportedChanged?: () => void;
  log: Logger;
  now: () => number;
  /** Something changed that the next snapshot must hold (the memory store emptied after a merge). */
  changed: () => void;
  /**
   * What the store this one replaces had of settledWhileDown: a reload that changes only how the same
   * counters are reached (actors/counters-redis.ts). Else "pending" stayed in Redis, the marks gone with it.
   */
  settledWhileDown?: readonly SettledMark[];
  /**
   * The merge calls whose outcome is not known (merges-in-doubt.ts): shared by the stores of the same
   * counters (a reload that changes only how they are reached), so that the next one's merge settles what
   * the one before left in doubt. Absent: a book of this store's own.
   */
  mergesInDoubt?: MergesInDoubt;
}

// Counters merged at once: each is a script call; a bounded batch keeps Redis's queue and memory small.
const MERGE_SLICE = 256;

/**
 * Alerts delivered while Redis is away, marked sent in Redis once it is back (docs/redis.md): without it
 * Redis's counter kept saying "pending" for the rest of its window. Bounded: beyond it the oldest is
 * dropped, and only what `show` says of it is wrong (the outbox, not that mark, sends alerts).
 */
export const SETTLED_WHILE_DOWN = 1000;

/** How many distinct causes one incident logs (stillDown); the newest is always shown. */
const INCIDENT_CAUSES_LOGGED = 16;

const messageOf = (error: unknown) => String(error instanceof Error ? error.message : error);

/** An answer of Redis's (ioredis's ReplyError), not the client's own (a timeout, a closed connection). */
const isReplyError = (error: unknown) => error instanceof Error && error.name === "ReplyError";

/**
 * What kind of failure `error` is, for logging each once: a system error's code (ECONNREFUSED), else the
 * error code Redis's answer begins with (WRONGPASS, READONLY), else the message.
 */
export function incidentCause(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === "string") return code;
  const message = messageOf(error);
  return /^[A-Z][A-Z_]+\b/.exec(message)?.[0] ?? message;
}

export function createSharedStore(options: SharedStoreOptions): SharedStore {
  const { client, config, local, exported, log, now } = options;
  const inDoubt = options.mergesInDoubt ?? createMergesInDoubt();
  let limits: readonly LimitConfig[] = [];
  let maxKeys = 0;
  let down = false;
  let merging = 0; // mergeLocal calls under way
  let closed = false;
  let retry: ReturnType<typeof setInterval> | undefined;
  const settledWhileDown = new Map<string, SettledMark>();
  const keepSettled = (mark: SettledMark) => {
    const id = `${mark[0]}\0${mark[1]}`;
    settledWhileDown.delete(id); // a later window's alert replaces an earlier one's, and is the newest
    settledWhileDown.set(id, mark);
    if (settledWhileDown.size > SETTLED_WHILE_DOWN) {
      settledWhileDown.delete(settledWhileDown.keys().next().value!);
    }
  };
  const sendSettled = () => {
    for (const settled of settledWhileDown.values()) redis.alertSettled(...settled);
    settledWhileDown.clear();
  };
  for (const mark of options.settledWhileDown ?? []) keepSettled(mark);
  const health = {
    since: now(),
    incidents: 0,
    fallbackChecks: 0,
    merged: 0,
    lastError: undefined as string | undefined,
  };

  const failed = (batch: ProbeBatch, done: BatchDone) => {
    for (let i = 0; i < batch.size; i++) batch.probes[i].crossed = false;
    batch.crossings = 0;
    batch.failed = true;
    done(batch);
  };

  /** The fallback's answer to a check, a commit or both (hit) Redis is not asked about. */
  const fallBack = (batch: ProbeBatch, phase: Phase, done: BatchDone) => {
    if (phase !== "commit") health.fallbackChecks++;
    if (config.fallback === "local") {
      if (phase === "hit") return local.check(batch, (checked) => commitOwnVerdict(checked, done));
      return phase === "check" ? local.check(batch, done) : local.commit(batch, now(), done);
    }
    if (phase !== "commit") return failed(batch, done);
    // A commit Redis lost, with no local counting: nothing is counted; the verdict already went out.
    for (let i = 0; i < batch.size; i++) batch.probes[i].crossed = false;
    batch.crossings = 0;
    done(batch);
  };

  /** checkAndCommit's rule (counter-store.ts) over the memory store's check: commits what it counts. */
  const commitOwnVerdict = (batch: ProbeBatch, done: BatchDone) => {
    let refused = false;
    for (let i = 0; i < batch.size; i++) if (refusesWhenOver(batch.probes[i])) refused = true;
    for (let i = 0; i < batch.size; i++) batch.probes[i].counted = countsOnVerdict(batch.probes[i], refused);
    local.commit(batch, now(), done);
  };

  /** While the merge after a retry's probe runs: when the incident it is to end began. */
  let resuming: number | undefined;

  // The causes an incident has logged (incidentCause). Redis may go on failing for another reason than
  // the one that began it: refused while it restarted, then WRONGPASS (restarted with another password)
  // or READONLY (back as a replica, after a failover). /health and `status` said the first for as long
  // as the incident lasted ("connect ECONNREFUSED" of a Redis that runs and refuses the password), and
  // the later ones were in debug lines only. Bounded: a cause past the 16th is shown, not logged.
  const causesLogged = new Set<string>();
  // What Redis answered (READONLY, LOADING, WRONGPASS…), a system error (refused, reset, TLS), or a
  // timeout on an open connection (a hung Redis) says why. The client's own errors do not: a command
  // that timed out in its queue while the connection was being made, the requests it gives up at a
  // reconnection ("Reached the max retries per request limit"), a closed connection.
  const tellsWhy = (error: unknown) =>
    isReplyError(error) || typeof (error as { code?: unknown } | undefined)?.code === "string" ||
    (client.status === "ready" && /timed out/i.test(messageOf(error)));
  const stillDown = (error: unknown) => {
    if (!tellsWhy(error)) return;
    health.lastError = messageOf(error);
    const cause = incidentCause(error);
    if (causesLogged.has(cause) || causesLogged.size >= INCIDENT_CAUSES_LOGGED) return;
    causesLogged.add(cause);
    log.warn("redis", "Redis still unavailable, for another reason", {
      fallback: config.fallback,
      error: health.lastError,
      remedy: redisTlsRemedy(error, config.tlsCaFile),
    });
  };

  const startIncident = (error: unknown) => {
    if (closed) return;
    if (down) return stillDown(error);
    down = true;
    health.lastError = messageOf(error);
    retry = setInterval(tryAgain, config.retryEveryMs);
    // Redis failing between the probe and the merge's end (the merge, a request) is the same outage: an
    // incident each time made one per retry while Redis answered the probe but not the merge (a key it
    // refuses, a Redis that goes again), logged and counted each time.
    if (resuming !== undefined) {
      health.since = resuming;
      log.debug("redis", "Redis failed again before the local counts were merged: still unavailable", {
        error: health.lastError,
      });
      return;
    }
    health.incidents++;
    health.since = now();
    causesLogged.clear();
    causesLogged.add(incidentCause(error));
    log.warn("redis", "Redis unavailable: the fallback answers until it is back", {
      fallback: config.fallback,
      error: health.lastError,
      remedy: redisTlsRemedy(error, config.tlsCaFile),
    });
  };

  let trying = false;
  // Not a PING: Redis answers it while every script fails (OOM, NOPERM), and each retry then ended the
  // incident, the next request started another (logged again) and the local counts were merged away
  // before they reached the limit. The probe is a script call that writes, as a request's.
  const tryAgain = () => {
    if (trying || closed) return;
    trying = true;
    redis.probe().then(
      () => {
        if (closed) return; // replaced by a reload: the store after it merges what is here
        clearInterval(retry);
        retry = undefined;
        resuming = health.since;
        down = false;
        health.since = now();
        mergeLocal().then(
          (merged) => {
            log.info("redis", "Redis is back: shared counting again", { mergedFromLocal: merged });
            sendSettled();
          },
          (error) => startIncident(error),
        ).finally(() => resuming = undefined);
      },
      (error) => {
        // What Redis answered the retry (READONLY, LOADING, OOM…) is why it is still away (tellsWhy).
        if (down && !closed) stillDown(error);
        // A hung Redis (the connection open, nothing answered): ioredis keeps each command it wrote until
        // its reply comes, a timed-out one too, so every retry stayed in memory for as long as the hang
        // lasted. A new connection lets them go (rejected at once) and is the one the next retry uses.
        if (/timed out/i.test(String((error as Error)?.message)) && !closed) client.disconnect(true);
      },
    ).finally(() => trying = false);
  };

  // The connection failing (refused, reset, a wrong password or user) is an incident too, with or without a
  // request: else /health and `status` said `redis: up` until the next mail, also right after a reload that
  // named a Redis this host cannot reach or log in to.
  client.on("error", startIncident);

  const redis: RedisStore = createRedisStore({
    client,
    prefix: config.prefix,
    log,
    overCacheMs: config.overCacheMs,
    answerAhead: config.answerAhead,
    lateAfterMs: config.timeoutMs,
    unavailable(batch, phase, error, done) {
      startIncident(error);
      fallBack(batch, phase, done);
    },
  });

  // The counters a merge has taken out of the memory store and not yet sent to Redis, and the requests
  // naming one of them, held until it is sent. Redis answered such a request from its count without this
  // host's (the merge's slices go one after the other): a sender at its limit here was let through once
  // more for every request until its slice went. Sent when the slice is written, they reach Redis after
  // it on the same connection; when the merge fails, once the counters are back here (the fallback).
  const waiting = new Set<string>();
  const urgent = new Set<string>(); // of those, the ones a held request names: merged first
  let held: (() => void)[] = [];
  const counterId = (limit: string, key: string) => `${limit}\0${key}`;
  const waits = (batch: ProbeBatch) => {
    if (waiting.size === 0) return false;
    let waits = false;
    for (let i = 0; i < batch.size; i++) {
      const probe = batch.probes[i];
      const id = counterId(probe.limit.name, probe.key);
      if (!waiting.has(id)) continue;
      waits = true;
      urgent.add(id);
    }
    return waits;
  };
  const release = () => {
    const going = held;
    held = [];
    for (const send of going) send();
  };

  /** Takes the memory store's counters out (the live tables are replaced by empty ones). */
  const takeLocal = (): [LimitConfig, string, SenderCounter][] => {
    const taken: [LimitConfig, string, SenderCounter][] = [];
    const tables = local.snapshotTables();
    for (const limit of limits) {
      for (const [key, counter] of tables.get(limit.name) ?? []) taken.push([limit, key, counter]);
    }
    if (taken.length > 0) {
      local.configure([], maxKeys);
      local.configure(limits, maxKeys);
      options.changed();
    }
    return taken;
  };

  /**
   * Sends every merge call in doubt again, as it was, a slice at a time: Redis adds it now, or had (its
   * token), and either way then holds the counter the call was made of. Resolves with the calls settled so
   * and the first failure; those not settled stay in doubt.
   */
  const settleDoubts = async (): Promise<{ settled: MergeInDoubt[]; failure: unknown }> => {
    const doubts = inDoubt.takeAll();
    const settled: MergeInDoubt[] = [];
    let failure: unknown;
    let ranBefore = 0;
    for (let at = 0; at < doubts.length; at += MERGE_SLICE) {
      const slice = doubts.slice(at, at + MERGE_SLICE);
      if (failure !== undefined) {
        for (const doubt of slice) {
          inDoubt.doubt(doubt.limit, doubt.key, doubt.sent, doubt.token, doubt.taken);
        }
        continue;
      }
      const results = await Promise.allSettled(slice.map(async (doubt) => {
        const limit = limits.find((candidate) => candidate.name === doubt.limit);
        // A limit a reload took out meanwhile: its counters are no one's any more.
        return limit !== undefined && await redis.addLocal(limit, doubt.key, doubt.sent, doubt.token);
      }));
      results.forEach((result, i) => {
        const doubt = slice[i];
        if (result.status === "rejected") {
          inDoubt.doubt(doubt.limit, doubt.key, doubt.sent, doubt.token, doubt.taken);
          failure ??= result.reason;
          return;
        }
        if (result.value) ranBefore++;
        settled.push(doubt);
      });
    }
    if (doubts.length > 0) {
      log.info("redis", "merge calls whose answer was lost: sent again, each added once", {
        calls: doubts.length,
        ranBefore,
        failed: failure === undefined ? undefined : messageOf(failure),
      });
    }
    return { settled, failure };
  };

  /**
   * Adds the memory store's counters into Redis, a slice at a time. Only those whose merge failed go back
   * to the memory store, to be merged at the next try: putting back a merged one would add it twice. A
   * failed call may have run in Redis all the same (its answer lost with the connection, or read after the
   * client's timeout): it is kept in doubt with its token (merges-in-doubt.ts) and sent again first at the
   * next merge, which Redis adds once whichever it was; then what was counted here since.
   */
  const mergeLocal = (): Promise<number> => {
    // The levels the answers ahead know lack what is merged (the memory store's counts of an incident may
    // have reached the limit, the level known from before it had not): nothing goes ahead meanwhile, and
    // those keys and the merged ones wait for Redis's next answer after.
    merging++;
    let taken: [LimitConfig, string, SenderCounter][] = [];
    const merge = mergeTaken((took) => taken = took).finally(() => {
      merging--;
      for (const [limit, key] of taken) {
        waiting.delete(counterId(limit.name, key));
        urgent.delete(counterId(limit.name, key));
      }
      release();
      redis.aheadStale(taken);
    });
    const before = mergesDone;
    mergesDone = merge.then(() => before, () => before);
    return merge;
  };
  let mergesDone: Promise<void> = Promise.resolve();
  const mergeTaken = async (
    took: (taken: [LimitConfig, string, SenderCounter][]) => void,
  ): Promise<number> => {
    exported.expire(limits, now());
    inDoubt.expire(limits, now());
    const taken = takeLocal();
    took(taken);
    const unsent = new Map<string, [LimitConfig, string, SenderCounter]>();
    for (const entry of taken) {
      const id = counterId(entry[0].name, entry[1]);
      waiting.add(id);
      unsent.set(id, entry);
    }
    const failed: typeof taken = [];
    let merged = 0;
    // The calls in doubt first: Redis then holds the counter each was made of, and the counter here is
    // merged after with only what it counted since.
    const { settled, failure: doubtsFailed } = await settleDoubts();
    let failure = doubtsFailed;
    for (const doubt of settled) {
      // (None here: nothing to subtract from, and a copy would be subtracted from the key's next counter.)
      if (unsent.has(counterId(doubt.limit, doubt.key))) {
        exported.remember(doubt.limit, doubt.key, doubt.taken);
      }
    }
    while (unsent.size > 0) {
      // The counters requests are held for first, so that none waits for the slices before its own.
      const slice: typeof taken = [];
      for (const id of urgent) {
        if (slice.length >= MERGE_SLICE) break;
        const entry = unsent.get(id);
        if (entry === undefined) continue;
        slice.push(entry);
        unsent.delete(id);
        urgent.delete(id);
      }
      for (const [id, entry] of unsent) {
        if (slice.length >= MERGE_SLICE) break;
        slice.push(entry);
        unsent.delete(id);
      }
      if (failure !== undefined) { // Redis failed: the rest is not sent
        failed.push(...slice);
        continue;
      }
      const mergedAt = now();
      const sent = slice.map(([limit, key, counter]) => exported.toMerge(limit, key, counter, mergedAt));
      const tokens = slice.map(() => inDoubt.nextToken());
      const calls = slice.map(([limit, key], i) => redis.addLocal(limit, key, sent[i], tokens[i]));
      // Sent (or queued behind the clock's TIME, as the requests would be): the requests held for these
      // counters go after them.
      for (const [limit, key] of slice) waiting.delete(counterId(limit.name, key));
      release();
      const results = await Promise.allSettled(calls);
      results.forEach((result, i) => {
        const [limit, key, counter] = slice[i];
        if (result.status === "fulfilled") {
          merged++;
          exported.merged(limit.name, key);
        } else {
          inDoubt.doubt(limit.name, key, sent[i], tokens[i], counter);
          failed.push(slice[i]);
          failure ??= result.reason;
        }
      });
    }
    health.merged += merged;
    options.exportedChanged?.();
    if (failure === undefined) return merged;
    for (const [limit, key, counter] of failed) local.adopt(limit.name, key, counter);
    options.changed();
    // An incident: the memory store answers (it holds these counts) and the retry merges them when Redis
    // answers, even if no request fails meanwhile (else Redis would count these keys from zero).
    startIncident(failure);
    throw failure; // mergeLocal releases the requests held for the counters back here, to the fallback
  };

  // Marks handed over by a reload: Redis may be away still, and a new store is "up" until something fails
  // (with no request, nothing did, and the marks waited for good). Sent once a probe says Redis answers;
  // else that failure is the incident, whose end sends them (tryAgain).
  if (settledWhileDown.size > 0) {
    redis.probe().then(() => {
      if (!down) sendSettled();
    }, startIncident);
  }

  function check(batch: ProbeBatch, done: BatchDone): void {
    if (down) return fallBack(batch, "check", done);
    if (waits(batch)) return void held.push(() => check(batch, done));
    redis.check(batch, done);
  }
  function commit(batch: ProbeBatch, at: number, done: BatchDone): void {
    if (down) return fallBack(batch, "commit", done);
    if (waits(batch)) return void held.push(() => commit(batch, at, done));
    redis.commit(batch, at, done);
  }
  function checkAndCommit(batch: ProbeBatch, done: BatchDone): void {
    if (down) return fallBack(batch, "hit", done);
    if (waits(batch)) return void held.push(() => checkAndCommit(batch, done));
    redis.checkAndCommit(batch, done);
  }

  return {
    configure(next, nextMaxKeys) {
      limits = next;
      maxKeys = nextMaxKeys;
      redis.configure(next, nextMaxKeys);
      local.configure(next, nextMaxKeys);
    },
    check,
    commit,
    answersAhead: (batch) => !down && merging === 0 && redis.answersAhead(batch),
    checkAndCommit,
    recordSubject(limit, key, subject) {
      if (down) local.recordSubject(limit, key, subject);
      else redis.recordSubject(limit, key, subject);
    },
    alertSettled(limitName, key, firstSeen, delivered) {
      local.alertSettled(limitName, key, firstSeen, delivered);
      if (!down) return redis.alertSettled(limitName, key, firstSeen, delivered);
      keepSettled([limitName, key, firstSeen, delivered]);
    },
    expire(at) {
      local.expire(at);
      if (!down) redis.expire(at); // the local cache's counts for Redis wait while it is away
    },
    top: (count, rule, reply) => (down ? local : redis).top(count, rule, reply),
    show: (key, reply) => (down ? local : redis).show(key, reply),
    // During an incident show and top answer from this host's own counts (what it counted meanwhile), but
    // a reset there would leave Redis's counter, which blocks the sender again once Redis is back: this
    // host's part is reset, and the answer is null, "Redis did not answer", for the admin to reset again.
    // A counter of the key still waiting for the merge: the DEL goes after it (else the merge wrote it
    // back, and the sender stayed blocked after a reset that said it had been done).
    // The key's merge calls in doubt go with this host's part: what they carried was counted before the
    // reset (Redis holds it or not; if it does, the reset that reaches Redis ends it).
    reset(key, reply) {
      inDoubt.forgetKey(key);
      local.reset(key, (localRemoved) => {
        const send = () => {
          if (down) return reply(null);
          const ids = limits.map((limit) => counterId(limit.name, key)).filter((id) => waiting.has(id));
          if (ids.length > 0) {
            for (const id of ids) urgent.add(id);
            return void held.push(send);
          }
          redis.reset(
            key,
            (removed) => reply(removed === null ? null : Math.max(removed, localRemoved ?? 0)),
          );
        };
        send();
      });
    },
    health: () => ({
      state: down ? "down" : "up",
      since: health.since,
      fallback: config.fallback,
      incidents: health.incidents,
      fallbackChecks: health.fallbackChecks,
      merged: health.merged,
      lastError: health.lastError,
      store: redis.stats(),
    }),
    mergeLocal,
    mergesSettled: () => mergesDone,
    async exportToLocal() {
      // A call in doubt went back here with its counter and may have put it into Redis too: copied here,
      // that counter came twice. Sent again first, Redis surely holds it, and only what Redis holds beyond it
      // is added to the counter here. Not sent: Redis may hold it or not, so nothing is copied.
      const { settled, failure } = await settleDoubts();
      if (failure !== undefined) throw failure;
      const alsoHere = new Map(settled.map((doubt) => [counterId(doubt.limit, doubt.key), doubt.taken]));
      return await redis.exportCounters((limit, key, counter) => {
        exported.remember(limit, key, counter); // before adopt, which may roll it into a live counter
        const taken = alsoHere.get(counterId(limit, key));
        const rule = limits.find((candidate) => candidate.name === limit);
        const added = taken && rule ? countedSince(counter, taken, rule, now()) : counter;
        if (!local.adopt(limit, key, added)) exported.merged(limit, key);
      }).finally(() => options.exportedChanged?.());
    },
    async moveTo(target) {
      // A call in doubt went back here with its counter and may be in this Redis too, moved with the rest,
      // then added again by the merge into the target. Sent again first, this Redis surely holds it, and
      // the merge after the move adds the counter here with only what it counted since (as this store's
      // next merge would). Not sent: nothing is moved, and the merge adds the counter here whole.
      const { settled, failure } = await settleDoubts();
      if (failure !== undefined) throw failure;
      const tables = local.snapshotTables();
      for (const doubt of settled) {
        if (tables.get(doubt.limit)?.has(doubt.key)) exported.remember(doubt.limit, doubt.key, doubt.taken);
      }
      options.exportedChanged?.();
      const found: [string, string, SenderCounter][] = [];
      await redis.exportCounters((limit, key, counter) => found.push([limit, key, counter]));
      // A slice at a time, as the merge: all at once put 1e5 calls in flight and the answers meanwhile
      // over the timeout.
      let written = 0;
      for (let at = 0; at < found.length; at += MERGE_SLICE) {
        const slice = found.slice(at, at + MERGE_SLICE);
        const results = await Promise.all(
          slice.map(([limit, key, counter]) => target.adoptIfAbsent(limit, key, counter)),
        );
        written += results.filter(Boolean).length;
      }
      return written;
    },
    async adoptIfAbsent(limitName, key, counter) {
      const limit = limits.find((candidate) => candidate.name === limitName);
      return limit !== undefined && await redis.adoptIfAbsent(limit, key, counter);
    },
    settledWhileDown: () => [...settledWhileDown.values()],
    close() {
      closed = true;
      clearInterval(retry);
      redis.close();
    },
  };
}
