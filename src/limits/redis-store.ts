// The CounterStore (limits/counter-store.ts) over Redis, shared by several MX hosts (issue 21): each
// (limit, key) is one hash (limits/redis-keys.ts), checked and committed by one atomic Lua script each
// (limits/redis-scripts.ts) on Redis's clock. A batch's probes go out in one pipeline: one round trip per
// check and one per commit, whatever the number of limits. Keys over a leaky refusing limit are answered
// locally for a while (limits/over-cache.ts). Redis failing (error, the client's command timeout) hands
// the batch to `unavailable` instead of `done`; the caller answers it (local counting or fail-closed).
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import type { Logger } from "../log.ts";
import type { Metrics } from "../control/metrics.ts";
import type { LimitConfig } from "../model/limit.ts";
import { wholeCount } from "../policy/rate.ts";
import { outranks } from "../policy/verdict.ts";
import type { SenderCounter } from "../policy/sender-counter.ts";
import type { BatchDone, CounterStore, Probe, ProbeBatch } from "./counter-store.ts";
import { createOverCache, decidedWithout } from "./over-cache.ts";
import { createOutbox, type Replies } from "./redis-outbox.ts";
import { counterArgs, counterFromReply, limitArgs } from "./redis-counter.ts";
import { checkPrefix, counterKey } from "./redis-keys.ts";
import { createRedisAdmin } from "./redis-admin.ts";
import {
  CHECK_SCRIPT,
  COMMIT_SCRIPT,
  MERGE_SCRIPT,
  SETTLED_SCRIPT,
  SUBJECT_SCRIPT,
} from "./redis-scripts.ts";
import { createRedisTop } from "./redis-top.ts";

const CACHE_MAX_ENTRIES = 10_000;

export interface RedisStoreOptions {
  /** ioredis, connected by the caller (it sets commandTimeout, auth, db, tls). */
  client: Redis;
  /** Put before every key, e.g. "mpd:"; no braces (the hash tag is the counter's). */
  prefix: string;
  log: Logger;
  metrics?: Metrics;
  /** How long a key found over a leaky refusing limit is answered locally (0: never). */
  overCacheMs: number;
  /** The local cache's bound (default 10 000 keys, the oldest out first). */
  overCacheEntries?: number;
  /**
   * A check or commit Redis could not answer (error, timeout): called INSTEAD of done; the caller
   * answers it (local counting or fail-closed) and calls done itself.
   */
  unavailable(batch: ProbeBatch, phase: "check" | "commit", error: unknown, done: BatchDone): void;
  /** Tests only: this time (ms) instead of Redis's TIME, to compare with the memory store. */
  clock?: () => number;
  /** The local cache's clock (default Date.now; it is this host's own business). */
  localNow?: () => number;
}

export interface RedisStoreStats {
  /** Pipelines and commands sent: the round trips to Redis. */
  roundTrips: number;
  /** Checks and commits sent to Redis (several share a round trip when answered in one turn). */
  batches: number;
  /** Probes answered from the local cache (no script run for them). */
  cacheHits: number;
  cacheEntries: number;
  /** Checks and commits handed to `unavailable`. */
  unavailable: number;
}

export interface RedisStore extends CounterStore {
  close(): void;
  /** Upgrade path: create (limit,key) from a local counter only if Redis has none; true if created. */
  adoptIfAbsent(limit: LimitConfig, key: string, counter: SenderCounter): Promise<boolean>;
  /** Upgrade path back: every counter of the configured limits, read with SCAN in slices. */
  exportCounters(visit: (limit: string, key: string, counter: SenderCounter) => void): Promise<number>;
  /** Reconciliation after an outage: add a locally counted charge to (limit,key) (never lowers it). */
  addLocal(limit: LimitConfig, key: string, counter: SenderCounter): Promise<void>;
  stats(): RedisStoreStats;
}

/** A probe answered from the local cache at check (Probe.ref). */
const CACHED = Symbol("cached");
const TO_SEND = 1; // Probe.mark: this probe's script has yet to run

