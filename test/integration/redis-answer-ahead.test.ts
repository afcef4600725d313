// [redis] answer_ahead = yes against a real redis-server (limits/ahead-levels.ts): a request far from its
// limits is accepted before Redis answers, and Redis still counts it; near a limit every request waits for
// Redis, so one host defers a sender at exactly N+1; several hosts over-grant at most what ahead-levels.ts
// says, and alert once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setImmediate } from "node:timers";
import { AHEAD_WAIT_MS } from "../../src/limits/redis-outbox.ts";
import { limitsOf, redisClient, type RedisHost, redisHost, request } from "../helpers/redis-engines.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import type { LimitsCheck } from "../../src/limits/limit-engine.ts";

const ALGORITHMS = ["fixed", "sliding", "bucket"] as const;

/**
 * Until the hits queued so far are sent: the store sends a turn's hits after the turn, and those of answers
 * ahead up to AHEAD_WAIT_MS later (redis-outbox.ts), so a PING sent at once could come back first.
 */
const hitsSent = () => new Promise((done) => setTimeout(done, AHEAD_WAIT_MS + 1));

/** A hit, then its answer from Redis: what was answered ahead is only known once this has. */
async function hitAnswered(host: RedisHost, sender: string): Promise<string> {
  const verdict = await host.hit(sender);
  await hitsSent();
  await host.client.ping();
  return verdict.action;
}

const limitText = (algorithm: string, count: number) =>
  `[limit out]\nkey = sender\ncount = ${count}\ntime = 1h\nalgorithm = ${algorithm}\n` +
  (algorithm === "bucket" ? `burst = ${count}\n` : "");

