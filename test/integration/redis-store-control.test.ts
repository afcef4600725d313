// The Redis counter store against a real redis-server, beyond counting: keys expire by themselves,
// top / show / reset from any host, keys with braces, the upgrade paths (adopt, export, add a local
// count), the local cache of keys over a limit.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { limitsOf, memoryHost, redisClient, redisHost, request } from "../helpers/redis-engines.ts";
import type { LimitsCheck } from "../../src/limits/limit-engine.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { counterKey, parseCounterKey } from "../../src/limits/redis-keys.ts";
import { ALERT_SENT, makeCounter, recordSighting } from "../../src/policy/sender-counter.ts";
import type { SenderCounter } from "../../src/policy/sender-counter.ts";

const SENDER_IP = "[limit out]\nkey = sender\ncount = 3\ntime = 1h\n" +
  "[limit ip]\nkey = client_address\ncount = 10\ntime = 1h\naction = warn\n";

/** Three limits on the sender, one per algorithm: f (fixed), s (sliding), b (bucket). */
const perSender = (count: number, time: string) =>
  ["fixed", "sliding", "bucket"].map((algorithm) =>
    `[limit ${algorithm[0]}]\nkey = sender\ncount = ${count}\ntime = ${time}\nalgorithm = ${algorithm}\n`
  ).join("");

