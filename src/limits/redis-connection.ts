// The ioredis client the daemon's Redis store (limits/redis-store.ts) talks through, made from [redis]
// (docs/redis.md). A command waits at most the per-command timeout, queued while the connection is being
// made (the first requests after start wait for it instead of failing at once: the fallback then answered
// them as an incident), and is never retried (maxRetriesPerRequest 0: the fallback answers instead).
// ioredis reconnects by itself, on the one backoff (actors/backoff.ts).
import type { Buffer } from "node:buffer";
import { isIP } from "node:net";
import { Redis, type RedisOptions } from "ioredis";
import type { RedisConfig } from "../config/types.ts";
import { backoffDelay } from "../actors/backoff.ts";
import { fillTracingHasSubscribers } from "../runtime.ts";
import { readCaFile } from "../store/ca-file.ts";

fillTracingHasSubscribers(); // before any command: else ioredis traces each one on Bun

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

/**
 * [redis] tls_ca_file's certificates; unreadable or holding none: undefined, and `onError` says why (TLS
 * then checks against the system's CAs, which do not vouch for a private CA's Redis: the fallback answers).
 * Read at the start and at each reload (actors/counters-redis.ts: a CA rotated in place connects anew).
 */
export function readRedisCa(config: RedisConfig, onError: (error: Error) => void): Buffer | undefined {
  if (config.tlsCaFile === undefined) return undefined;
  try {
    return readCaFile(config.tlsCaFile, "[redis] tls_ca_file");
  } catch (error) {
    onError(error as Error);
    return undefined;
  }
}

/** The client's options; exported for the tests that check what a config turns into. */
export function redisOptions(config: RedisConfig, onError: (error: Error) => void = () => {}): RedisOptions {
  const { address } = config;
  const where = address.path !== undefined
    ? { path: address.path }
    : { host: address.host, port: address.port };
  // The certificate's name to check: the host's name; an IP address is checked against the certificate's
  // IP entries, and as servername (SNI) the runtimes refuse it outright (no connection at all).
  const tls = address.tls
    ? {
      servername: isIP(address.host ?? "") === 0 ? address.host : undefined,
      ca: readRedisCa(config, onError),
    }
    : undefined;
  return {
    ...where,
    tls,
    username: config.username,
    password: config.password,
    db: config.database,
    commandTimeout: config.timeoutMs,
    connectTimeout: config.connectTimeoutMs,
    enableOfflineQueue: true,
    maxRetriesPerRequest: 0,
    retryStrategy: (times: number) => backoffDelay(times, RECONNECT_MIN_MS, RECONNECT_MAX_MS),
    lazyConnect: false,
    // No INFO before the connection counts as ready: a Redis loading its dataset (after a restart, a
    // failover's full sync) answers LOADING at once, and the fallback answers with that cause. With the
    // check, ioredis held the commands until the load ended, each ran into the timeout ("Command timed
    // out": a hung Redis, by the log), and every retry closed the connection. And INFO is one of the
    // @dangerous commands the documented ACL user may not run: each connection printed ioredis's own
    // warning on stderr, outside the log.
    enableReadyCheck: false,
    // The store sends what a turn of the event loop asked as one pipeline of its own.
    enableAutoPipelining: false,
  };
}

export function connectRedis(config: RedisConfig, onError: (error: Error) => void): Redis {
  const client = new Redis(redisOptions(config, onError));
  client.on("error", (error: Error & { command?: { name?: string } }) => {
    // Only Redis saying the database is not there (ERR DB index is out of range) or not the user's
    // (NOPERM): a SELECT refused for a wrong password (NOAUTH) is that error, and reconnecting is right.
    if (error.command?.name !== "select" || !/^(ERR|NOPERM)\b/.test(error.message)) return onError(error);
    // ioredis reports a failed SELECT (a database over Redis's `databases`, an ACL user without SELECT)
    // and goes on in database 0: the counters went there, mixed with what else is, with `redis: up`.
    // Closed instead: every call fails, the fallback answers, and this says why (a config error).
    onError(
      new Error(
        `cannot select [redis] database ${config.database}: ${error.message}; ` +
          "the fallback answers until a reload or restart, once Redis has the database or the config names one it has",
      ),
    );
    client.disconnect();
  });
  return client;
}
