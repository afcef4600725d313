// A limit whose `key` is changed must not read the shared counters made under the old key: with
// `key = sender` changed to `recipient`, alice@, who had sent 3 of 3, would have her first message as a
// recipient deferred. Hosts not yet reloaded keep counting the old kind together; the old key put back
// finds its counters again. A real redis-server, two hosts (limits/redis-counter-kinds.ts).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { limitsOf, redisClient, redisHost } from "../helpers/redis-engines.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import type { SenderCounter } from "../../src/policy/sender-counter.ts";

const limitBy = (key: string) => limitsOf(`[limit out]\nkey = ${key}\ncount = 3\ntime = 1h\n`);
const ALICE = "alice@x.org";

describe("Redis store: a limit's key changed on some hosts", () => {
  let server: RedisServer;
  before(async () => server = await startRedisServer());
  after(() => server.stop());

  it("counts the new key afresh, apart from hosts still counting the old one", async () => {
    const client = redisClient(server);
    await client.flushdb();
    const bySender = redisHost(server, limitBy("sender"), Date.now);
    // The first host to reach Redis records the limit's key: let it be the sender host.
    await bySender.store.ready();
    const byRecipient = redisHost(server, limitBy("recipient"), Date.now);
    try {
      for (let i = 0; i < 3; i++) {
        assert.equal((await bySender.hit(ALICE, { recipient: `r${i}@y.org` })).action, "accept");
      }
      // Before: deferred, alice's 3 of 3 as a sender read as hers as a recipient.
      assert.equal((await byRecipient.hit("bob@x.org", { recipient: ALICE })).action, "accept");
      assert.equal((await bySender.hit(ALICE, { recipient: "r4@y.org" })).action, "defer", "still 3 of 3");

      assert.deepEqual((await byRecipient.show(ALICE)).map((row) => row.count), [1]);
      assert.deepEqual((await bySender.show(ALICE)).map((row) => row.count), [3]);
      assert.deepEqual((await byRecipient.top(10))!.map((row) => [row.key, row.count]), [[ALICE, 1]]);
      assert.deepEqual((await bySender.top(10, "out"))!.map((row) => [row.key, row.count]), [[ALICE, 3]]);
      const exported: [string, SenderCounter][] = [];
      await byRecipient.store.exportCounters((_, key, counter) => exported.push([key, counter]));
      assert.deepEqual(exported.map(([key, counter]) => [key, counter.count]), [[ALICE, 1]]);

      assert.deepEqual(await client.hgetall("mpd:limit-keys"), { out: "sender" }, "the first host's key");
      assert.deepEqual((await client.keys("mpd:{*")).sort(), [
        "mpd:{alice@x.org}:out",
        "mpd:{alice@x.org}:out:recipient",
      ]);

      // The recipient host reset alice: its own kind's counter only.
      await new Promise((done) => byRecipient.store.reset(ALICE, done));
      assert.deepEqual((await bySender.show(ALICE)).map((row) => row.count), [3]);
    } finally {
      await bySender.close();
      await byRecipient.close();
      client.disconnect();
    }
  });

  it("a reload changes the kind at once, and the old key put back finds its counters", async () => {
    const client = redisClient(server);
    await client.flushdb();
    const other = redisHost(server, limitBy("sender"), Date.now);
    const reloaded = redisHost(server, limitBy("sender"), Date.now);
    const reload = (key: string) => {
      const limits = limitBy(key);
      reloaded.store.configure(limits, 1_000_000);
      reloaded.engine.configure(limits, undefined);
    };
    try {
      for (let i = 0; i < 3; i++) await other.hit(ALICE, { recipient: `r${i}@y.org` });
      reload("recipient");
      assert.equal((await reloaded.hit("bob@x.org", { recipient: ALICE })).action, "accept");
      assert.equal((await reloaded.hit("carol@x.org", { recipient: ALICE })).action, "accept");
      reload("sender");
      assert.equal((await reloaded.hit(ALICE, { recipient: "r9@y.org" })).action, "defer", "3 of 3 again");
      assert.deepEqual((await reloaded.show(ALICE)).map((row) => row.count), [3]);
    } finally {
      await other.close();
      await reloaded.close();
      client.disconnect();
    }
  });
});
