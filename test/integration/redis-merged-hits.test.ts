// One script call per turn (limits/redis-outbox.ts, HIT_SCRIPT): the hits of every request answered in
// one turn of the event loop are one EVALSHA against a real redis-server, each request answered as it would
// be alone (the same verdicts as the memory store, in the order sent), at most HITS_PER_CALL to a call; and
// a request Redis cannot answer (past its deadline, a script error on its counter) fails alone.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type Host,
  limitsOf,
  memoryHost,
  redisClient,
  type RedisHost,
  redisHost,
} from "../helpers/redis-engines.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { HITS_PER_CALL } from "../../src/limits/redis-outbox.ts";
import { HIT_SCRIPT } from "../../src/limits/redis-scripts.ts";
import { pushHitArgs } from "../../src/limits/redis-hit-args.ts";
import { hitCounter } from "../helpers/hit-counter.ts";

const LIMITS = "[limit out]\nkey = sender\ncount = 3\ntime = 1h\n" +
  "[limit net]\nkey = client_address/24\ncount = 1000\ntime = 1h\nalgorithm = sliding\naction = warn\n";

/** EVALSHA calls Redis has run since its statistics were reset. */
async function evalshaCalls(server: RedisServer): Promise<number> {
  const client = redisClient(server);
  try {
    const stats = await client.info("commandstats");
    return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  } finally {
    client.disconnect();
  }
}

type Extra = (i: number) => Record<string, string>;

/** Every sender's request sent in one turn (so one merged call): their actions, in order. */
function hitInOneTurn(redis: RedisHost, order: string[], extra: Extra): Promise<string[]> {
  return Promise.all(
    order.map((sender, i) =>
      new Promise<string>((resolve) =>
        redis.engine.hit(
          { form: "attributes", stage: "rcpt", attributes: { sender, ...extra(i) } },
          (verdict) => resolve(verdict!.action),
        )
      )
    ),
  );
}

/** The same requests one after the other on the memory store: the actions expected. */
async function hitOneByOne(memory: Host, order: string[], extra: Extra): Promise<string[]> {
  const actions: string[] = [];
  for (let i = 0; i < order.length; i++) actions.push((await memory.hit(order[i], extra(i))).action);
  return actions;
}

