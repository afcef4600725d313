// A reload that changes only how the same counters are reached ([redis] timeout), made while this host's
// counters are being merged into Redis (after an incident, or the state file's at start): none of them may
// be left behind in memory, unmerged, nor merged twice.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createCountersRedis } from "../../src/actors/counters-redis.ts";
import { counterKey } from "../../src/limits/redis-keys.ts";
import { bareMemoryStore } from "../helpers/bare-memory-store.ts";
import { host, mergeConfig, quiet, redisClient } from "../helpers/redis-engines.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

describe("[redis] reload during the merge of this host's counters", () => {
  let server: RedisServer;
  before(async () => server = await startRedisServer());
  after(() => server.stop());

  it("every counter reaches Redis once, none left in memory", async () => {
    const dir = makeTempDir();
    const local = bareMemoryStore(Date.now);
    const admin = redisClient(server);
    const counters = createCountersRedis({
      use: () => {},
      local,
      log: quiet,
      now: Date.now,
      changed: () => {},
      stateFile: () => dir.file("state.json"),
    });
    const config = mergeConfig(server, "300ms");
    try {
      await admin.flushall();
      counters.use(config);
      // The state file's counters (or an incident's): 2000 senders, twice each.
      const here = host(local, config.limits, Date.now, () => Promise.resolve());
      const senders = Array.from({ length: 2000 }, (_, i) => `m${i}@x.org`);
      for (const sender of senders) for (let n = 0; n < 2; n++) await here.hit(sender);
      counters.restored(); // the merge starts
      await new Promise((done) => setTimeout(done, 1));
      counters.use(mergeConfig(server, "400ms")); // only the timeout: the same counters
      const counts = async () =>
        (await Promise.all(
          senders.map((sender) => admin.hget(counterKey("mailpolicyd:", "out", sender), "c")),
        )).map(Number);
      for (let tries = 0; tries < 60; tries++) {
        if (local.keyCount() === 0 && (await counts()).every((count) => count === 2)) break;
        await new Promise((done) => setTimeout(done, 50));
      }
      assert.equal(local.keyCount(), 0, "left in memory, unmerged");
      const all = await counts();
      const wrong = senders.filter((_, i) => all[i] !== 2);
      assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} counters not counted 2 in Redis`);
    } finally {
      counters.stop();
      local.close();
      admin.disconnect();
      dir.remove();
    }
  });
});