describe("Redis store: the shared counters from any host", () => {
  let server: RedisServer;
  const admin = () => redisClient(server);
  before(async () => server = await startRedisServer());
  after(() => server.stop());

  it("expires every counter once its window ends (only the limits' keys stay), for each algorithm", async () => {
    const client = admin();
    await client.flushdb();
    const limits = limitsOf(perSender(2, "1s"));
    const host = redisHost(server, limits, Date.now);
    try {
      for (const sender of ["a@x.org", "b@x.org", "a@x.org", "a@x.org"]) await host.hit(sender);
      assert.equal(await client.dbsize(), 7);
      for (const key of await client.keys("mpd:{*")) {
        const ttl = await client.pttl(key);
        assert.ok(ttl > 0 && ttl <= 2000, `${key}: TTL ${ttl} ms, at most two windows`);
      }
      let keys = -1;
      for (let tries = 0; tries < 60 && keys !== 1; tries++) {
        await new Promise((done) => setTimeout(done, 100));
        keys = await client.dbsize();
      }
      // What is left: the one hash naming each limit's key (limits/redis-counter-kinds.ts), a field a limit.
      assert.deepEqual(await client.keys("*"), ["mpd:limit-keys"], "no counter left after the windows");
      assert.deepEqual(await client.hgetall("mpd:limit-keys"), { f: "sender", s: "sender", b: "sender" });
    } finally {
      await host.close();
      client.disconnect();
    }
  });

  it("moves a key's TTL only when the counter's end moves: a new window, a changed limit, a bucket", async () => {
    const client = admin();
    await client.flushdb();
    const key = counterKey("mpd:", "out", "a@x.org");
    const hour = limitsOf("[limit out]\nkey = sender\ncount = 10\ntime = 1h\n");
    const first = redisHost(server, hour, Date.now);
    try {
      await first.hit("a@x.org");
      const ttl = await client.pttl(key);
      assert.ok(ttl > 3_590_000 && ttl <= 3_600_000, `TTL ${ttl} ms: the window`);
      await client.pexpire(key, 3_000_000); // a TTL the next request in the same window leaves alone
      await first.hit("a@x.org");
      const kept = await client.pttl(key);
      assert.ok(kept > 2_990_000 && kept <= 3_000_000, `TTL ${kept} ms: not set again in the same window`);
      assert.equal(await client.hget(key, "c"), "2");
    } finally {
      await first.close();
    }
    const twoHours = limitsOf("[limit out]\nkey = sender\ncount = 10\ntime = 2h\n");
    const second = redisHost(server, twoHours, Date.now);
    try {
      await second.hit("a@x.org");
      const moved = await client.pttl(key);
      assert.ok(moved > 7_190_000 && moved <= 7_200_000, `TTL ${moved} ms: the longer window's end`);
      assert.equal(await client.hget(key, "c"), "3");
    } finally {
      await second.close();
    }
    const bucket = limitsOf("[limit b]\nkey = sender\ncount = 10\ntime = 10s\nalgorithm = bucket\n");
    const third = redisHost(server, bucket, Date.now);
    const drains = counterKey("mpd:", "b", "a@x.org");
    try {
      await third.hit("a@x.org");
      const one = await client.pttl(drains);
      assert.ok(one > 0 && one <= 1_000, `TTL ${one} ms: one drains in a second`);
      for (let i = 0; i < 4; i++) await third.hit("a@x.org");
      const five = await client.pttl(drains);
      assert.ok(five > 4_000 && five <= 5_000, `TTL ${five} ms: five drain in five seconds`);
    } finally {
      await third.close();
    }
  });

  it("top, show and reset see what other hosts counted", async () => {
    const client = admin();
    await client.flushdb();
    const limits = limitsOf(SENDER_IP);
    const [one, two] = [redisHost(server, limits, Date.now), redisHost(server, limits, Date.now)];
    try {
      const ip = { client_address: "192.0.2.9" };
      for (const sender of ["a@x.org", "a@x.org", "c@x.org", "b@x.org", "c@x.org", "a@x.org"]) {
        await one.hit(sender, { ...ip, subject: `Hi ${sender}` });
      }
      assert.deepEqual(
        (await two.top(3, "out"))!.map((row) => [row.key, row.count]),
        [["a@x.org", 3], ["c@x.org", 2], ["b@x.org", 1]],
      );
      // Ranked by count over limit: 3/3, 2/3, 6/10.
      assert.deepEqual((await two.top(3))!.map((row) => [row.rule, row.key, row.count]), [
        ["out", "a@x.org", 3],
        ["out", "c@x.org", 2],
        ["ip", "192.0.2.9", 6],
      ]);
      const [shown] = await two.show("a@x.org");
      assert.deepEqual([shown.rule, shown.count, shown.atLimit, shown.subjects, shown.clientIps], [
        "out",
        3,
        true,
        [["Hi a@x.org", 3]],
        [["192.0.2.9", 3]],
      ]);
      assert.equal(await new Promise((done) => two.store.reset("a@x.org", done)), 1);
      assert.deepEqual(await one.show("a@x.org"), []);
      assert.equal((await one.hit("a@x.org")).action, "accept", "counted afresh after the reset");
    } finally {
      await one.close();
      await two.close();
      client.disconnect();
    }
  });

  it("top, show and the export pass over a key among the counters' names that holds another type", async () => {
    const client = admin();
    await client.flushdb();
    const limits = limitsOf(SENDER_IP);
    const host = redisHost(server, limits, Date.now);
    try {
      const senders = Array.from({ length: 40 }, (_, i) => `s${i}@x.org`);
      for (const sender of senders) await host.hit(sender);
      // Another program's keys where the counters are (a string; a list under a limit no longer configured).
      await client.set(counterKey("mpd:", "out", "junk@x.org"), "not a hash");
      await client.rpush(counterKey("mpd:", "gone", "junk@x.org"), "x");
      const rows = await host.top(100, "out");
      assert.ok(rows, "top answers (it used to fail on the WRONGTYPE: 'the counters actor is down')");
      assert.equal(rows.length, 40);
      assert.deepEqual(await host.show("junk@x.org"), [], "no counter: the string is not one");
      const exported: string[] = [];
      await host.store.exportCounters((limit, key) => exported.push(`${limit} ${key}`));
      // The switch back to memory must bring every counter, not stop at the string.
      assert.deepEqual(exported.sort(), senders.map((sender) => `out ${sender}`).sort());
    } finally {
      await host.close();
      client.disconnect();
    }
  });

  it("top after a reset on this host no longer lists the key, however many counters there are", async () => {
    const client = admin();
    await client.flushdb();
    const host = redisHost(server, limitsOf(SENDER_IP), Date.now);
    try {
      // More counters than one SCAN slice: such a ranking serves every reader for a second.
      const pipeline = client.pipeline();
      for (let i = 0; i < 1500; i++) {
        pipeline.hset(counterKey("mpd:", "out", `f${i}@x.org`), { t: Date.now(), c: 1, l: Date.now(), a: 0 });
      }
      await pipeline.exec();
      for (let i = 0; i < 3; i++) await host.hit("hot@x.org");
      assert.deepEqual((await host.top(1, "out"))!.map((row) => row.key), ["hot@x.org"]);
      assert.equal(await new Promise((done) => host.store.reset("hot@x.org", done)), 1);
      const after = (await host.top(1, "out"))!.map((row) => row.key);
      assert.notDeepEqual(after, ["hot@x.org"], "the ranking made before the reset is not served after it");
    } finally {
      await host.close();
      client.disconnect();
    }
  });

  it("counts over the Unix socket as over TCP (the same counters)", async () => {
    const client = admin();
    await client.flushdb();
    const limits = limitsOf(SENDER_IP);
    const local = redisHost(server, limits, Date.now, {}, redisClient(server, { path: server.socket }));
    const tcp = redisHost(server, limits, Date.now);
    try {
      await local.hit("u@x.org");
      await tcp.hit("u@x.org");
      assert.equal((await local.show("u@x.org"))[0].count, 2);
    } finally {
      await local.close();
      await tcp.close();
      client.disconnect();
    }
  });

  it("keeps a key with braces, percent signs and colons in its own hash tag, and shows it unchanged", async () => {
    const client = admin();
    await client.flushdb();
    const host = redisHost(server, limitsOf(SENDER_IP), Date.now);
    try {
      const odd = "{x}%7d:}@x.org";
      await host.hit(odd);
      assert.deepEqual(await client.keys("mpd:{*"), ["mpd:{%7bx%7d%257d:%7d@x.org}:out"]);
      assert.deepEqual((await host.top(5))!.map((row) => row.key), [odd]);
      assert.equal((await host.show(odd))[0].count, 1);
    } finally {
      await host.close();
      client.disconnect();
    }
  });

  it("keeps one sender's counters under every limit in one Redis Cluster slot (CLUSTER KEYSLOT)", async () => {
    const client = admin();
    await client.flushdb();
    const limits = limitsOf(
      perSender(5, "1h") + "[limit net]\nkey = client_address/24\ncount = 100\ntime = 1h\n",
    );
    const host = redisHost(server, limits, Date.now);
    const cluster = await startRedisServer({ cluster: true });
    const slots = redisClient(cluster);
    try {
      const senders = ["a@x.org", "{b}:%7d@x.org", "<>"];
      for (const sender of senders) await host.hit(sender, { client_address: "192.0.2.7" });
      const written = await client.keys("mpd:{*");
      assert.equal(written.length, 3 * senders.length + 1, written.join(" "));
      const slotOf = async (key: string) => Number(await slots.call("CLUSTER", "KEYSLOT", key));
      const slotsByKey = new Map<string, Set<number>>();
      for (const redisKey of written) {
        const { key } = parseCounterKey("mpd:", redisKey)!;
        slotsByKey.set(key, (slotsByKey.get(key) ?? new Set()).add(await slotOf(redisKey)));
      }
      assert.deepEqual([...slotsByKey.keys()].sort(), [...senders, "192.0.2.0/24"].sort());
      for (const sender of senders) assert.equal(slotsByKey.get(sender)!.size, 1, sender);
      const senderSlots = senders.map((sender) => [...slotsByKey.get(sender)!][0]);
      assert.equal(new Set(senderSlots).size, senders.length, "each sender its own slot (for these three)");
      assert.equal(await slotOf(counterKey("mpd:", "net", "192.0.2.0/24")), await slotOf("192.0.2.0/24"));
    } finally {
      slots.disconnect();
      await cluster.stop();
      await host.close();
      client.disconnect();
    }
  });

  it("adopts local counters only where Redis has none, and exports them back unchanged", async () => {
    const client = admin();
    await client.flushdb();
    const limits = limitsOf(SENDER_IP);
    const local = memoryHost(limits, Date.now);
    const redis = redisHost(server, limits, Date.now);
    try {
      for (const sender of ["a@x.org", "a@x.org", "b@x.org"]) {
        await local.hit(sender, { client_address: "192.0.2.1", subject: "Hello" });
      }
      await redis.hit("b@x.org"); // Redis has b already: the local one must not overwrite it
      const tables = (local.store as unknown as { snapshotTables(): Map<string, Map<string, SenderCounter>> })
        .snapshotTables();
      const adopted: string[] = [];
      for (const limit of limits) {
        for (const [key, counter] of tables.get(limit.name)!) {
          if (await redis.store.adoptIfAbsent(limit, key, counter)) adopted.push(`${limit.name} ${key}`);
        }
      }
      assert.deepEqual(adopted, ["out a@x.org", "ip 192.0.2.1"]);
      assert.equal((await redis.show("a@x.org"))[0].count, 2);
      assert.equal((await redis.show("b@x.org"))[0].count, 1, "Redis's own counter kept");
      assert.equal(
        await redis.store.adoptIfAbsent(limits[0], "a@x.org", tables.get("out")!.get("a@x.org")!),
        false,
      );

      const exported = new Map<string, SenderCounter>();
      const count = await redis.store.exportCounters((limit, key, counter) =>
        exported.set(`${limit} ${key}`, counter)
      );
      assert.equal(count, 3);
      const a = exported.get("out a@x.org")!;
      const original = tables.get("out")!.get("a@x.org")!;
      assert.deepEqual([a.start, a.count, a.last, a.alert], [
        original.start,
        2,
        original.last,
        original.alert,
      ]);
      assert.deepEqual([...a.subjects!], [["Hello", 2]]);
      assert.deepEqual([...a.clientIps!], [["192.0.2.1", 2]]);
    } finally {
      await redis.close();
      client.disconnect();
    }
  });

  it("adds a locally counted charge after an outage, never lowering Redis's count", async () => {
    const client = admin();
    await client.flushdb();
    const limits = limitsOf(SENDER_IP);
    const redis = redisHost(server, limits, Date.now);
    try {
      await redis.hit("a@x.org");
      await redis.hit("a@x.org");
      const counted = makeCounter(Date.now(), 3, Date.now(), ALERT_SENT);
      recordSighting(counted, "During the outage", "192.0.2.7");
      await redis.store.addLocal(limits[0], "a@x.org", counted);
      await redis.store.addLocal(limits[0], "fresh@x.org", makeCounter(Date.now(), 1, Date.now(), 0));
      const [row] = await redis.show("a@x.org");
      assert.deepEqual([row.count, row.alert, row.subjects], [5, "sent", [["During the outage", 1]]]);
      assert.equal((await redis.show("fresh@x.org"))[0].count, 1);
      assert.equal((await redis.hit("a@x.org")).action, "defer");
    } finally {
      await redis.close();
      client.disconnect();
    }
  });
});

