// [redis] for the counters actor: connects, builds the shared store over the memory store, merges this
// host's counters into Redis once the state file is restored (the upgrade from the memory store), and on
// a reload that removes [redis] brings the shared counters back into memory (docs/redis.md, "Upgrade").
import { Buffer } from "node:buffer";
import { setImmediate } from "node:timers";
import type { Config, RedisConfig } from "../config/types.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../control/metrics.ts";
import type { MemoryStore } from "../limits/memory-store.ts";
import { connectRedis, readRedisCa } from "../limits/redis-connection.ts";
import { createSharedStore, type SettledMark, type SharedStore } from "../limits/shared-store.ts";
import { createExportedCounters, type ExportedCounters } from "../limits/exported-counters.ts";
import { createMergesInDoubt, type MergeInDoubt } from "../limits/merges-in-doubt.ts";
import { exportedPath, readExportedFile, writeExportedFile } from "../store/exported-file.ts";
import { type CountersPlace, doubtsPath, readDoubtsFile, writeDoubtsFile } from "../store/doubts-file.ts";
import type { CounterStore } from "../limits/counter-store.ts";
import { UNIT_MS } from "../model/duration.ts";

const { s: SECOND, m: MINUTE } = UNIT_MS;

export interface CountersRedisOptions {
  /** The engine and the control plane use this store from now on. */
  use(store: CounterStore): void;
  local: MemoryStore;
  log: Logger;
  metrics?: Metrics;
  now: () => number;
  /** The memory store changed wholesale: the next snapshot must hold it, soon. */
  changed: () => void;
  /** [daemon] state_file: the copies of shared counters are kept beside it (store/exported-file.ts). */
  stateFile: () => string;
}

export interface CountersRedis {
  /** Follows the config: [redis] added, changed or removed. `restored`: the state file is in memory. */
  use(config: Config): void;
  /** The state file's counters are in memory: into Redis with them. */
  restored(): void;
  /** `key` was reset on this host: its copies of shared counters go (exported-counters.ts, forgetKey). */
  keyReset(key: string): void;
  stop(): void;
}

/** The copies a previous run kept; an unreadable file is logged and left (a later save replaces it). */
function loadExported(stateFile: string, log: Logger, now: number): ExportedCounters {
  try {
    return createExportedCounters(readExportedFile(exportedPath(stateFile), now));
  } catch (error) {
    log.error("redis", "the copies of the shared counters are unreadable: ignored", {
      file: exportedPath(stateFile),
      error: String(error),
    });
    return createExportedCounters();
  }
}

/** The merge calls a previous run left in doubt; an unreadable file is logged and left (a save replaces it). */
function loadDoubts(
  stateFile: string,
  log: Logger,
  now: number,
): { place: CountersPlace; doubts: MergeInDoubt[] } | undefined {
  try {
    return readDoubtsFile(doubtsPath(stateFile), now);
  } catch (error) {
    log.error("redis", "the merge calls in doubt are unreadable: ignored", {
      file: doubtsPath(stateFile),
      error: String(error),
    });
    return undefined;
  }
}

/** Which counters a [redis] config names: one server (as addressed), database and prefix. */
const placeOf = (redis: RedisConfig): CountersPlace => ({
  host: redis.address.host,
  port: redis.address.port,
  path: redis.address.path,
  database: redis.database,
  prefix: redis.prefix,
});

/** Whether two places are the same counters. */
function sameCounters(a: CountersPlace, b: CountersPlace): boolean {
  return a.host === b.host && a.port === b.port && a.path === b.path && a.database === b.database &&
    a.prefix === b.prefix;
}

