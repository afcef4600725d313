// The Redis counter store when Redis is not there as it should be: a Redis with requirepass, a client
// without the password, Redis killed, hung (SIGSTOP) and restarted empty (its scripts gone: NOSCRIPT,
// loaded again). A check or commit Redis cannot answer goes to `unavailable` (the client's command
// timeout bounds the wait; the clients here have 500 ms), never to `done` as well.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
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

  it("counts with the password, and hands every check to `unavailable` without it", async () => {
    const host = redisHost(server, LIMITS, Date.now);
    const stranger = redisHost(server, LIMITS, Date.now, {}, redisClient(server, { password: undefined }));
    try {
      for (let i = 0; i < 3; i++) await host.hit("a@x.org");
      assert.equal((await host.show("a@x.org"))[0].count, 2);
      assert.deepEqual(host.unavailable, []);
      assert.equal((await stranger.hit("a@x.org")).action, "accept", "answered by the fallback");
      assert.deepEqual(await unavailableCount(stranger, 1), ["check"]);
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

  it("hands a check and a commit to `unavailable` when Redis is gone, and counts again once it is back", async () => {
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
      assert.deepEqual(await unavailableCount(host, 2), ["commit", "check"]);

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

  it("hands a check to `unavailable` when Redis hangs, and nothing more when it wakes up", async () => {
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
      assert.deepEqual(await unavailableCount(host, 1), ["check"]);
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
});
