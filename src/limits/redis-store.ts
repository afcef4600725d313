// The CounterStore (limits/counter-store.ts) over Redis, shared by several MX hosts (issue 21): each
// (limit, key) is one hash (limits/redis-keys.ts); a request's counters are checked by one atomic Lua
// script call and committed by another (limits/redis-scripts.ts), on Redis's clock: one command per check
// and one per commit, whatever the number of limits. Keys over a leaky refusing limit or a strict one are
// answered locally for a while (limits/over-cache.ts); a strict limit's attempts answered so are carried to
// Redis by the key's next call, or flushed on the store's tick. Redis failing (error, the client's command timeout) hands
// the batch to `unavailable` instead of `done`; the caller answers it (local counting or fail-closed).
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import type { Logger } from "../log.ts";
import type { Metrics } from "../control/metrics.ts";
import type { LimitConfig } from "../model/limit.ts";
import { wholeCount } from "../policy/rate.ts";
import { outranks, refuses } from "../policy/verdict.ts";
import { ALERT_SENT, ALERT_UNSENT, type SenderCounter } from "../policy/sender-counter.ts";
import {
  type BatchDone,
  type CounterStore,
  countsOnVerdict,
  type Probe,
  type ProbeBatch,
  refusesWhenOver,
} from "./counter-store.ts";
import { type Carry, carryWord, createOverCache, decidedWithout } from "./over-cache.ts";
import { createAheadLevels } from "./ahead-levels.ts";
import { type Answered, createOutbox, type Replies } from "./redis-outbox.ts";
import { counterArgs, counterFromReply, limitArgs } from "./redis-counter.ts";
import { type HitCounter, pushHitArgs, readNumbers } from "./redis-hit-args.ts";
import { checkPrefix, counterKey, limitKeysKey, mergeTokenKey } from "./redis-keys.ts";
import { type CounterKinds, counterKinds, kindsCover, learnCounterKinds } from "./redis-counter-kinds.ts";
import { createRedisAdmin, isWrongType } from "./redis-admin.ts";
import {
  CHECK_SCRIPT,
  COMMIT_SCRIPT,
  FLUSH_SCRIPT,
  HIT_SCRIPT,
  MERGE_SCRIPT,
  PROBE_SCRIPT,
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
  /** How long a key found over a leaky refusing or a strict limit is answered locally (0: never). */
  overCacheMs: number;
  /** The local cache's bound (default 10 000 keys, the oldest out first). */
  overCacheEntries?: number;
  /**
   * A check, commit or hit Redis could not answer (error, timeout): called INSTEAD of done; the caller
   * answers it (local counting or fail-closed) and calls done itself.
   */
  unavailable(batch: ProbeBatch, phase: Phase, error: unknown, done: BatchDone): void;
  /**
   * The client's command timeout ([redis] timeout): a commit or hit that Redis runs later than this after
   * it was sent writes nothing (the fallback answered the request meanwhile). 0 or absent: no such guard.
   */
  lateAfterMs?: number;
  /**
   * [redis] answer_ahead: accept requests whose every key is far from its limits before Redis answers
   * (limits/ahead-levels.ts); their hits go to Redis all the same.
   */
  answerAhead?: boolean;
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
  /** Keys whose level is kept for answers ahead ([redis] answer_ahead; bounded by max_keys a limit). */
  aheadKeys: number;
  /** Strict limits' attempts counted in the local cache, then carried to Redis (by a call or the flush). */
  carried: number;
  /** Checks and commits handed to `unavailable`. */
  unavailable: number;
  /** Requests accepted before Redis answered ([redis] answer_ahead), and how many of them it found over. */
  answeredAhead: number;
  aheadOver: number;
}