describe("Redis store: round trips", () => {
  let server: RedisServer;
  before(async () => server = await startRedisServer());
  after(() => server.stop());

  it("sends every limit of a request in one script call, and the requests of one turn together", async () => {
    const host = redisHost(server, limitsOf(SENDER_IP), Date.now);
    try {
      await host.hit("warm@x.org", { client_address: "192.0.2.1" }); // connected, scripts loaded
      const before = host.store.stats();
      await host.hit("a@x.org", { client_address: "192.0.2.1" });
      const one = host.store.stats();
      // The limits alone decide: check and commit in one call (the hit script), one round trip.
      assert.deepEqual([one.roundTrips - before.roundTrips, one.batches - before.batches], [1, 1]);
      // Two passes (another concern also answers): a call for the check, one for the commit.
      const held = await new Promise<LimitsCheck>((resolve) =>
        host.engine.check(request("b@x.org", { client_address: "192.0.2.1" }), resolve)
      );
      host.engine.commit(held.ticket, false);
      await host.settle();
      const two = host.store.stats();
      assert.deepEqual([two.roundTrips - one.roundTrips, two.batches - one.batches], [2, 2]);
      const asked = Array.from(
        { length: 10 },
        (_, i) =>
          new Promise((resolve) =>
            host.engine.hit(request(`u${i}@x.org`, { client_address: "192.0.2.1" }), resolve)
          ),
      );
      await Promise.all(asked);
      await host.settle();
      const ten = host.store.stats();
      assert.equal(ten.batches - two.batches, 10, "one call each");
      assert.ok(ten.roundTrips - two.roundTrips < 10, `${ten.roundTrips - two.roundTrips} round trips`);
    } finally {
      await host.close();
    }
  });
});