export function createCountersRedis(options: CountersRedisOptions): CountersRedis {
  const { local, log, now } = options;
  let shared: SharedStore | undefined;
  let settings: string | undefined; // the [redis] config the shared store was made with, as JSON
  let usedConfig: RedisConfig | undefined;
  let restoreDone = false;
  let stopped = false;
  const clients = new Map<SharedStore, ReturnType<typeof connectRedis>>();
  // The merge calls in doubt (limits/merges-in-doubt.ts) are the same counters' as long as the server,
  // database and prefix stay: a store replacing one of the same counters settles what it left, and so
  // does the first one after a restart (the file, store/doubts-file.ts). Another Redis has none of them: a
  // new book.
  const restoredDoubts = loadDoubts(options.stateFile(), log, now());
  let inDoubt = createMergesInDoubt(restoredDoubts?.doubts);
  let inDoubtOf: CountersPlace | undefined = restoredDoubts?.place; // whose counters they are
  let doubtsFileStale = false; // the book was replaced or dropped since the file was written
  const saveDoubts = () => {
    if (!inDoubt.changed && !doubtsFileStale) return;
    try {
      writeDoubtsFile(doubtsPath(options.stateFile()), inDoubtOf, inDoubt.all());
      inDoubt.saved();
      doubtsFileStale = false;
    } catch (error) {
      log.error("redis", "cannot write the merge calls in doubt", { error: String(error) });
    }
  };
  // Outlives the shared stores: copied when [redis] is removed, used when it is added again.
  const copies = loadExported(options.stateFile(), log, now());
  // The copies whose window has ended are of no use: dropped, and the file with the last. Only a merge
  // into Redis dropped them, so a host back on its memory store (or in Redis with no incident) kept every
  // copy, in memory and in the file read at each start, for good.
  let limits: Config["limits"] = [];
  let sweeper: ReturnType<typeof setInterval> | undefined;
  /** A sweep every shortest window (1 s to 1 min) while there are copies: its work is O(copies). */
  const sweepWhileCopies = () => {
    clearInterval(sweeper);
    sweeper = undefined;
    if (stopped || copies.tables().size === 0) return;
    const shortest = Math.min(...limits.map((limit) => limit.windowMs));
    sweeper = setInterval(() => {
      copies.expire(limits, now());
      saveCopies();
      if (copies.tables().size === 0) sweepWhileCopies();
    }, Math.min(MINUTE, Math.max(SECOND, shortest)));
  };
  const saveCopies = () => {
    if (!copies.changed) return;
    try {
      writeExportedFile(exportedPath(options.stateFile()), copies.tables());
      copies.saved();
    } catch (error) {
      log.error("redis", "cannot write the copies of the shared counters", { error: String(error) });
    }
  };

  const merge = (why: string) => {
    const store = shared;
    store?.mergeLocal().then(
      (merged) => {
        if (merged > 0) log.info("redis", "this host's counters added into Redis", { counters: merged, why });
      },
      (error) =>
        log.warn("redis", "counters not yet added into Redis; again when it answers", {
          why,
          error: String(error),
        }),
    );
  };

  /** The engine and the control plane use `store` from now on. */
  const activate = (store: SharedStore, redis: RedisConfig) => {
    options.use(store);
    if (options.metrics) options.metrics.redisHealth = store.health;
    const where = redis.address.path ?? `${redis.address.host}:${redis.address.port}`;
    log.info("redis", "counters shared through Redis", { redis: where, fallback: redis.fallback });
  };

  /**
   * A shared store for `redis`; in use at once unless `later` (a move: once the counters are over).
   * `settled`: the marks of alerts delivered while Redis was away that the store before had yet to send.
   */
  const start = (config: Config, redis: RedisConfig, later = false, settled: readonly SettledMark[] = []) => {
    if (inDoubtOf === undefined || !sameCounters(inDoubtOf, placeOf(redis))) {
      inDoubt = createMergesInDoubt();
      doubtsFileStale = true;
    }
    inDoubtOf = placeOf(redis);
    // A tls_ca_file it cannot read or use is said here alone, with what the connection does instead: the
    // config's warning of it is config-test's (config/load.ts configTestWarnings), or a start said it twice.
    const client = connectRedis(redis, (error) => {
      if (/^cannot (read|use) /.test(error.message)) {
        return log.error(
          "redis",
          `${error.message}; Redis's certificate is checked against the system's CAs until a reload reads it`,
        );
      }
      if (/^cannot select /.test(error.message)) return log.error("redis", error.message);
      log.debug("redis", "connection", { error: error.message });
    });
    shared = createSharedStore({
      client,
      config: redis,
      local,
      exported: copies,
      // After a merge, an export or a move: the copies and the calls in doubt it changed.
      exportedChanged: () => {
        saveCopies();
        saveDoubts();
      },
      log,
      now,
      changed: options.changed,
      settledWhileDown: settled,
      mergesInDoubt: inDoubt,
    });
    clients.set(shared, client);
    shared.configure(config.limits, config.daemon.maxKeys);
    settings = JSON.stringify(redis);
    usedConfig = redis;
    if (!later) activate(shared, redis);
  };

  /**
   * `gently`: QUIT after the commands in flight and those of this turn (the store sends a turn's commands
   * at setImmediate, queued before this one): a commit already made is answered by Redis, not lost to a
   * closed connection and counted again here by the fallback. Else at once (stopping; the state is saved).
   */
  const finish = (store: SharedStore, gently = true) => {
    store.close();
    const client = clients.get(store);
    clients.delete(store);
    if (!gently) return client?.disconnect();
    setImmediate(() => client?.quit().catch(() => client.disconnect()));
  };

  /**
   * Whether [redis] tls_ca_file, read again, holds other certificates than `client` checks Redis's with
   * (none: it could not be read before). Unreadable or holding none now: said, and the connection keeps
   * what it has (a reconnect without the CA would fail the check: the fallback for the whole site).
   */
  const caChanged = (client: ReturnType<typeof connectRedis>, redis: RedisConfig | undefined): boolean => {
    if (!redis?.address.tls || redis.tlsCaFile === undefined) return false;
    const before = client.options.tls?.ca;
    const kept = before === undefined ? "the system's CAs" : "the CA read before";
    const ca = readRedisCa(
      redis,
      (error) => log.error("redis", `${error.message}; the connection keeps ${kept}`),
    );
    if (ca === undefined || (Buffer.isBuffer(before) && before.equals(ca))) return false;
    log.info("redis", "[redis] tls_ca_file changed: connecting anew with it", { file: redis.tlsCaFile });
    return true;
  };

  return {
    use(config) {
      limits = config.limits;
      sweepWhileCopies();
      const redis = config.redis;
      // The same [redis] goes on, unless its connection was given up for good (a database Redis does not
      // have or the user may not SELECT: limits/redis-connection.ts) or tls_ca_file holds other
      // certificates than it was made with. The postmaster may have fixed Redis (its `databases`, the
      // user's ACL), the CA file's permissions, or rotated the CA in place, rather than the config: the
      // reload he then makes connects anew. It used to change nothing, and the fallback answered until the
      // daemon was restarted.
      const client = shared && clients.get(shared);
      const unchanged = redis !== undefined && JSON.stringify(redis) === settings;
      const connectAnew = client !== undefined &&
        (client.status === "end" || (unchanged && caChanged(client, redis)));
      if (unchanged && !connectAnew) return;
      const old = shared;
      const before = usedConfig;
      // Moved (another server, database or prefix): the old store answers until its counters are in the
      // new Redis, so that what a key counts meanwhile is not left behind in the old one unseen.
      const moving = old !== undefined && redis !== undefined && !stopped &&
        !sameCounters(placeOf(before!), placeOf(redis));
      let exported: Promise<unknown> = Promise.resolve();
      let settled: SettledMark[] = [];
      if (old) {
        const same = redis !== undefined && sameCounters(placeOf(before!), placeOf(redis));
        shared = undefined;
        settings = undefined;
        usedConfig = undefined;
        if (!moving) {
          options.use(local);
          if (options.metrics) options.metrics.redisHealth = undefined;
        }
        // Only how the same counters are reached or used changed: they stay in Redis (a copy brought into
        // memory would be added into Redis again by the merge below: counted twice).
        // The marks of alerts settled while Redis was away go to the new store, which sends them when Redis
        // answers: they are the same counters'.
        // A merge of this host's counters the old store has under way (the state file's, an incident's)
        // ends first: closed in the middle, it gave the rest back to the memory store after the new store's
        // merge had looked there, and they stayed in memory, counted nowhere shared. The new store merges
        // what it gives back.
        const merged = old.mergesSettled();
        if (same) {
          settled = old.settledWhileDown();
          old.close(); // no retry starts another merge; the one under way goes on over its connection
          exported = merged.finally(() => finish(old));
        } else if (!redis) {
          // Removed: the shared counters come into memory first, then the connection goes. Its merges in
          // doubt are settled first (the export sends them again): their counters are here already, and
          // only what Redis holds beyond them is added. The copy stands for what Redis holds (a [redis]
          // added again adds what was counted since it).
          inDoubtOf = undefined;
          doubtsFileStale = true;
          exported = merged.then(() => old.exportToLocal()).then(
            (keys) => log.info("redis", "shared counters brought into memory", { counters: keys }),
            (error) => log.warn("redis", "shared counters not brought into memory", { error: String(error) }),
          ).finally(() => {
            finish(old);
            options.changed();
            sweepWhileCopies();
          });
        }
      }
      if (!redis || stopped) return;
      start(config, redis, moving, settled);
      // The old shared counters are written where the new Redis has none, never added (every host moves
      // the same set); then the new store takes over (unless a later reload chose another) and the old
      // connection goes.
      if (moving) {
        const target = shared!;
        exported = old!.mergesSettled().then(() => old!.moveTo(target)).then(
          (keys) => log.info("redis", "shared counters moved to the new Redis", { counters: keys }),
          (error) => log.warn("redis", "shared counters not moved", { error: String(error) }),
        ).finally(() => {
          if (shared === target && !stopped) activate(target, redis);
          finish(old!);
        });
      }
      // After the export or move: this host's own counters go into the new Redis, added.
      if (restoreDone) exported.then(() => merge(old ? "[redis] changed" : "[redis] added"));
    },
    restored() {
      restoreDone = true;
      if (shared) merge("state file restored");
    },
    keyReset(key) {
      copies.forgetKey(key);
      saveCopies();
    },
    stop() {
      stopped = true;
      clearInterval(sweeper);
      if (shared) finish(shared, false);
      shared = undefined;
      saveDoubts();
    },
  };
}
