// The `redis` part of a running daemon's /health, read over its control socket until it says what a test
// waits for: an incident's cause, the state after a reload.
import type { RedisHealth } from "../../src/limits/shared-store.ts";
import { httpGet } from "./http-get.ts";

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