export interface RedisStore extends CounterStore {
  checkAndCommit(batch: ProbeBatch, done: BatchDone): void;
  answersAhead(batch: ProbeBatch): boolean;
  /**
   * Counts were added into Redis that no answer reported (this host's own, merged after an incident): the
   * keys answers ahead know, and `merged`, wait for Redis until it reports their levels again.
   */
  aheadStale(merged: readonly (readonly [LimitConfig, string, ...unknown[]])[]): void;
  close(): void;
  /** Upgrade path: create (limit,key) from a local counter only if Redis has none; true if created. */
  adoptIfAbsent(limit: LimitConfig, key: string, counter: SenderCounter): Promise<boolean>;
  /** Upgrade path back: every counter of the configured limits, read with SCAN in slices. */
  exportCounters(visit: (limit: string, key: string, counter: SenderCounter) => void): Promise<number>;
  /**
   * Reconciliation after an outage: add a locally counted charge to (limit,key) (never lowers it).
   * `token` (limits/merges-in-doubt.ts): Redis records it with the counts, and the same call sent again
   * adds nothing; resolves true then (Redis had run it, its answer lost).
   */
  addLocal(limit: LimitConfig, key: string, counter: SenderCounter, token?: string): Promise<boolean>;
  /** Resolves when Redis runs a script that writes (PROBE_SCRIPT): whether requests may go to it again. */
  probe(): Promise<void>;
  /** Resolves once Redis's clock and the counters' names are known: calls made then go out at once. */
  ready(): Promise<void>;
  stats(): RedisStoreStats;
}

/** A probe answered from the local cache at check (Probe.ref). */
const CACHED = Symbol("cached");
const TO_SEND = 1; // Probe.mark: this probe's script has yet to run
const HIT_NUMBERS = 6; // a probe's numbers in the hit script's answer: new, charge, level, over, left, crossed
// The numbers of the answer being read (fillHit reads one answer at a time, to its end): one array for all.
const numbers: number[] = [];

/** Which call Redis did not answer: the two passes, or both in one (CounterStore.checkAndCommit). */
export type Phase = "check" | "commit" | "hit";

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
  hit: script(HIT_SCRIPT),
  subject: script(SUBJECT_SCRIPT),
  settled: script(SETTLED_SCRIPT),
  merge: script(MERGE_SCRIPT),
  flush: script(FLUSH_SCRIPT),
  probe: script(PROBE_SCRIPT),
};

const isNoScript = (error: unknown) => error instanceof Error && error.message.startsWith("NOSCRIPT");
/** How long before the client's timeout Redis stops running its call: the reply's way back (deadline). */
const REPLY_MARGIN_MS = 50;

/** Redis refusing the limits' keys' record: an ACL without it (NOPERM), or a key of another type. */
/** The limits' keys could not be recorded: an ACL for the counters alone, or the name taken by another type. */
const isRefusedRecord = (error: unknown) =>
  isWrongType(error) || (error instanceof Error && error.message.startsWith("NOPERM"));
const isLate = (error: unknown) => error instanceof Error && error.message.startsWith("LATE");
type Pipeline = ReturnType<Redis["pipeline"]>;

