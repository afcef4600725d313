// What the control plane and the upgrade path read from the shared counters (the Redis store's `show`,
// `reset` and `exportCounters`): one pipelined round trip per call, or per SCAN slice for the export.
import type { Redis } from "ioredis";
import type { LimitConfig } from "../model/limit.ts";
import type { SenderCounter } from "../policy/sender-counter.ts";
import { type SenderDetail, senderDetail } from "../policy/sender-report.ts";
import { counterFromHash } from "./redis-counter.ts";
import { counterKey, parseCounterKey } from "./redis-keys.ts";
import type { Replies } from "./redis-outbox.ts";

type Pipeline = ReturnType<Redis["pipeline"]>;

export interface RedisAdminOptions {
  client: Redis;
  prefix: string;
  limits: () => readonly LimitConfig[];
  /** The kind a limit's counters are named with (redis-counter-kinds.ts); undefined: none. */
  kindOf: (limit: string) => string | undefined;
  /** Sends a pipeline (counted as a round trip). */
  exec: (pipeline: Pipeline) => Promise<Replies>;
  /** Redis's time (ms). */
  now: () => Promise<number>;
  /** Every counter key, a SCAN slice at a time (limits/redis-top.ts). */
  scan: (rule: string | undefined, slice: (keys: string[]) => Promise<void>) => Promise<unknown>;
}

const replyOf = (replies: Replies, i: number) => {
  const [error, reply] = replies[i];
  if (error) throw error;
  return reply;
};

/**
 * A key among the counters' names that another program wrote with another type (WRONGTYPE): not a
 * counter. The scripts replace it at the key's next request (docs/redis.md); reading, it is passed over,
 * else one such key failed every `top`, the `show` of its key and the switch back to memory (the export
 * stopped at it: the counters after it were not brought into memory).
 */
export const isWrongType = (error: unknown) =>
  error instanceof Error && error.message.startsWith("WRONGTYPE");

/** A counter's HGETALL reply; a key of another type reads as no counter (isWrongType). */
const hashOf = (replies: Replies, i: number) =>
  isWrongType(replies[i][0]) ? {} : replyOf(replies, i) as Record<string, string>;

export function createRedisAdmin(options: RedisAdminOptions) {
  const { client, prefix } = options;
  const keyOf = (limit: LimitConfig, key: string) =>
    counterKey(prefix, limit.name, key, options.kindOf(limit.name));

  return {
    /** The key under every configured limit that holds it. */
    async show(key: string): Promise<SenderDetail[]> {
      const limits = options.limits();
      const pipeline = client.pipeline();
      for (const limit of limits) pipeline.hgetall(keyOf(limit, key));
      const [at, replies] = await Promise.all([options.now(), options.exec(pipeline)]);
      const rows: SenderDetail[] = [];
      limits.forEach((limit, i) => {
        const counter = counterFromHash(hashOf(replies, i));
        if (counter) rows.push(senderDetail(limit, key, counter, at));
      });
      return rows;
    },

    /** Forgets the key under every configured limit; how many held it. */
    async reset(key: string): Promise<number> {
      const limits = options.limits();
      const pipeline = client.pipeline();
      for (const limit of limits) pipeline.del(keyOf(limit, key));
      const replies = await options.exec(pipeline);
      let removed = 0;
      for (let i = 0; i < limits.length; i++) removed += replyOf(replies, i) as number;
      return removed;
    },

    /** Every counter of the configured limits (of the kind each counts by); how many were visited. */
    async exportCounters(
      visit: (limit: string, key: string, counter: SenderCounter) => void,
    ): Promise<number> {
      const configured = new Set(options.limits().map((limit) => limit.name));
      let visited = 0;
      await options.scan(undefined, async (keys) => {
        const named: { redisKey: string; limit: string; key: string }[] = [];
        for (const redisKey of keys) {
          const parsed = parseCounterKey(prefix, redisKey);
          if (parsed && configured.has(parsed.limit) && parsed.kind === options.kindOf(parsed.limit)) {
            named.push({ redisKey, ...parsed });
          }
        }
        const pipeline = client.pipeline();
        for (const { redisKey } of named) pipeline.hgetall(redisKey);
        const replies = await options.exec(pipeline);
        named.forEach(({ limit, key }, i) => {
          const counter = counterFromHash(hashOf(replies, i));
          if (counter === undefined) return; // expired between SCAN and HGETALL, or not a counter
          visit(limit, key, counter);
          visited++;
        });
      });
      return visited;
    },
  };
}