describe("Redis store: answers ahead of Redis", () => {
  let server: RedisServer;
  before(async () => {
    server = await startRedisServer();
    // The scripts loaded once, as a running daemon has them: a first call's NOSCRIPT and reload would
    // otherwise put its answer after the PING the tests wait for.
    const warm = redisHost(server, limitsOf(limitText("fixed", 10)), Date.now);
    await warm.hit("warm@x.org");
    await warm.close();
  });
  after(() => server.stop());
  const flush = async () => {
    const client = redisClient(server);
    await client.flushdb();
    client.disconnect();
  };

  for (const algorithm of ALGORITHMS) {
    it(`${algorithm}: one host accepts ahead while far from the limit and defers at exactly N+1`, async () => {
      await flush();
      const one = redisHost(server, limitsOf(limitText(algorithm, 10)), Date.now, { answerAhead: true });
      try {
        // Its first hit would otherwise wait for the counters' names, and `settle` come back before it.
        await one.store.ready();
        // Accepted in the call itself: the verdict does not wait for Redis.
        let answered: string | undefined;
        one.engine.hit(request("a@x.org"), (verdict) => answered = verdict?.action);
        assert.equal(answered, "accept");
        await hitsSent();
        await one.settle();
        const actions = [];
        for (let i = 1; i < 12; i++) actions.push(await hitAnswered(one, "a@x.org"));
        assert.deepEqual(actions, [...Array(9).fill("accept"), "defer", "defer"]);
        const stats = one.store.stats();
        assert.equal(stats.answeredAhead, 5, "up to half the limit (10 / 2), then Redis decides");
        assert.equal(stats.aheadOver, 0);
        assert.equal((await one.show("a@x.org"))[0].count, 10, "Redis counted the answers ahead");
        assert.equal(one.crossings.length, 1);
      } finally {
        await one.close();
      }
    });
  }

  it("requests of one new sender at once: the first goes ahead alone, and exactly N are accepted", async () => {
    await flush();
    const one = redisHost(server, limitsOf(limitText("fixed", 10)), Date.now, { answerAhead: true });
    try {
      const verdicts = await Promise.all(Array.from({ length: 30 }, () => one.hit("burst@x.org")));
      assert.equal(verdicts.filter((verdict) => verdict.action === "accept").length, 10);
      assert.equal(one.store.stats().answeredAhead, 1, "its level unknown: one in flight");
      assert.equal((await one.show("burst@x.org"))[0].count, 10);
    } finally {
      await one.close();
    }
  });

  it("two hosts: a host whose level is stale over-grants one request, counted in aheadOver; one alert", async () => {
    await flush();
    const limits = limitsOf(limitText("fixed", 10));
    const [one, two] = [0, 1].map(() => redisHost(server, limits, Date.now, { answerAhead: true }));
    try {
      assert.equal(await hitAnswered(two, "split@x.org"), "accept"); // two knows the level: 1
      const actions = [];
      for (let i = 0; i < 10; i++) actions.push(await hitAnswered(one, "split@x.org"));
      assert.deepEqual(
        actions,
        [...Array(9).fill("accept"), "defer"],
        "exactly N+1 for the host that counts",
      );
      // Two last heard 1 of 10: within half, so it accepts ahead; Redis then finds the sender over.
      assert.equal(await hitAnswered(two, "split@x.org"), "accept");
      assert.equal(two.store.stats().aheadOver, 1);
      assert.equal(await hitAnswered(two, "split@x.org"), "defer", "from then on two waits for Redis");
      assert.equal(one.crossings.length + two.crossings.length, 1, "one alert for the cluster");
      assert.equal((await one.show("split@x.org"))[0].count, 10, "leaky: the over-grant is not counted");
    } finally {
      await one.close();
      await two.close();
    }
  });

  it("one host: hits on their way to Redis that were not answered ahead count in the key's estimate", async () => {
    await flush();
    const limits = limitsOf(
      limitText("fixed", 10) + "[limit ip]\nkey = client_address\ncount = 1000\ntime = 1h\n",
    );
    const one = redisHost(server, limits, Date.now, { answerAhead: true });
    try {
      const from = (address: string) => ({ client_address: address });
      assert.equal((await one.hit("c@x.org", from("192.0.2.1"))).action, "accept"); // c's level: 1
      await hitsSent();
      await one.client.ping();
      // A burst from an address new to the host: its first request goes ahead, the others wait for Redis
      // (the address's level unknown), and Redis fills c's limit with them.
      const verdicts: Promise<string>[] = [];
      const hit = (address: string) =>
        verdicts.push(
          new Promise((resolve) =>
            one.engine.hit(request("c@x.org", from(address)), (verdict) => resolve(verdict!.action))
          ),
        );
      for (let i = 0; i < 12; i++) hit("192.0.2.2");
      // c is known at 1 and this host has 13 of its requests on their way: not far from the limit.
      hit("192.0.2.1");
      const actions = await Promise.all(verdicts);
      assert.deepEqual(actions, [...Array(9).fill("accept"), ...Array(4).fill("defer")], "exactly N+1");
      assert.equal(one.store.stats().aheadOver, 0);
    } finally {
      await one.close();
    }
  });

  it("one host: what its checks and commits counted (two passes, as with [spf]) counts for its answers ahead", async () => {
    await flush();
    const one = redisHost(server, limitsOf(limitText("fixed", 10)), Date.now, { answerAhead: true });
    try {
      // The policy engine hits (one pass) when SPF answered from its cache, else checks and commits.
      assert.equal(await hitAnswered(one, "d@x.org"), "accept"); // d's level: 1
      for (let i = 0; i < 9; i++) assert.equal((await one.checkCommit("d@x.org", false)).action, "accept");
      assert.equal((await one.show("d@x.org"))[0].count, 10);
      assert.equal(await hitAnswered(one, "d@x.org"), "defer", "exactly N+1");
      assert.equal(one.store.stats().aheadOver, 0);
      // Commits on their way count too: d@y.org known at 1, then 9 commits sent, then a hit.
      assert.equal(await hitAnswered(one, "d@y.org"), "accept");
      const checks = await Promise.all(
        Array.from(
          { length: 9 },
          () => new Promise<LimitsCheck>((resolve) => one.engine.check(request("d@y.org"), resolve)),
        ),
      );
      for (const check of checks) one.engine.commit(check.ticket, false);
      assert.equal(await hitAnswered(one, "d@y.org"), "defer", "exactly N+1");
      assert.equal(one.store.stats().aheadOver, 0);
    } finally {
      await one.close();
    }
  });

  it("the hits of answers ahead from several turns share one call (redis-outbox.ts AHEAD_WAIT_MS)", async () => {
    await flush();
    const one = redisHost(server, limitsOf(limitText("fixed", 10)), Date.now, { answerAhead: true });
    try {
      await hitAnswered(one, "warm@x.org");
      const before = one.store.stats();
      for (let i = 0; i < 5; i++) {
        let answered = false;
        one.engine.hit(request(`turn${i}@x.org`), () => answered = true);
        assert.ok(answered, "answered ahead");
        await new Promise((done) => setImmediate(done)); // the next request comes in a later turn
      }
      await new Promise((done) => setTimeout(done, 50));
      await one.client.ping();
      const after = one.store.stats();
      assert.equal(after.answeredAhead - before.answeredAhead, 5);
      // One call when the five turns fit in the wait (a few µs each); one per turn before.
      assert.ok(
        after.roundTrips - before.roundTrips < 5,
        `${after.roundTrips - before.roundTrips} round trips`,
      );
      for (let i = 0; i < 5; i++) assert.equal((await one.show(`turn${i}@x.org`))[0].count, 1);
    } finally {
      await one.close();
    }
  });

  it("answer_ahead off (the default): nothing is answered ahead", async () => {
    await flush();
    const one = redisHost(server, limitsOf(limitText("fixed", 10)), Date.now);
    try {
      let answered = false;
      one.engine.hit(request("b@x.org"), () => answered = true);
      assert.equal(answered, false, "the verdict waits for Redis");
      await waitFor(() => answered, 5000, "Redis's answer");
      assert.equal(one.store.stats().answeredAhead, 0);
    } finally {
      await one.close();
    }
  });

  it("Redis killed with an answer ahead in flight: the fallback gets it, and the key goes ahead again later", async () => {
    await flush();
    const one = redisHost(server, limitsOf(limitText("fixed", 10)), Date.now, { answerAhead: true });
    try {
      await hitAnswered(one, "warm@x.org"); // the connection and Redis's clock are known
      await server.kill9();
      let answered: string | undefined;
      one.engine.hit(request("new@x.org"), (verdict) => answered = verdict?.action);
      assert.equal(answered, "accept", "accepted ahead: its level unknown, none in flight");
      for (let tries = 0; tries < 200 && one.unavailable.length === 0; tries++) {
        await new Promise((done) => setTimeout(done, 50));
      }
      assert.deepEqual(one.unavailable.map((failure) => failure.phase), ["hit"]);
      await server.restart();
      for (let tries = 0; tries < 100; tries++) {
        if (await one.client.ping().then(() => true, () => false)) break; // reconnected
        await new Promise((done) => setTimeout(done, 100));
      }
      const before = one.store.stats().answeredAhead;
      assert.equal(await hitAnswered(one, "new@x.org"), "accept");
      // Had the failed flight stayed, the key (level still unknown) would have waited for Redis.
      assert.equal(one.store.stats().answeredAhead, before + 1);
    } finally {
      await one.close();
    }
  });
});