/** A leaky probe the cached refusal decides for: not checked, and (refused) not committed either. */
function skip(probe: Probe): void {
  probe.ref = CACHED;
  probe.mark = 0;
  probe.charge = probe.cost;
  probe.level = probe.cost;
  probe.over = false;
  probe.isNew = false;
}

interface Script {
  text: string;
  sha: string;
}
const script = (text: string): Script => ({ text, sha: createHash("sha1").update(text).digest("hex") });
const SCRIPTS = {
  check: script(CHECK_SCRIPT),
  commit: script(COMMIT_SCRIPT),
  subject: script(SUBJECT_SCRIPT),
  settled: script(SETTLED_SCRIPT),
  merge: script(MERGE_SCRIPT),
};

const isNoScript = (error: unknown) => error instanceof Error && error.message.startsWith("NOSCRIPT");
type Pipeline = ReturnType<Redis["pipeline"]>;

export function createRedisStore(options: RedisStoreOptions): RedisStore {
  const { client, prefix, log } = options;
  checkPrefix(prefix);
  const cache = createOverCache(
    options.overCacheMs,
    options.overCacheEntries ?? CACHE_MAX_ENTRIES,
    options.localNow ?? Date.now,
  );
  const stats = { roundTrips: 0, batches: 0, cacheHits: 0, unavailable: 0 };
  let limits: readonly LimitConfig[] = [];
  let closed = false;
  const timeArg = () => options.clock ? String(options.clock()) : "";
  const keyOf = (limit: LimitConfig, key: string) => counterKey(prefix, limit.name, key);

  let loading: Promise<unknown> | undefined;
  const loadScripts = () =>
    loading ??= Promise.all(
      Object.values(SCRIPTS).map((s) => {
        stats.roundTrips++;
        return client.script("LOAD", s.text);
      }),
    ).finally(() => loading = undefined);

  const outbox = createOutbox(client, () => stats.roundTrips++);
  const exec = (pipeline: Pipeline): Promise<Replies> => {
    stats.roundTrips++;
    return pipeline.exec() as Promise<Replies>;
  };

  /** One script call outside the request path, loading the scripts when Redis has lost them. */
  const evalScript = async (s: Script, key: string, args: (string | number)[]): Promise<unknown> => {
    for (let attempt = 0;; attempt++) {
      stats.roundTrips++;
      try {
        return await client.evalsha(s.sha, 1, key, ...args);
      } catch (error) {
        if (!isNoScript(error) || attempt > 0) throw error;
        await loadScripts();
      }
    }
  };

  // Failures of calls nobody waits for (subjects, settled alerts): logged once until one succeeds.
  let quietFailure = false;
  const backgroundFailed = (what: string) => (error: unknown) => {
    if (quietFailure) return;
    quietFailure = true;
    log.warn("redis", `${what} failed`, { error: String(error) });
  };
  const backgroundDone = () => quietFailure = false;

  /**
   * Runs `add` for every probe marked TO_SEND in one pipeline, `fill` for each answer, then `done`; the
   * probes whose script Redis did not have are sent once more after SCRIPT LOAD. Any other error hands
   * the batch to `unavailable`.
   */
  const run = (
    batch: ProbeBatch,
    phase: "check" | "commit",
    add: (pipeline: Pipeline, probe: Probe, batch: ProbeBatch) => void,
    fill: (probe: Probe, reply: unknown[]) => void,
    done: BatchDone,
  ) => {
    stats.batches++;
    const attempt = async (first: boolean): Promise<unknown> => {
      const sent: Probe[] = [];
      const replies = await outbox.send((pipeline) => {
        for (let i = 0; i < batch.size; i++) {
          const probe = batch.probes[i];
          if (probe.mark !== TO_SEND) continue;
          add(pipeline, probe, batch);
          sent.push(probe);
        }
        return sent.length;
      });
      let failure: unknown;
      let retry = false;
      for (let i = 0; i < sent.length; i++) {
        const [error, reply] = replies[i];
        if (error === null) {
          sent[i].mark = 0;
          fill(sent[i], reply as unknown[]);
        } else if (isNoScript(error) && first) retry = true;
        else failure ??= error;
      }
      if (failure !== undefined) return failure;
      if (!retry) return undefined;
      await loadScripts();
      return attempt(false);
    };
    attempt(true).catch((error) => error ?? new Error("redis failed")).then((failure) => {
      if (failure === undefined) return done(batch);
      stats.unavailable++;
      options.unavailable(batch, phase, failure, done);
    }).catch((error) => log.error("redis", `answering a ${phase} failed`, { error: String(error) }));
  };

  // Every probe script's first arguments: the key, the time, the limit, the cost and the instance.
  const probeScript = (pipeline: Pipeline, s: Script, probe: Probe, ...more: (string | number)[]) =>
    pipeline.evalsha(
      s.sha,
      1,
      keyOf(probe.limit, probe.key),
      timeArg(),
      ...limitArgs(probe.limit),
      probe.cost,
      probe.instance ?? "",
      ...more,
    );

  const addCheck = (pipeline: Pipeline, probe: Probe) => probeScript(pipeline, SCRIPTS.check, probe);

  const fillCheck = (probe: Probe, reply: unknown[]) => {
    probe.isNew = reply[0] === 1;
    probe.charge = Number(reply[1]);
    probe.level = Number(reply[2]);
    probe.over = reply[3] === 1;
    probe.counter = undefined;
    if (probe.over && cache.eligible(probe.limit)) cache.remember(probe, reply[4] as string);
  };

  const addCommit = (pipeline: Pipeline, probe: Probe, batch: ProbeBatch) =>
    probeScript(
      pipeline,
      SCRIPTS.commit,
      probe,
      probe.counted ? 1 : 0,
      probe.limit.alert ? 1 : 0,
      batch.subject === undefined ? 0 : 1,
      batch.subject ?? "",
      batch.clientAddress === undefined ? 0 : 1,
      batch.clientAddress ?? "",
    );

  const fillCommit = (probe: Probe, reply: unknown[]) => {
    const crossed = reply[4] === 1;
    probe.charge = Number(reply[1]);
    probe.level = Number(reply[2]);
    probe.over = reply[3] === 1;
    // Only a crossing's counter is read (its alert lists the window and sightings): only it comes back.
    probe.counter = crossed ? counterFromReply(reply, 6, 12) : undefined;
    if (crossed) {
      probe.crossed = true;
      probe.count = wholeCount(probe.counted ? probe.level : probe.level - probe.charge);
    }
  };

  const countCrossings = (batch: ProbeBatch) => {
    batch.crossings = 0;
    for (let i = 0; i < batch.size; i++) if (batch.probes[i].crossed) batch.crossings++;
  };

  // Subjects noted at DATA for limits counted at RCPT: gathered and sent in one pipeline per turn.
  let subjects: { key: string; subject: string }[] = [];
  const flushSubjects = () => {
    const pipeline = client.pipeline();
    for (const { key, subject } of subjects) pipeline.evalsha(SCRIPTS.subject.sha, 1, key, subject);
    subjects = [];
    exec(pipeline).then((replies) => {
      const error = replies.find(([error]) => error !== null)?.[0];
      if (error && isNoScript(error)) loadScripts().catch(() => {});
      if (error) throw error;
      backgroundDone();
    }).catch(backgroundFailed("recording a subject"));
  };

  const redisNow = async (): Promise<number> => {
    if (options.clock) return options.clock();
    stats.roundTrips++;
    const [seconds, micros] = await client.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  };

  const top = createRedisTop({
    client,
    prefix,
    limits: () => limits,
    now: redisNow,
    roundTrip: () => stats.roundTrips++,
    log,
  });

  const admin = createRedisAdmin({
    client,
    prefix,
    limits: () => limits,
    exec,
    now: redisNow,
    scan: top.scan,
  });

  const merge = (limit: LimitConfig, key: string, counter: SenderCounter, mode: "adopt" | "add") =>
    evalScript(SCRIPTS.merge, keyOf(limit, key), [
      timeArg(),
      ...limitArgs(limit),
      mode,
      ...counterArgs(counter),
    ]);

  return {
    configure(next) {
      limits = next; // max_keys is the memory store's: Redis's own maxmemory bounds it (docs)
      cache.clear();
    },

    check(batch, done) {
      batch.crossings = 0;
      // The cached probe that will decide the verdict (a refusal), if any: the strictest, the first of
      // equals, as the engine picks it.
      let decider: Probe | undefined;
      let deciderAt = 0;
      for (let i = 0; i < batch.size; i++) {
        const probe = batch.probes[i];
        probe.counter = undefined;
        probe.ref = undefined;
        probe.mark = TO_SEND;
        if (!cache.eligible(probe.limit) || !cache.answer(probe)) continue;
        probe.ref = CACHED;
        probe.mark = 0;
        stats.cacheHits++;
        if (!decider || outranks(probe.limit.action, decider.limit.action)) [decider, deciderAt] = [probe, i];
      }
      let toSend = 0;
      for (let i = 0; i < batch.size; i++) {
        const probe = batch.probes[i];
        if (probe.mark !== TO_SEND) continue;
        if (decider && decidedWithout(decider, probe, i < deciderAt)) {
          skip(probe);
          continue;
        }
        toSend++;
      }
      if (toSend === 0) return done(batch);
      if (closed) return options.unavailable(batch, "check", new Error("redis store closed"), done);
      run(batch, "check", addCheck, fillCheck, done);
    },

    commit(batch, _at, done) {
      batch.crossings = 0;
      let toSend = 0;
      for (let i = 0; i < batch.size; i++) {
        const probe = batch.probes[i];
        probe.crossed = false;
        // A leaky refusal answered from the cache counts nothing: nothing to write.
        if (probe.ref === CACHED && !probe.counted) {
          probe.mark = 0;
          probe.counter = undefined;
          continue;
        }
        probe.mark = TO_SEND;
        toSend++;
      }
      if (toSend === 0) return done(batch);
      if (closed) return options.unavailable(batch, "commit", new Error("redis store closed"), done);
      run(batch, "commit", addCommit, fillCommit, (filled) => {
        countCrossings(filled);
        done(filled);
      });
    },

    recordSubject(limit, key, subject) {
      if (closed) return;
      if (subjects.length === 0) queueMicrotask(flushSubjects);
      subjects.push({ key: keyOf(limit, key), subject });
    },

    alertSettled(limitName, key, firstSeen) {
      if (closed) return;
      evalScript(SCRIPTS.settled, counterKey(prefix, limitName, key), [firstSeen])
        .then(backgroundDone, backgroundFailed("marking an alert sent"));
    },

    expire() {}, // Redis expires the keys itself (PEXPIRE at every write)

    top: (count, rule, reply) => top.query(count, rule, reply),

    show(key, reply) {
      admin.show(key).then(reply, (error) => {
        log.warn("redis", "show failed", { key, error: String(error) });
        reply([]);
      });
    },

    reset(key, reply) {
      cache.forgetKey(key);
      admin.reset(key).then(reply, (error) => {
        log.warn("redis", "reset failed", { key, error: String(error) });
        reply(0);
      });
    },

    async adoptIfAbsent(limit, key, counter) {
      return await merge(limit, key, counter, "adopt") === 1;
    },

    exportCounters: (visit) => admin.exportCounters(visit),

    async addLocal(limit, key, counter) {
      await merge(limit, key, counter, "add");
    },

    stats: () => ({ ...stats, cacheEntries: cache.size }),

    close() {
      closed = true;
      cache.clear();
    },
  };
}
