// The Redis counter store when Redis is not there as it should be: a Redis with requirepass, a client
// without the password, Redis killed, hung (SIGSTOP) and restarted empty (its scripts gone: NOSCRIPT,
// loaded again). A check or commit Redis cannot answer goes to `unavailable` (the client's command
// timeout bounds the wait; the clients here have 500 ms), never to `done` as well.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { CHECK_SCRIPT } from "../../src/limits/redis-scripts.ts";
import type { LimitsCheck } from "../../src/limits/limit-engine.ts";
import {
  limitsOf,
  memoryHost,
  redisClient,
  type RedisHost,
  redisHost,
  request,
} from "../helpers/redis-engines.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";

const LIMITS = limitsOf("[limit out]\nkey = sender\ncount = 2\ntime = 1h\n");

/** Waits (at most 10 s, so that a failure does not hang the run) until `host` has `count` failures. */
async function unavailableCount(host: RedisHost, count: number): Promise<string[]> {
  for (let tries = 0; tries < 200 && host.unavailable.length < count; tries++) {
    await new Promise((done) => setTimeout(done, 50));
  }
  return host.unavailable.map((failure) => failure.phase);
}

describe("Redis store: a Redis with requirepass", () => {
  let server: RedisServer;
  before(async () => server = await startRedisServer({ password: "s3cret pass" }));
  after(() => server.stop());

  it("counts with the password, and hands every request to `unavailable` without it", async () => {
    const host = redisHost(server, LIMITS, Date.now);
    const stranger = redisHost(server, LIMITS, Date.now, {}, redisClient(server, { password: undefined }));
    try {
      for (let i = 0; i < 3; i++) await host.hit("a@x.org");
      assert.equal((await host.show("a@x.org"))[0].count, 2);
      assert.deepEqual(host.unavailable, []);
      assert.equal((await stranger.hit("a@x.org")).action, "accept", "answered by the fallback");
      assert.deepEqual(await unavailableCount(stranger, 1), ["hit"]);
      assert.match(String(stranger.unavailable[0].error), /NOAUTH/);
    } finally {
      await host.close();
      await stranger.close();
    }
  });
});

