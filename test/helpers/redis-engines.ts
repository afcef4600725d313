// Counting engines (limits/limit-engine.ts) over the memory store and over the Redis store, driven the
// same way, for the Redis store's tests: a request is answered, then its commit has reached Redis before
// the next one (a PING on the same connection comes back after it).
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { parseConfig } from "../../src/config/load.ts";
import { createLogger } from "../../src/log.ts";
import type { BatchDone, CounterStore, Probe, ProbeBatch } from "../../src/limits/counter-store.ts";
import { createLimitEngine, type LimitEngine, type LimitsCheck } from "../../src/limits/limit-engine.ts";
import { bareMemoryStore } from "./bare-memory-store.ts";
import { createRedisStore, type RedisStore, type RedisStoreOptions } from "../../src/limits/redis-store.ts";
import { connectRedis } from "../../src/limits/redis-connection.ts";
import { createSharedStore } from "../../src/limits/shared-store.ts";
import { createExportedCounters } from "../../src/limits/exported-counters.ts";
import type { LimitConfig } from "../../src/model/limit.ts";
import type { PolicyRequest } from "../../src/policy/request.ts";
import type { SenderDetail, SenderRow } from "../../src/policy/sender-report.ts";
import type { Verdict } from "../../src/policy/verdict.ts";
import type { RedisServer } from "./redis-server.ts";
import type { Config } from "../../src/config/types.ts";

export const quiet = createLogger("error", () => {});

export function limitsOf(text: string): LimitConfig[] {
  const parsed = parseConfig(text, "t", "/tmp");
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.errors.join("; "));
  return parsed.config.limits;
}

export interface Crossing {
  rule: string;
  key: string;
  count: number;
  start: number | undefined;
}

/** An engine over `store`; `settle` resolves once every commit sent so far has been done. */
export interface Host {
  engine: LimitEngine;
  store: CounterStore;
  crossings: Crossing[];
  hit(sender: string, extra?: Record<string, string>): Promise<Verdict>;
  /** check, then commit with `refused` as the final verdict. */
  checkCommit(sender: string, refused: boolean, extra?: Record<string, string>): Promise<Verdict>;
  show(key: string): Promise<SenderDetail[]>;
  top(count: number, rule?: string): Promise<SenderRow[] | undefined>;
  settle(): Promise<unknown>;
}

export function request(sender: string, extra: Record<string, string> = {}): PolicyRequest {
  return { form: "attributes", stage: "rcpt", attributes: { sender, ...extra } };
}

export function host(
  store: CounterStore,
  limits: LimitConfig[],
  now: () => number,
  settle: () => Promise<unknown>,
): Host {
  const crossings: Crossing[] = [];
  const engine = createLimitEngine(store, now, {
    crossed: (probe: Probe) =>
      crossings.push({
        rule: probe.limit.name,
        key: probe.key,
        count: probe.count,
        start: probe.counter?.start,
      }),
    ownAlert: () => {},
    heldIncident: () => {},
  });
  store.configure(limits, 1_000_000);
  engine.configure(limits, undefined);
  return {
    engine,
    store,
    crossings,
    async hit(sender, extra) {
      const verdict = await new Promise<Verdict>((resolve) =>
        engine.hit(request(sender, extra), (verdict) => resolve(verdict!))
      );
      await settle();
      return verdict;
    },
    async checkCommit(sender, refused, extra) {
      const checked = await new Promise<LimitsCheck>((resolve) =>
        engine.check(request(sender, extra), resolve)
      );
      engine.commit(checked.ticket, refused);
      await settle();
      return checked.verdict!;
    },
    show: (key) =>
      new Promise((resolve, reject) =>
        store.show(
          key,
          (rows) => rows ? resolve(rows) : reject(new Error(`show ${key}: Redis did not answer`)),
        )
      ),
    top: (count, rule) =>
      new Promise((resolve, reject) =>
        store.top(
          count,
          rule,
          (rows) => rows === null ? reject(new Error("top: Redis did not answer")) : resolve(rows),
        )
      ),
    settle,
  };
}

/** What `show` says of the alert of `key`'s first counter; undefined when it has none or no answer came. */
export function alertOf(store: CounterStore, key: string): Promise<unknown> {
  return new Promise((done) => store.show(key, (rows) => done(rows?.[0]?.alert)));
}

