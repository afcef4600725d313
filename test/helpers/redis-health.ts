// The `redis` part of a running daemon's /health, read over its control socket until it says what a test
// waits for: an incident's cause, the state after a reload; and shared counting seen to resume after it.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import type { RedisHealth } from "../../src/limits/shared-store.ts";
import type { DaemonProcess } from "./daemon-process.ts";
import { httpGet } from "./http-get.ts";
import { askPolicy } from "./policy-client.ts";

/** /health's redis once `wanted` holds of it, or the one read last after 10 s (for the caller to assert). */
async function redisHealthWhen(
  controlSocket: string,
  wanted: (redis: RedisHealth) => boolean,
): Promise<RedisHealth> {
  let redis: RedisHealth | undefined;
  for (let tries = 0; tries < 100 && !(redis && wanted(redis)); tries++) {
    if (tries > 0) await new Promise((done) => setTimeout(done, 100));
    redis = JSON.parse((await httpGet({ socketPath: controlSocket, path: "/health" })).body).redis;
  }
  return redis!;
}

/** redis.lastError once it matches `cause` (10 s at most: then the one it says). */
export async function redisLastErrorBecomes(controlSocket: string, cause: RegExp): Promise<string> {
  return (await redisHealthWhen(controlSocket, (redis) => cause.test(redis.lastError ?? ""))).lastError ?? "";
}

/** redis.state once it is `wanted` (10 s at most: then the one it says). */
export async function redisStateBecomes(
  controlSocket: string,
  wanted: RedisHealth["state"],
): Promise<string> {
  return (await redisHealthWhen(controlSocket, (redis) => redis.state === wanted)).state;
}

/**
 * After a reload that connected anew: the one request the fallback counted is merged into Redis (after the
 * reload, or, Redis slow to answer the first merge, once the retry finds it back), two more of `sender` are
 * accepted and the 4th deferred under a limit of 3; the shared count Redis holds (database `db`), for the
 * caller to assert.
 */
export async function sharedCountingResumes(
  daemon: DaemonProcess,
  sender: string,
  redisPort: number,
  db = 0,
): Promise<string> {
  const rcpt = `rcpt sender=${sender} recipient=x@example.net client_address=192.0.2.7\n`;
  await daemon.waitForLog(/counters added into Redis counters=1|Redis is back: .*mergedFromLocal=1/);
  for (const action of ["accept", "accept", "defer"]) {
    assert.match(await askPolicy(daemon.policySocket, rcpt), new RegExp(`^action=${action}`));
  }
  const where = ["-p", String(redisPort), "-n", String(db)];
  return execFileSync("redis-cli", [...where, "HGET", `mailpolicyd:{${sender}}:out`, "c"], {
    encoding: "utf8",
  })
    .trim();
}