describe("Redis store: one script call per turn", () => {
  let server: RedisServer;
  before(async () => server = await startRedisServer());
  after(() => server.stop());

  it("a turn's hits are one call each up to HITS_PER_CALL, answered as the memory store answers", async () => {
    const limits = limitsOf(LIMITS);
    const redis = redisHost(server, limits, Date.now);
    const memory = memoryHost(limits, Date.now);
    try {
      await redis.hit("warm@x.org"); // the script loaded: no NOSCRIPT retry among the calls counted
      const admin = redisClient(server);
      await admin.config("RESETSTAT");
      admin.disconnect();
      // 10 senders × 4 recipients, all sent in one turn: 40 hits, so two calls of up to 32.
      const senders = Array.from({ length: 10 }, (_, i) => `s${i}@x.org`);
      const order = [0, 1, 2, 3].flatMap(() => senders);
      const extra: Extra = (i) => ({ client_address: `192.0.2.${i % 7}` });
      const answers = await hitInOneTurn(redis, order, extra);
      assert.equal(order.length, 40);
      assert.equal(await evalshaCalls(server), Math.ceil(40 / HITS_PER_CALL), "one call per 32 hits");
      const expected = await hitOneByOne(memory, order, extra);
      assert.deepEqual(answers, expected);
      assert.deepEqual(expected.slice(30), Array(10).fill("defer"), "each sender's 4th recipient deferred");
      // Each request's verdict decided its own counting: the /24 (leaky) counted the 30 accepted ones.
      const [net] = await redis.show("192.0.2.0/24");
      assert.equal(net.count, 30);
      assert.equal((await redis.show("s3@x.org"))[0].count, 3);
      assert.deepEqual(redis.unavailable, []);
    } finally {
      await redis.close();
    }
  });

  it("requests of one call whose words differ (one limit fewer, no client address) are each read as sent", async () => {
    // The script reads each distinct text of words once a call (HIT_SCRIPT's plan_of): a request must get
    // its own plan, not the one before it.
    const limits = limitsOf(LIMITS);
    const redis = redisHost(server, limits, Date.now);
    const memory = memoryHost(limits, Date.now);
    try {
      await redis.hit("warm@x.org");
      const senders = Array.from({ length: 6 }, (_, i) => `w${i}@x.org`);
      const order = [0, 1, 2, 3].flatMap(() => senders);
      const extra = (i: number): Record<string, string> =>
        i % 3 === 2 ? {} : { client_address: `198.51.100.${i}` };
      const answers = await hitInOneTurn(redis, order, extra);
      const expected = await hitOneByOne(memory, order, extra);
      assert.deepEqual(answers, expected);
      assert.deepEqual(expected.slice(18), Array(6).fill("defer"), "each sender's 4th recipient deferred");
      // The /24 counted the accepted requests that had a client address: 18 accepted, 12 of them with one.
      const [net] = await redis.show("198.51.100.0/24");
      assert.equal(net.count, 12);
      assert.deepEqual(redis.unavailable, []);
    } finally {
      await redis.close();
    }
  });

  it("requests of one call with and without a message instance and a subject get their own texts", async () => {
    // A request sends only the texts it has (redis-hit-args.ts), its words saying which: a request that
    // reads another's instance or subject would count a recipient of one message as another message's.
    const limits = limitsOf(
      "[limit msgs]\nkey = sender\ncount = 3\ntime = 1h\nper = message\n" +
        "[limit net]\nkey = client_address/24\ncount = 1000\ntime = 1h\nalgorithm = sliding\naction = warn\n",
    );
    const redis = redisHost(server, limits, Date.now);
    const memory = memoryHost(limits, Date.now);
    try {
      await redis.hit("warm@x.org");
      const senders = Array.from({ length: 5 }, (_, i) => `m${i}@x.org`);
      const order = [0, 1, 2, 3, 4, 5].flatMap(() => senders);
      // Two recipients of one message for most requests, a request without an instance every fourth, a
      // subject every third, an address every other.
      const extra = (i: number): Record<string, string> => ({
        ...(i % 4 === 3 ? {} : { instance: `msg-${Math.floor(i / 10)}-${i % 5}` }),
        ...(i % 3 === 0 ? { subject: `subject ${i}` } : {}),
        ...(i % 2 === 0 ? { client_address: `203.0.113.${i}` } : {}),
      });
      const answers = await hitInOneTurn(redis, order, extra);
      const expected = await hitOneByOne(memory, order, extra);
      assert.deepEqual(answers, expected);
      assert.ok(expected.includes("defer") && expected.includes("accept"), expected.join(" "));
      for (const sender of senders) {
        assert.equal((await redis.show(sender))[0].count, (await memory.show(sender))[0].count, sender);
      }
      assert.deepEqual(redis.unavailable, []);
    } finally {
      await redis.close();
    }
  });

  it("a request past its deadline or failing in the script fails alone; the others are answered", async () => {
    const client = redisClient(server);
    try {
      await client.flushdb();
      const [out] = limitsOf(LIMITS);
      const sha = await client.script("LOAD", HIT_SCRIPT) as string;
      // One request of one counter (count 1, not strict, refuses, alerts), as the store sends it.
      const requestArgs = (deadline: number) => {
        const argv: string[] = [];
        pushHitArgs(
          { subject: undefined, clientAddress: undefined, deadline, refused: false },
          [hitCounter(out)],
          argv,
        );
        return argv;
      };
      const keys = ["mpd:{late}:out", "mpd:{broken}:out", "mpd:{fine}:out", "mpd:{wrong}:out"];
      // Another program's string among the counters' names: replaced by the counter (docs/redis.md).
      await client.set("mpd:{wrong}:out", "not a hash");
      // A request whose limit count is not a number fails in the script, alone.
      const broken = requestArgs(0);
      const words = broken[0].split(" ");
      words[6] = "x"; // n, subject?, client?, deadline, refused, then the limit: algorithm, count, …
      broken[0] = words.join(" ");
      const replies = await client.evalsha(
        sha,
        4,
        ...keys,
        "",
        ...requestArgs(1), // a deadline long past (Redis's time, ms)
        ...broken,
        ...requestArgs(0),
        ...requestArgs(0),
      ) as unknown[];
      assert.equal(replies.length, 4);
      assert.match(String(replies[0]), /^LATE /);
      assert.doesNotMatch(String(replies[1]), /^1 /, "the broken request is answered with its error");
      assert.ok(!Array.isArray(replies[1]), String(replies[1]));
      for (const at of [2, 3]) {
        assert.ok(Array.isArray(replies[at]), `request ${at + 1} answered`);
        const [numbers] = replies[at] as string[];
        // new, charge 1, level 1, not over, no period left, not crossed; then Redis's time
        assert.match(numbers, /^1 1 1 0 0 0 \d{13}$/);
      }
      assert.equal(await client.hget("mpd:{fine}:out", "c"), "1");
      assert.equal(await client.hget("mpd:{wrong}:out", "c"), "1", "the string replaced by a counter");
      assert.equal(await client.exists("mpd:{late}:out"), 0, "a late request writes nothing");
      assert.equal(await client.exists("mpd:{broken}:out"), 0, "a failed request writes nothing");
    } finally {
      client.disconnect();
    }
  });
});