describe("Redis store: Redis killed, hung, restarted", () => {
  let server: RedisServer;
  before(async () => server = await startRedisServer());
  after(() => server.stop());

  it("hands a commit, a hit and a check to `unavailable` when Redis is gone, and counts again once it is back", async () => {
    const host = redisHost(server, LIMITS, Date.now);
    try {
      await host.hit("a@x.org");
      const held = await new Promise<LimitsCheck>((resolve) =>
        host.engine.check(request("a@x.org"), resolve)
      );
      await server.kill9();
      host.engine.commit(held.ticket, false);
      assert.deepEqual(await unavailableCount(host, 1), ["commit"]);
      await new Promise((resolve) => host.engine.hit(request("a@x.org"), resolve));
      assert.deepEqual(await unavailableCount(host, 2), ["commit", "hit"]);
      await new Promise((resolve) => host.engine.check(request("a@x.org"), resolve));
      assert.deepEqual(await unavailableCount(host, 3), ["commit", "hit", "check"]);

      await server.restart(); // empty, without the scripts: NOSCRIPT, loaded again
      for (let tries = 0; tries < 100; tries++) {
        if (await host.client.ping().then(() => true, () => false)) break; // reconnected
        await new Promise((done) => setTimeout(done, 100));
      }
      const failures = host.unavailable.length;
      assert.equal((await host.hit("c@x.org")).action, "accept");
      assert.equal((await host.hit("c@x.org")).action, "accept");
      assert.equal((await host.hit("c@x.org")).action, "defer");
      assert.equal(host.unavailable.length, failures, "Redis answered");
      assert.equal((await host.show("c@x.org"))[0].count, 2, "counted in the restarted Redis");
    } finally {
      await host.close();
    }
  });

  // `show` said "no counter for KEY" and `reset` the same (exit 1 as for a key never seen) when Redis did not
  // answer, and `top` "the counters actor is down (restarting)": the postmaster read a sender as unblocked,
  // or not counted, while Redis held its counter. null: the shared counters did not answer (control/app.ts).
  it("show, reset and top answer null, not 'no counter', when Redis does not answer", async () => {
    const host = redisHost(server, LIMITS, Date.now);
    try {
      await host.hit("a@x.org");
      server.pause();
      assert.equal(await new Promise((done) => host.store.show("a@x.org", done)), null);
      assert.equal(await new Promise((done) => host.store.reset("a@x.org", done)), null);
      assert.equal(await new Promise((done) => host.store.top(10, undefined, done)), null);
    } finally {
      server.resume();
      await host.close();
    }
  });

  it("lets the memory store commit a batch Redis checked and could not commit (the fallback)", async () => {
    await server.restart();
    const memory = memoryHost(LIMITS, Date.now);
    const host = redisHost(server, LIMITS, Date.now, {
      unavailable: (batch, _phase, _error, done) => memory.store.commit(batch, Date.now(), done),
    });
    try {
      await host.hit("m@x.org");
      const held = await new Promise<LimitsCheck>((resolve) =>
        host.engine.check(request("m@x.org"), resolve)
      );
      await server.kill9();
      host.engine.commit(held.ticket, false);
      let rows: unknown[] = [];
      for (let tries = 0; tries < 200 && rows.length === 0; tries++) {
        await new Promise((done) => setTimeout(done, 50));
        rows = await memory.show("m@x.org");
      }
      assert.deepEqual((rows as { count: number }[]).map((row) => row.count), [1], "counted locally");
    } finally {
      await host.close();
      await server.restart();
    }
  });

  it("hands a hit whose answer is short to `unavailable`, rather than reading numbers that are not there", async () => {
    // The hit's answer is one text of six numbers per counter and Redis's time (HIT_SCRIPT); a shorter
    // one (a script of another version) is an error, not counts read from a previous answer.
    const client = redisClient(server);
    const pipelineOf = client.pipeline.bind(client);
    let cut = false;
    client.pipeline = ((...args: Parameters<typeof client.pipeline>) => {
      const pipeline = pipelineOf(...args);
      const exec = pipeline.exec.bind(pipeline);
      pipeline.exec = (async () => {
        const replies = (await exec())!;
        if (!cut) return replies;
        return replies.map((
          [error, value],
        ) => [
          error,
          Array.isArray(value)
            ? value.map((one) => Array.isArray(one) ? ["1 0", ...one.slice(1)] : one)
            : value,
        ]);
      }) as typeof pipeline.exec;
      return pipeline;
    }) as typeof client.pipeline;
    const host = redisHost(server, LIMITS, Date.now, {}, client);
    try {
      await host.hit("short@x.org");
      await host.hit("short@x.org");
      assert.deepEqual(host.unavailable, []);
      cut = true;
      await host.hit("short@x.org");
      const failed: RedisHost["unavailable"] = host.unavailable;
      assert.equal(failed.length, 1);
      assert.equal(failed[0].phase, "hit");
      assert.match(String(failed[0].error), /short/);
    } finally {
      await host.close();
    }
  });

  it("loads its scripts again when Redis has lost them (SCRIPT FLUSH), within the same check", async () => {
    const host = redisHost(server, LIMITS, Date.now);
    try {
      await host.hit("f@x.org");
      await host.client.script("FLUSH");
      await host.hit("f@x.org");
      assert.equal((await host.hit("f@x.org")).action, "defer");
      assert.deepEqual(host.unavailable, []);
    } finally {
      await host.close();
    }
  });

  it("hands a hit to `unavailable` when Redis hangs, and nothing more when it wakes up", async () => {
    const host = redisHost(server, LIMITS, Date.now);
    try {
      await host.hit("b@x.org");
      server.pause();
      let answers = 0;
      const answered = new Promise((resolve) =>
        host.engine.hit(request("b@x.org"), (verdict) => {
          answers++;
          resolve(verdict);
        })
      );
      assert.deepEqual(await unavailableCount(host, 1), ["hit"]);
      await answered;
      server.resume();
      await host.settle();
      await new Promise((done) => setTimeout(done, 100));
      assert.equal(answers, 1, "answered once: done is not called after unavailable");
      assert.equal(host.unavailable.length, 1);
    } finally {
      server.resume();
      await host.close();
    }
  });

  it("a hit or commit Redis runs after the client gave up writes nothing (the fallback counted it)", async () => {
    // The client's command timeout is 500 ms (redisClient); lateAfterMs is the daemon's [redis] timeout.
    const host = redisHost(server, LIMITS, Date.now, { lateAfterMs: 500 });
    try {
      await host.hit("late@x.org"); // counted: 1, and the clocks' offset known from its reply
      const held = await new Promise<LimitsCheck>((resolve) =>
        host.engine.check(request("late@x.org"), resolve)
      );
      server.pause();
      // Another key: a hit of late@x.org, whose check is held, would be a check and a commit (the held
      // check's reservation is added to its level: limit-engine.ts), not the one-script hit.
      await new Promise((resolve) => host.engine.hit(request("late2@x.org"), resolve));
      host.engine.commit(held.ticket, false);
      assert.deepEqual(await unavailableCount(host, 2), ["hit", "commit"]);
      await new Promise((done) => setTimeout(done, 300)); // past the deadline: the failures took 500 ms
      server.resume();
      await host.settle();
      assert.equal((await host.show("late@x.org"))[0].count, 1, "neither queued call counted");
      assert.deepEqual(await host.show("late2@x.org"), [], "nor the hit");
      // Redis's answer to them was an error naming the reason (nobody waits for it any more).
      const sha = createHash("sha1").update(CHECK_SCRIPT).digest("hex");
      const reply = await host.client.evalsha(sha, 0, "", 0, "", 0, "", 1) // deadline: 1 ms after 1970
        .catch((error: Error) => error.message);
      assert.match(String(reply), /LATE the client gave up on this call/);
    } finally {
      server.resume();
      await host.close();
    }
  });

  // The deadline is this host's clock plus the offset to Redis's, learned from replies. The offset was
  // refreshed only from a successful reply: once this host's clock stepped back by more than the timeout
  // (NTP, a VM resumed), every call was LATE for good, so none succeeded to correct it, and the host
  // counted on its fallback (a new incident at every retry) until restarted.
  it("a host clock stepped back by more than the timeout: one call LATE at most, then counted in Redis", async () => {
    const limits = limitsOf("[limit out]\nkey = sender\ncount = 10\ntime = 1h\n");
    const host = redisHost(server, limits, Date.now, { lateAfterMs: 200 });
    const realNow = Date.now;
    try {
      await host.hit("step@x.org"); // the offset known from its reply
      Date.now = () => realNow() - 5_000;
      for (let i = 0; i < 3; i++) await host.hit("step@x.org");
      assert.ok(host.unavailable.length <= 1, host.unavailable.map((u) => String(u.error)).join("; "));
      assert.equal(
        (await host.show("step@x.org"))[0].count,
        4 - host.unavailable.length,
        "counted in Redis again after the clock step",
      );
    } finally {
      Date.now = realNow;
      await host.close();
    }
  });
});