describe("Redis store: the local cache of keys over a limit", () => {
  let server: RedisServer;
  before(async () => server = await startRedisServer());
  after(() => server.stop());

  it("answers a key over a leaky deferring limit without a round trip, committing nothing", async () => {
    const limits = limitsOf("[limit out]\nkey = sender\ncount = 1\ntime = 1h\n");
    const host = redisHost(server, limits, Date.now, { overCacheMs: 60_000 });
    try {
      await host.hit("hot@x.org");
      assert.equal((await host.hit("hot@x.org")).action, "defer"); // Redis says over: cached from now on
      const before = host.store.stats();
      for (let i = 0; i < 5; i++) assert.equal((await host.hit("hot@x.org")).action, "defer");
      const after = host.store.stats();
      // settle() sends one PING per request, not counted as the store's: the store sent nothing.
      assert.equal(after.roundTrips, before.roundTrips);
      assert.equal(after.cacheHits - before.cacheHits, 5);
      assert.equal((await host.hit("cold@x.org")).action, "accept");
      assert.equal(host.store.stats().roundTrips, after.roundTrips + 1, "checked and committed in one call");
    } finally {
      await host.close();
    }
  });

  it("asks no limit the cached refusal decides for: a hot sender under a second limit costs nothing", async () => {
    // As the benchmark's attribute form: per sender (defers), per client network (warns, sliding).
    const limits = limitsOf(
      "[limit out]\nkey = sender\ncount = 2\ntime = 1h\n" +
        "[limit network]\nkey = client_address/24\ncount = 1000000\ntime = 1h\nalgorithm = sliding\naction = warn\n",
    );
    const host = redisHost(server, limits, Date.now, { overCacheMs: 60_000 });
    try {
      const ip = { client_address: "198.51.100.1" };
      for (let i = 0; i < 3; i++) await host.hit("hot2@x.org", ip);
      const before = host.store.stats();
      for (let i = 0; i < 5; i++) assert.equal((await host.hit("hot2@x.org", ip)).action, "defer");
      assert.equal(host.store.stats().roundTrips, before.roundTrips);
      assert.equal((await host.show("198.51.100.0/24"))[0].count, 2, "the refused attempts were not counted");
    } finally {
      await host.close();
    }
  });

  it("gives the memory store's verdicts, a stricter limit still asked while another refuses from the cache", async () => {
    const limits = limitsOf(
      "[limit out]\nkey = sender\ncount = 1\ntime = 1h\n" +
        "[limit dom]\nkey = sender_domain\ncount = 4\ntime = 1h\naction = reject\n" +
        "[limit all]\nkey = client_address\ncount = 6\ntime = 1h\nmode = strict\n" +
        "[limit net]\nkey = client_address/24\ncount = 3\ntime = 1h\naction = warn\n",
    );
    await redisClient(server).flushdb();
    const memory = memoryHost(limits, Date.now);
    const redis = redisHost(server, limits, Date.now, { overCacheMs: 60_000 });
    try {
      const senders = [
        "a@x.org",
        "a@x.org",
        "a@x.org",
        "b@x.org",
        "c@x.org",
        "a@x.org",
        "d@x.org",
        "a@x.org",
      ];
      for (const [i, sender] of senders.entries()) {
        const extra = { client_address: "192.0.2.1" };
        const expected = await memory.hit(sender, extra);
        assert.deepEqual(await redis.hit(sender, extra), expected, `request ${i + 1}: ${sender}`);
      }
      assert.ok(redis.store.stats().cacheHits > 0);
      for (const key of ["a@x.org", "x.org", "192.0.2.1", "192.0.2.0/24"]) {
        const counts = async (host: typeof memory) =>
          (await host.show(key)).map((row) => [row.rule, row.count]);
        assert.deepEqual(await counts(redis), await counts(memory), key);
      }
    } finally {
      await redis.close();
    }
  });

  it("does not cache a leaky limit that only warns", async () => {
    const limits = limitsOf("[limit w]\nkey = sender_domain\ncount = 1\ntime = 1h\naction = warn\n");
    const host = redisHost(server, limits, Date.now, { overCacheMs: 60_000 });
    try {
      for (let i = 0; i < 4; i++) await host.hit("s@y.org");
      assert.equal(host.store.stats().cacheHits, 0);
      assert.equal((await host.show("y.org"))[0].count, 4);
    } finally {
      await host.close();
    }
  });

  it("counts a strict limit's attempts here once Redis says over, as the memory store, and Redis gets them", async () => {
    const limits = limitsOf(
      "[limit out]\nkey = sender\ncount = 2\ntime = 1h\nmode = strict\n" +
        "[limit w]\nkey = sender_domain\ncount = 1\ntime = 1h\naction = warn\n",
    );
    await redisClient(server).flushdb();
    const memory = memoryHost(limits, Date.now);
    const redis = redisHost(server, limits, Date.now, { overCacheMs: 60_000 });
    try {
      for (let i = 0; i < 3; i++) assert.deepEqual(await redis.hit("s@y.org"), await memory.hit("s@y.org"));
      const before = redis.store.stats();
      for (let i = 0; i < 5; i++) {
        const verdict = await redis.hit("s@y.org");
        assert.deepEqual(verdict, await memory.hit("s@y.org"), `attempt ${i + 4}`);
        assert.equal(verdict.action, "defer");
      }
      assert.equal(redis.store.stats().roundTrips, before.roundTrips, "answered here, the warning limit too");
      const raw = await redisClient(server).hget(counterKey("mpd:", "out", "s@y.org"), "c");
      assert.equal(Number(raw), 3, "Redis does not have them yet");
      for (const key of ["s@y.org", "y.org"]) {
        const counts = async (host: typeof memory) =>
          (await host.show(key)).map((row) => [row.rule, row.count]);
        assert.deepEqual(await counts(redis), await counts(memory), `${key}: show adds them first`);
      }
      assert.equal(redis.store.stats().carried, 5);
      assert.deepEqual(redis.crossings.map(({ rule, count }) => [rule, count]), [["w", 2], ["out", 3]]);
    } finally {
      await redis.close();
    }
  });

  it("carries a host's locally counted attempts with the key's next call, or flushes them when it ends", async () => {
    const limits = limitsOf("[limit out]\nkey = sender\ncount = 2\ntime = 1h\nmode = strict\n");
    const client = redisClient(server);
    await client.flushdb();
    const count = async () => Number(await client.hget(counterKey("mpd:", "out", "c@y.org"), "c"));
    const one = redisHost(server, limits, Date.now, { overCacheMs: 150 });
    const two = redisHost(server, limits, Date.now, { overCacheMs: 150 });
    try {
      for (let i = 0; i < 3 + 4; i++) await one.hit("c@y.org"); // over at the 3rd, then 4 answered by one
      assert.equal(await count(), 3);
      assert.equal((await two.hit("c@y.org")).action, "defer", "two asks Redis");
      assert.equal(await count(), 4, "two does not see one's 4 yet");
      await new Promise((done) => setTimeout(done, 200)); // one's entry has ended
      assert.equal((await one.hit("c@y.org")).action, "defer");
      assert.equal(await count(), 9, "one's next call carried them: 4 + its 4 + itself");
      await one.hit("c@y.org"); // answered by one's new entry
      await new Promise((done) => setTimeout(done, 200));
      one.store.expire(Date.now()); // the counters actor's tick
      for (let tries = 0; tries < 50 && await count() !== 10; tries++) {
        await new Promise((done) => setTimeout(done, 20));
      }
      assert.equal(await count(), 10, "flushed once its entry ended");
      assert.equal(one.store.stats().carried, 5);
    } finally {
      await one.close();
      await two.close();
    }
  });

  // The switch back to memory (a reload without [redis]) exports the shared counters: the attempts this host
  // counted in its cache and had not carried yet were flushed only when the store closed, after the export,
  // so the memory store's counter missed them.
  it("exports a strict key with the attempts counted in the cache, not yet carried to Redis", async () => {
    const limits = limitsOf("[limit out]\nkey = sender\ncount = 2\ntime = 1h\nmode = strict\n");
    const client = redisClient(server);
    await client.flushdb();
    const host = redisHost(server, limits, Date.now, { overCacheMs: 60_000 });
    try {
      for (let i = 0; i < 3 + 4; i++) await host.hit("x@y.org"); // over at the 3rd, then 4 answered here
      const exported = new Map<string, number>();
      await host.store.exportCounters((limit, key, counter) =>
        exported.set(`${limit} ${key}`, counter.count)
      );
      assert.deepEqual([...exported], [["out x@y.org", 7]]);
    } finally {
      await host.close();
      client.disconnect();
    }
  });

  it("ends a strict entry with the fixed window: the next window counts afresh and crosses again", async () => {
    const limits = limitsOf("[limit out]\nkey = sender\ncount = 1\ntime = 1s\nmode = strict\n");
    await redisClient(server).flushdb();
    const host = redisHost(server, limits, Date.now, { overCacheMs: 60_000 });
    try {
      // Start right after a window begins, so that the test's five attempts fall in it.
      await host.hit("w@y.org");
      for (let i = 0; i < 4; i++) assert.equal((await host.hit("w@y.org")).action, "defer");
      assert.equal(host.crossings.length, 1);
      await new Promise((done) => setTimeout(done, 1100));
      assert.equal((await host.hit("w@y.org")).action, "accept", "a new window, asked of Redis");
      assert.equal((await host.hit("w@y.org")).action, "defer");
      assert.equal(host.crossings.length, 2, "crossed in the new window too (its alert is due)");
      assert.equal((await host.show("w@y.org"))[0].count, 2, "the old window's attempts stayed there");
    } finally {
      await host.close();
    }
  });

  it("holds at most its bound", async () => {
    const limits = limitsOf("[limit out]\nkey = sender\ncount = 1\ntime = 1h\n");
    const host = redisHost(server, limits, Date.now, { overCacheMs: 60_000, overCacheEntries: 3 });
    try {
      for (const sender of ["a", "b", "c", "d", "e"]) {
        await host.hit(`${sender}@z.org`);
        await host.hit(`${sender}@z.org`);
      }
      assert.equal(host.store.stats().cacheEntries, 3);
    } finally {
      await host.close();
    }
  });
});
