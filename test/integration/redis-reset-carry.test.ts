// A reset on one host while another host's local cache holds attempts of the key it counted (a strict
// limit over, docs/redis.md "The local cache of keys over a limit"): those attempts belong to the period
// the reset ended. They must not be added to the counter the key starts afresh after the reset, or the
// unblocked sender is blocked again (and alerted again) by what it sent before the reset.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { limitsOf, redisClient, redisHost } from "../helpers/redis-engines.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { counterKey } from "../../src/limits/redis-keys.ts";

describe("a reset on one host and another host's cached attempts", () => {
  let server: RedisServer;
  before(async () => server = await startRedisServer());
  after(() => server.stop());

  for (const algorithm of ["fixed", "sliding", "bucket"]) {
    for (const by of ["flush", "carry"] as const) {
      it(`${algorithm}: drops the attempts counted before the reset (${by})`, async () => {
        const limits = limitsOf(
          `[limit out]\nkey = sender\ncount = 2\ntime = 1h\nmode = strict\nalgorithm = ${algorithm}\n`,
        );
        const client = redisClient(server);
        await client.flushdb();
        // A bucket drains a little meanwhile.
        const count = async () =>
          Math.round(Number(await client.hget(counterKey("mpd:", "out", "r@y.org"), "c")));
        const one = redisHost(server, limits, Date.now, { overCacheMs: 300 });
        const two = redisHost(server, limits, Date.now, { overCacheMs: 300 });
        try {
          for (let i = 0; i < 3 + 10; i++) await one.hit("r@y.org"); // over at the 3rd, 10 answered by one
          assert.equal(await count(), 3);
          assert.equal(await new Promise((done) => two.store.reset("r@y.org", done)), 1);
          assert.equal((await two.hit("r@y.org")).action, "accept", "unblocked: counted afresh");
          await new Promise((done) => setTimeout(done, 350)); // one's entry has ended
          if (by === "flush") {
            one.store.expire(Date.now()); // the counters actor's tick flushes one's attempts
            await new Promise((done) => setTimeout(done, 200));
            assert.equal(await count(), 1, "the attempts before the reset are not added to the new counter");
            assert.equal((await two.hit("r@y.org")).action, "accept", "the second message after the reset");
          } else {
            assert.equal((await one.hit("r@y.org")).action, "accept", "the second message after the reset");
            assert.equal(await count(), 2, "the attempts before the reset are not added to the new counter");
          }
          assert.equal(
            two.crossings.length + one.crossings.length,
            1,
            "no second crossing (alert) after the reset",
          );
        } finally {
          await one.close();
          await two.close();
          client.disconnect();
        }
      });
    }
  }
});