/** `key`'s alert state once it is `wanted` or after `tries` looks 50 ms apart (Redis marks it in the background). */
export async function alertBecomes(
  store: CounterStore,
  key: string,
  wanted: string,
  tries = 40,
): Promise<unknown> {
  for (let tried = 0; tried < tries && await alertOf(store, key) !== wanted; tried++) {
    await new Promise((done) => setTimeout(done, 50));
  }
  return await alertOf(store, key);
}

export function memoryHost(limits: LimitConfig[], now: () => number): Host {
  const store = bareMemoryStore(now);
  return host(store, limits, now, () => Promise.resolve());
}

export interface RedisHost extends Host {
  store: RedisStore;
  client: Redis;
  unavailable: { phase: string; error: unknown }[];
  close(): Promise<void>;
}

/** A client as the daemon will make one: a short command timeout, no endless retries. */
export function redisClient(server: RedisServer, extra: Record<string, unknown> = {}): Redis {
  const client = new Redis({
    host: server.host,
    port: server.port,
    password: server.password,
    commandTimeout: 500,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 100,
    ...extra,
  });
  client.on("error", () => {}); // the failures the tests cause on purpose; the store reports its own
  return client;
}

/**
 * An engine over a Redis store with its own client. `unavailable` records the failure and answers as
 * though nothing counted (the daemon's fallback is the lead's; tests only need to see it called).
 */
export function redisHost(
  server: RedisServer,
  limits: LimitConfig[],
  now: () => number,
  options: Partial<RedisStoreOptions> = {},
  client = redisClient(server),
): RedisHost {
  const unavailable: { phase: string; error: unknown }[] = [];
  const store = createRedisStore({
    client,
    prefix: "mpd:",
    log: quiet,
    overCacheMs: 0,
    unavailable(batch: ProbeBatch, phase, error, done: BatchDone) {
      unavailable.push({ phase, error });
      for (let i = 0; i < batch.size; i++) {
        const probe = batch.probes[i];
        Object.assign(probe, {
          charge: probe.cost,
          level: probe.cost,
          over: false,
          isNew: true,
          crossed: false,
        });
      }
      batch.crossings = 0;
      done(batch);
    },
    ...options,
  });
  const made = host(store, limits, now, () => client.ping().catch(() => {}));
  return {
    ...made,
    store,
    client,
    unavailable,
    async close() {
      store.close();
      client.disconnect();
      await new Promise((done) => setTimeout(done, 0));
    },
  };
}

/**
 * The merge and reload tests' config: one strict-enough limit (3 an hour per sender), Redis at `server`
 * with the local fallback, no over-cache, a quick retry (`retryEvery`: a long one keeps an incident on);
 * `extra`: more [redis] lines.
 */
export function mergeConfig(
  server: Pick<RedisServer, "url">,
  timeout = "500ms",
  retryEvery = "100ms",
  extra = "",
): Config {
  const parsed = parseConfig(
    `[limit out]\nkey = sender\ncount = 3\ntime = 1h\n[redis]\nurl = ${server.url}\n` +
      `timeout = ${timeout}\nretry_every = ${retryEvery}\nover_cache = 0\nfallback = local\n${extra}`,
    "t.conf",
    "/tmp",
  );
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.errors.join("; "));
  return parsed.config;
}

/**
 * A shared store over a memory store, its engine, and an admin connection to the same Redis. `config`: the
 * store's (mergeConfig's by default; another url puts something between the store and Redis).
 */
export function sharedSite(server: RedisServer, config = mergeConfig(server)) {
  const local = bareMemoryStore(Date.now);
  const client = connectRedis(config.redis!, () => {});
  const admin = redisClient(server);
  const shared = createSharedStore({
    client,
    config: config.redis!,
    local,
    exported: createExportedCounters(),
    log: quiet,
    now: Date.now,
    changed: () => {},
  });
  const site = host(shared, config.limits, Date.now, () => client.ping());
  const close = () => {
    shared.close();
    local.close();
    client.disconnect();
    admin.disconnect();
  };
  return { config, local, client, admin, shared, site, close };
}