export function createRedisStore(options: RedisStoreOptions): RedisStore {
  const { client, prefix, log } = options;
  checkPrefix(prefix);
  const cache = createOverCache(
    options.overCacheMs,
    options.overCacheEntries ?? CACHE_MAX_ENTRIES,
    options.localNow ?? Date.now,
  );
  const stats = {
    roundTrips: 0,
    batches: 0,
    cacheHits: 0,
    unavailable: 0,
    carried: 0,
    answeredAhead: 0,
    aheadOver: 0,
  };
  const ahead = createAheadLevels(options.localNow ?? Date.now);
  let limits: readonly LimitConfig[] = [];
  let closed = false;
  const timeArg = () => options.clock ? String(options.clock()) : "";
  // The names of each limit's counters (redis-counter-kinds.ts), learned from Redis for the limits as
  // configured; no call goes out before they are known (`ready`).
  let kinds: CounterKinds = new Map();
  let kindsKnown = false;
  const kindOf = (limitName: string) => kinds.get(limitName)?.kind;
  const keyOf = (limit: LimitConfig, key: string) => counterKey(prefix, limit.name, key, kindOf(limit.name));

  let loading: Promise<unknown> | undefined;
  const loadScripts = () =>
    loading ??= Promise.all(
      Object.values(SCRIPTS).map((s) => {
        stats.roundTrips++;
        return client.script("LOAD", s.text);
      }),
    ).finally(() => loading = undefined);

  const outbox = createOutbox(client, () => stats.roundTrips++, { sha: SCRIPTS.hit.sha, time: timeArg });
  const exec = (pipeline: Pipeline): Promise<Replies> => {
    stats.roundTrips++;
    return pipeline.exec() as Promise<Replies>;
  };

  /** One script call outside the request path, loading the scripts when Redis has lost them. */
  const evalScript = async (
    s: Script,
    key: string | string[],
    args: (string | number)[],
  ): Promise<unknown> => {
    const keys = typeof key === "string" ? [key] : key;
    for (let attempt = 0;; attempt++) {
      stats.roundTrips++;
      try {
        return await client.evalsha(s.sha, keys.length, ...keys, ...args);
      } catch (error) {
        lateSeen(error);
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

  /** A check's or a commit's script call, alone in the turn's pipeline; its one reply. */
  const callScript = (s: Script) => (keys: string[], argv: (string | number)[], answered: Answered) =>
    outbox.send((pipeline) => {
      pipeline.evalsha(s.sha, keys.length, ...keys, timeArg(), ...argv);
      return 1;
    }).then(([[error, reply]]) => answered(error, reply), (error) => answered(error as Error, null));
  /** A hit, merged with the turn's other hits into one script call (HIT_SCRIPT). */
  const callHit = outbox.hit;
  /** The same for a request answered ahead: its call may wait a little for others (redis-outbox.ts). */
  const callHitAhead = (keys: string[], argv: (string | number)[], answered: Answered) =>
    outbox.hit(keys, argv, answered, true);

  /**
   * One script call for every probe marked TO_SEND (`argsOf` gives the call's arguments for the probes
   * sent), `fill` with the probes sent and their answers, then `done`; sent once more after SCRIPT LOAD
   * when Redis did not have the script. Any other error hands the batch to `unavailable`.
   */
  const run = (
    batch: ProbeBatch,
    phase: Phase,
    call: (keys: string[], argv: (string | number)[], answered: Answered) => void,
    argsOf: (sent: Probe[]) => (string | number)[],
    fill: (sent: Probe[], reply: never) => void, // never: each phase reads its own reply shape
    done: BatchDone,
  ): void => {
    // Redis's clock not known yet (the first calls after the start, the connection being made): the call
    // would carry no deadline, and one the client gave up on (the fallback counted it) would be counted
    // again when Redis runs it later. It goes out once TIME has answered, with its deadline.
    if (!ready()) {
      return void syncReady().then(() => run(batch, phase, call, argsOf, fill, done), (error) => {
        stats.unavailable++;
        options.unavailable(batch, phase, error ?? new Error("redis failed"), done);
      });
    }
    stats.batches++;
    const sent: Probe[] = [];
    const keys: string[] = [];
    for (let i = 0; i < batch.size; i++) {
      const probe = batch.probes[i];
      if (probe.mark !== TO_SEND) continue;
      sent.push(probe);
      keys.push(keyOf(probe.limit, probe.key));
    }
    const argv = argsOf(sent);
    // Callbacks, not an async attempt and a chain of promises: each made promises and functions for every
    // request (docs/decisions.md, "What a request allocates on the Redis path"). `answered` never throws:
    // the outbox answers a call's hits one after the other from one loop.
    const finish = (failure: unknown) => {
      try {
        if (failure === undefined) return done(batch);
        stats.unavailable++;
        options.unavailable(batch, phase, failure, done);
      } catch (error) {
        log.error("redis", `answering a ${phase} failed`, { error: String(error) });
      }
    };
    const answered = (first: boolean): Answered => (error, reply) => {
      if (error !== null) {
        lateSeen(error);
        if (!isNoScript(error) || !first) return finish(error);
        loadScripts().then(() => send(false), (error) => finish(error ?? new Error("no script")));
        return;
      }
      try {
        for (const probe of sent) probe.mark = 0;
        fill(sent, reply as never);
      } catch (error) {
        return finish(error ?? new Error("redis failed"));
      }
      finish(undefined);
    };
    const send = (first: boolean) => {
      try {
        call(keys, argv, answered(first));
      } catch (error) {
        finish(error ?? new Error("redis failed"));
      }
    };
    send(true);
  };

  /** A check's or a commit's arguments: the shared ones, then each probe's. */
  const perProbe = (
    shared: (string | number)[],
    args: (probe: Probe, into: (string | number)[]) => void,
  ) =>
  (sent: Probe[]) => {
    for (const probe of sent) args(probe, shared);
    return shared;
  };

  // A probe's arguments in the check and commit scripts: its limit, the cost, the instance, and what the
  // local cache counted for it since (a check reads it, a commit takes it along).
  const pushCarry = (carry: Carry | undefined, into: (string | number)[]) => {
    if (carry === undefined) into.push(0, "");
    else into.push(carryWord(carry), carry.instance);
  };
  const probeArgs = (probe: Probe, into: (string | number)[]) => {
    into.push(...limitArgs(probe.limit), probe.cost, probe.instance ?? "");
  };
  const checkProbeArgs = (probe: Probe, into: (string | number)[]) => {
    probeArgs(probe, into);
    pushCarry(cache.peek(probe), into);
  };
  const takeCarry = (probe: Probe, into: (string | number)[]) => {
    const carry = cache.take(probe);
    if (carry !== undefined) stats.carried += carry.pending;
    pushCarry(carry, into);
  };

  /** A check's answer for a probe (`instance` and `periodLeft`: the counter's, when over). */
  const applyCheck = (
    probe: Probe,
    isNew: boolean,
    charge: number,
    level: number,
    over: boolean,
    instance: string,
    periodLeft: number,
    redisNow: number,
  ) => {
    probe.isNew = isNew;
    probe.charge = charge;
    probe.level = level;
    probe.over = over;
    probe.counter = undefined;
    if (over && cache.eligible(probe.limit)) cache.remember(probe, instance, periodLeft, redisNow);
  };
  /** The check's part of a probe's answer, from `reply[at]` on. */
  const fillCheck = (probe: Probe, reply: unknown[], at: number) =>
    applyCheck(
      probe,
      reply[at] === 1,
      Number(reply[at + 1]),
      Number(reply[at + 2]),
      reply[at + 3] === 1,
      reply[at + 4] as string,
      Number(reply[at + 5]),
      Number(reply[at + 6] ?? 0),
    );
  const fillChecks = (sent: Probe[], replies: unknown[][]) => {
    for (let i = 0; i < sent.length; i++) fillCheck(sent[i], replies[i], 0);
  };

  // Redis's clock less this host's (ms): from TIME at the start, then from every commit's `now`. A reply
  // read late (this host busy) makes an observation too low, never too high: the highest of the last 10 s.
  let clockOffset: number | undefined;
  let offsetSince = 0;
  const noteRedisTime = (redisMs: number) => {
    const at = Date.now();
    const observed = redisMs - at;
    if (clockOffset === undefined || observed > clockOffset || at - offsetSince > 10_000) {
      clockOffset = observed;
      offsetSince = at;
    }
  };
  /**
   * A call Redis ran past its deadline: Redis stopped that long, or this host's clock stepped back (NTP, a
   * VM resumed) and the offset is stale. It is learned again from TIME: it used to be refreshed only from
   * a successful reply, and with the clock stepped back by more than the timeout every call was LATE, none
   * succeeded, and the host counted on its fallback until restarted.
   */
  let resyncing = false;
  function lateSeen(error: unknown) {
    if (!isLate(error) || resyncing || options.clock) return;
    resyncing = true;
    redisNow().then((redisMs) => {
      clockOffset = undefined; // this observation, even if lower than the stale one
      noteRedisTime(redisMs);
    }, () => {}).finally(() => resyncing = false);
  }

  /** Whether a call's deadline can be given (Redis's clock known, or no deadline at all). */
  const clockKnown = () => !options.lateAfterMs || options.clock !== undefined || clockOffset !== undefined;
  /** Learns Redis's clock (TIME); one call for all the callers waiting for it. */
  let syncing: Promise<void> | undefined;
  const syncClock = () => syncing ??= redisNow().then(noteRedisTime).finally(() => syncing = undefined);

  /** Learns the names of the configured limits' counters; a config changed meanwhile is learned again. */
  const learnKinds = async (): Promise<void> => {
    for (;;) {
      const asked = limits;
      const learned = await learnCounterKinds(client, prefix, asked, exec).catch((error) => {
        // An ACL for the counters' pattern only, or another program's key of that name: named as before
        // this record existed (a key change then reads the old key's counters until their windows end).
        if (!isRefusedRecord(error)) throw error;
        log.warn("redis", "cannot record the limits' keys: counters named without their key", {
          key: limitKeysKey(prefix),
          error: String(error),
        });
        return counterKinds(asked, asked.map(() => null));
      });
      if (asked !== limits) continue;
      for (const limit of asked) {
        const kind = learned.get(limit.name)?.kind;
        if (kind !== undefined && kinds.get(limit.name)?.kind !== kind) {
          log.info(
            "redis",
            "a limit counts by another key than Redis records for it: its counters start afresh",
            {
              limit: limit.name,
              key: limit.keyText,
              counters: counterKey(prefix, limit.name, "…", kind),
            },
          );
        }
      }
      kinds = learned;
      kindsKnown = true;
      return;
    }
  };
  /** Whether calls may go out: Redis's clock and the counters' names known. */
  const ready = () => kindsKnown && clockKnown();
  let readying: Promise<void> | undefined;
  const syncReady = () =>
    readying ??= Promise.all([clockKnown() ? undefined : syncClock(), kindsKnown ? undefined : learnKinds()])
      .then(() => {}).finally(() => readying = undefined);
  const whenReady = () => ready() ? Promise.resolve() : syncReady();

  /**
   * The call's deadline in Redis's time (the scripts' SHARED): REPLY_MARGIN_MS (a third of a shorter
   * timeout) before the client gives up on it. A call Redis ran just before the client's own deadline was
   * answered in time, but the reply still had to cross the socket and wait for this host's event loop,
   * where the timeout's timer could run first: the fallback then counted the request, and Redis had too
   * (twice once merged; a merge cut short so added a counter twice, shared-store.test.ts). Redis refusing
   * the last stretch instead costs a call that slow its answer from Redis; the fallback answers it as it
   * would have a moment later. A fixed margin, not a share: a distant Redis with a long timeout keeps it.
   */
  const deadline = () =>
    options.lateAfterMs && clockOffset !== undefined && !options.clock
      ? Date.now() + clockOffset + options.lateAfterMs -
        Math.min(REPLY_MARGIN_MS, Math.round(options.lateAfterMs / 3))
      : 0;

  // ARGV[2..6]: the sightings a commit notes (the subject and the client IP; a check notes none), and the
  // deadline.
  const sharedArgs = (batch: ProbeBatch) => [
    batch.subject === undefined ? 0 : 1,
    batch.subject ?? "",
    batch.clientAddress === undefined ? 0 : 1,
    batch.clientAddress ?? "",
    deadline(),
  ];
  const checkArgs = () => [0, "", 0, "", deadline()];

  const commitArgs = (probe: Probe, into: (string | number)[]) => {
    probeArgs(probe, into);
    takeCarry(probe, into);
    into.push(probe.counted ? 1 : 0, probe.limit.alert ? 1 : 0);
  };

  /**
   * A commit's crossing (the probe's charge and level already filled): the counter (t, c, l, a, p, m, then
   * its sightings) is in `crossing` from `from` on. Only a crossing's counter is read (its alert lists the
   * window and sightings), so only it comes back.
   */
  const applyCrossing = (probe: Probe, crossing: readonly unknown[] | undefined, from: number) => {
    probe.counter = crossing ? counterFromReply(crossing, from, from + 6) : undefined;
    if (crossing) {
      probe.crossed = true;
      probe.count = wholeCount(probe.counted ? probe.level : probe.level - probe.charge);
    }
  };
  /** The commit's part of a probe's answer, from `reply[at]` on. */
  const fillCommit = (probe: Probe, reply: unknown[], at: number) => {
    if (!options.clock) noteRedisTime(Number(reply[at + 5]));
    probe.charge = Number(reply[at + 1]);
    probe.level = Number(reply[at + 2]);
    probe.over = reply[at + 3] === 1;
    applyCrossing(probe, reply[at + 4] === 1 ? reply : undefined, at + 6);
  };
  // The levels of answers ahead follow a commit's too: with [spf] a key's requests are hit or checked and
  // committed (policy-engine.ts decideLast), and a level learned from hits alone missed the commits' counts.
  const fillCommits = (sent: Probe[], replies: unknown[][]) => {
    for (let i = 0; i < sent.length; i++) {
      fillCommit(sent[i], replies[i], 0);
      ahead.observe(sent[i]);
    }
  };

  /** The hit's arguments for the probes sent (limits/redis-hit-args.ts), the carries taken along. */
  const hitArgsOf = (batch: ProbeBatch, refused: boolean) => (sent: Probe[]) => {
    const counters: HitCounter[] = [];
    for (const probe of sent) {
      const carry = cache.take(probe);
      if (carry !== undefined) stats.carried += carry.pending;
      counters.push({
        limit: probe.limit,
        cost: probe.cost,
        instance: probe.instance,
        carry: carry?.pending ?? 0,
        carryInstance: carry?.instance ?? "",
        carrySince: carry?.since,
        strict: probe.limit.mode === "strict",
        refuses: refuses(probe.limit.action),
        alerts: probe.limit.alert,
      });
    }
    const argv: string[] = [];
    pushHitArgs(
      {
        subject: batch.subject,
        clientAddress: batch.clientAddress,
        deadline: deadline(),
        refused,
      },
      counters,
      argv,
    );
    return argv;
  };

  /**
   * The hit script's answer for a request (HIT_SCRIPT: one string of numbers, HIT_NUMBERS per probe and
   * then Redis's time; the instances of the counters over; the crossings): the checks first, then
   * (knowing, as the script did, whether the request is refused) what each probe counted, then the commits.
   */
  const fillHit = (refusedAlready: boolean) => (sent: Probe[], reply: unknown[]) => {
    if (readNumbers(reply[0] as string, numbers) <= sent.length * HIT_NUMBERS) {
      throw new Error(`a hit's answer is short: ${reply[0]}`); // run() hands the batch to the fallback
    }
    let next = 1; // the reply's next element after the numbers: an instance, then a crossing
    let refused = refusedAlready;
    const redisNow = numbers[sent.length * HIT_NUMBERS];
    for (let i = 0; i < sent.length; i++) {
      const at = i * HIT_NUMBERS;
      const over = numbers[at + 3] === 1;
      const instance = over ? reply[next++] as string : "";
      applyCheck(
        sent[i],
        numbers[at] === 1,
        numbers[at + 1],
        numbers[at + 2],
        over,
        instance,
        numbers[at + 4],
        redisNow,
      );
      if (refusesWhenOver(sent[i])) refused = true;
      ahead.observe(sent[i]);
    }
    if (!options.clock) noteRedisTime(redisNow);
    for (let i = 0; i < sent.length; i++) {
      const probe = sent[i];
      probe.counted = countsOnVerdict(probe, refused);
      const crossing = numbers[i * HIT_NUMBERS + 5] === 1 ? reply[next++] as unknown[] : undefined;
      applyCrossing(probe, crossing, 0); // charge, level and over: the check's, as the script measured once
    }
  };

  /**
   * The probes the local cache answers (Probe.ref = CACHED, not sent) and those its refusal decides for
   * (skipped); the others are marked TO_SEND. Returns how many are to send and whether a cached refusal
   * decides the request.
   */
  const answerCached = (batch: ProbeBatch): [toSend: number, refused: boolean] => {
    // The cached probe that will decide the verdict (a refusal), if any: the strictest, the first of
    // equals, as the engine picks it.
    let decider: Probe | undefined;
    let deciderAt = 0;
    for (let i = 0; i < batch.size; i++) {
      const probe = batch.probes[i];
      probe.counter = undefined;
      probe.crossed = false;
      probe.ref = undefined;
      probe.mark = TO_SEND;
      if (!cache.eligible(probe.limit) || !cache.answer(probe)) continue;
      probe.ref = CACHED;
      probe.mark = 0;
      stats.cacheHits++;
      if (!refuses(probe.limit.action)) continue; // a strict limit that only warns or alerts decides nothing
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
    return [toSend, decider !== undefined];
  };

  /** A batch ahead.follow holds answered (by Redis or the fallback): its costs leave the flight. */
  const followedAnswered = (done: BatchDone) => (batch: ProbeBatch) => {
    ahead.release(batch);
    done(batch);
  };

  /** An answer ahead's batch answered (by Redis or the fallback): its costs leave the flight. */
  const aheadAnswered = (done: BatchDone) => (batch: ProbeBatch) => {
    ahead.release(batch);
    batch.ahead = false;
    for (let i = 0; i < batch.size; i++) {
      if (refusesWhenOver(batch.probes[i])) {
        stats.aheadOver++;
        break;
      }
    }
    done(batch);
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

  /**
   * Writes the pending counts no call has carried (ended or pushed-out cache entries; before show, top and a
   * new config, all of them): one pipeline; a Redis that had lost the script gets those calls once more.
   */
  const flush = async (carries: Carry[]): Promise<void> => {
    if (carries.length === 0 || closed) return;
    stats.carried += carries.reduce((sum, carry) => sum + carry.pending, 0);
    let left = carries;
    for (let attempt = 0; left.length > 0; attempt++) {
      const pipeline = client.pipeline();
      for (const carry of left) {
        pipeline.evalsha(
          SCRIPTS.flush.sha,
          1,
          keyOf(carry.limit, carry.key),
          timeArg(),
          ...limitArgs(carry.limit),
          carryWord(carry),
          carry.instance,
        );
      }
      const replies = await exec(pipeline);
      const lost = left.filter((_, i) => replies[i][0] !== null && isNoScript(replies[i][0]));
      const error = replies.find(([error]) => error !== null && !isNoScript(error))?.[0];
      if (error) throw error;
      if (lost.length > 0 && attempt === 0) await loadScripts();
      else if (lost.length > 0) throw lost[0];
      left = lost;
    }
  };
  const flushInBackground = (carries: Carry[]) =>
    flush(carries).then(backgroundDone, backgroundFailed("adding the locally counted attempts"));

  const redisNow = async (): Promise<number> => {
    if (options.clock) return options.clock();
    stats.roundTrips++;
    const [seconds, micros] = await client.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  };

  // Asked once more if the first answer came late: at the start the state restore can hold the event loop
  // past the command timeout while Redis's reply waits to be read (236 ms on a loaded machine, with a
  // timeout of 200 ms), and nothing asked again until a call needed them: no request went ahead meanwhile.
  syncReady().catch(() => setTimeout(() => closed || syncReady().catch(() => {}), 0));

  const top = createRedisTop({
    client,
    prefix,
    limits: () => limits,
    kindOf,
    now: redisNow,
    roundTrip: () => stats.roundTrips++,
    log,
  });

  const admin = createRedisAdmin({
    client,
    prefix,
    limits: () => limits,
    kindOf,
    exec,
    now: redisNow,
    scan: top.scan,
  });

  const merge = async (
    limit: LimitConfig,
    key: string,
    counter: SenderCounter,
    mode: "adopt" | "add",
    token?: string,
  ) => {
    await whenReady(); // as run's: a merge with no deadline may be added twice, under the counter's name
    const keys = [keyOf(limit, key)];
    if (token !== undefined) keys.push(mergeTokenKey(prefix, key, token));
    return await evalScript(SCRIPTS.merge, keys, [
      timeArg(),
      ...limitArgs(limit),
      mode,
      deadline(),
      ...counterArgs(counter),
    ]);
  };

  return {
    configure(next, maxKeys) {
      // max_keys bounds the levels kept for answers ahead; Redis's own maxmemory bounds Redis (docs)
      flushInBackground(cache.drain(() => true)); // under the limits and names they were counted with
      cache.clear();
      limits = next;
      ahead.configure(next, maxKeys);
      if (!kindsCover(kinds, next)) {
        kindsKnown = false; // a limit added or counting by another key: its counters' name is asked first
        syncReady().catch(() => {});
      }
    },

    check(batch, done) {
      batch.crossings = 0;
      const [toSend] = answerCached(batch);
      if (toSend === 0) return done(batch);
      if (closed) return options.unavailable(batch, "check", new Error("redis store closed"), done);
      run(batch, "check", callScript(SCRIPTS.check), perProbe(checkArgs(), checkProbeArgs), fillChecks, done);
    },

    answersAhead(batch) {
      if (!options.answerAhead || closed) return false;
      if (!clockKnown()) {
        syncReady().catch(() => {}); // for the next requests; this one's hit waits for it (run)
        return false;
      }
      // A key the local cache holds is near or over a limit: Redis (or the cache) answers it.
      for (let i = 0; i < batch.size; i++) if (cache.holds(batch.probes[i])) return false;
      if (!ahead.take(batch)) return false;
      stats.answeredAhead++;
      batch.ahead = true;
      return true;
    },

    aheadStale: (merged) => ahead.stale(merged),

    checkAndCommit(batch, done) {
      if (batch.ahead) done = aheadAnswered(done);
      else if (options.answerAhead && ahead.follow(batch)) done = followedAnswered(done);
      batch.crossings = 0;
      const [toSend, refused] = answerCached(batch);
      // The probes not sent: cached (a leaky refusal, not counted; a strict attempt, counted here) or
      // decided by a cached refusal (leaky, not counted).
      for (let i = 0; i < batch.size; i++) {
        const probe = batch.probes[i];
        if (probe.mark === TO_SEND) continue;
        probe.counted = probe.ref === CACHED && probe.limit.mode === "strict" && cache.count(probe);
      }
      if (toSend === 0) return done(batch);
      if (closed) return options.unavailable(batch, "hit", new Error("redis store closed"), done);
      run(
        batch,
        "hit",
        batch.ahead ? callHitAhead : callHit,
        hitArgsOf(batch, refused),
        fillHit(refused),
        (filled) => {
          countCrossings(filled);
          done(filled);
        },
      );
    },

    commit(batch, _at, done) {
      if (options.answerAhead && ahead.follow(batch)) done = followedAnswered(done);
      batch.crossings = 0;
      let toSend = 0;
      for (let i = 0; i < batch.size; i++) {
        const probe = batch.probes[i];
        probe.crossed = false;
        // A leaky refusal answered from the cache counts nothing, a strict attempt is counted there (unless
        // its entry has gone since the check): nothing to write.
        if (probe.ref === CACHED && (!probe.counted || cache.count(probe))) {
          probe.mark = 0;
          probe.counter = undefined;
          continue;
        }
        probe.mark = TO_SEND;
        toSend++;
      }
      if (toSend === 0) return done(batch);
      if (closed) return options.unavailable(batch, "commit", new Error("redis store closed"), done);
      run(
        batch,
        "commit",
        callScript(SCRIPTS.commit),
        perProbe(sharedArgs(batch), commitArgs),
        fillCommits,
        (filled) => {
          countCrossings(filled);
          done(filled);
        },
      );
    },

    recordSubject(limit, key, subject) {
      if (closed) return;
      if (subjects.length === 0) queueMicrotask(flushSubjects);
      subjects.push({ key: keyOf(limit, key), subject });
    },

    alertSettled(limitName, key, firstSeen, delivered) {
      if (closed) return;
      const state = delivered ? ALERT_SENT : ALERT_UNSENT;
      evalScript(SCRIPTS.settled, counterKey(prefix, limitName, key, kindOf(limitName)), [firstSeen, state])
        .then(backgroundDone, backgroundFailed("marking an alert sent"));
    },

    // Redis expires the keys itself (PEXPIRE at every write); the local cache's ended entries are flushed.
    expire() {
      flushInBackground(cache.drain());
      ahead.sweep();
    },

    top(count, rule, reply) {
      flushInBackground(cache.drain(() => true)).then(whenReady).then(
        () => top.query(count, rule, reply),
        () => reply(null), // Redis did not answer (counter-store.ts)
      );
    },

    show(key, reply) {
      flushInBackground(cache.drain((held) => held === key)).then(whenReady).then(() => admin.show(key)).then(
        reply,
        (error) => {
          log.warn("redis", "show failed", { key, error: String(error) });
          reply(null); // not "no counter": Redis did not answer (counter-store.ts)
        },
      );
    },

    reset(key, reply) {
      cache.forgetKey(key);
      ahead.forgetKey(key);
      whenReady().then(() => admin.reset(key)).then((removed) => {
        top.forget(); // a ranking of before would list the key for up to a second more
        reply(removed);
      }, (error) => {
        log.warn("redis", "reset failed", { key, error: String(error) });
        reply(null); // not "no counter": Redis may still hold it (counter-store.ts)
      });
    },

    async adoptIfAbsent(limit, key, counter) {
      return await merge(limit, key, counter, "adopt") === 1;
    },

    // The attempts counted in the cache go to Redis first, as for show and top: the switch back to memory
    // exports, and the flush at close came after the export (the memory store's counter missed them).
    exportCounters: (visit) =>
      flushInBackground(cache.drain(() => true)).then(whenReady).then(() => admin.exportCounters(visit)),

    async addLocal(limit, key, counter, token) {
      return await merge(limit, key, counter, "add", token) === 2;
    },

    async probe() {
      // `<prefix>{%}:`: the counters' key pattern (an ACL's for them lets it), under no limit's name (the
      // export and top pass over it).
      await evalScript(SCRIPTS.probe, counterKey(prefix, "", ""), []);
    },

    ready: whenReady,

    stats: () => ({ ...stats, cacheEntries: cache.size, aheadKeys: ahead.size }),

    close() {
      flushInBackground(cache.drain(() => true));
      closed = true;
      cache.clear();
    },
  };
}
