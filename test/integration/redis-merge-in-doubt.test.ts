// The merge after an incident (limits/shared-store.ts mergeLocal) when Redis runs a slice and the daemon
// does not see the answer: the connection breaks on its way back, or it comes after the client's timeout
// (this host's event loop stalled). A proxy between the store and a real redis-server loses those answers
// once (helpers/redis-reply-proxy.ts). The retry used to add the slice again: twice in Redis
// (limits/merges-in-doubt.ts).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { counterKey } from "../../src/limits/redis-keys.ts";
import { MERGE_SCRIPT } from "../../src/limits/redis-scripts.ts";
import { createCountersRedis } from "../../src/actors/counters-redis.ts";
import { createLogger } from "../../src/log.ts";
import { bareMemoryStore } from "../helpers/bare-memory-store.ts";
import { host, mergeConfig, redisClient, request, sharedSite } from "../helpers/redis-engines.ts";
import type { Verdict } from "../../src/policy/verdict.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { startReplyProxy } from "../helpers/redis-reply-proxy.ts";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { askMany } from "../helpers/policy-client.ts";

const MERGE_SHA = createHash("sha1").update(MERGE_SCRIPT).digest("hex");

describe("shared store: a merge whose answer is lost adds each counter once", () => {
  let server: RedisServer;
  before(async () => server = await startRedisServer());
  after(() => server.stop());

  for (
    const [mode, what] of [
      ["cut", "the connection breaks after Redis ran the slice"],
      ["hold", "the answer comes after the client's timeout"],
    ] as const
  ) {
    it(`${what}: the retry adds nothing twice, and what was counted since once`, async () => {
      const proxy = await startReplyProxy(server, mode, (command) => command.includes(MERGE_SHA));
      const { config, local, admin, shared, site, close } = sharedSite(
        server,
        mergeConfig({ url: proxy.url }, "1s"),
      );
      try {
        await admin.flushall();
        assert.equal((await site.hit("warm@x.org")).action, "accept"); // Redis's clock known, scripts loaded
        // Counted here, as while Redis was away: 20 senders, once or twice each.
        const here = host(local, config.limits, Date.now, () => Promise.resolve());
        const senders = Array.from({ length: 20 }, (_, i) => `d${i}@x.org`);
        const counted = senders.map((_, i) => 1 + (i % 2));
        for (const [i, sender] of senders.entries()) {
          for (let n = 0; n < counted[i]; n++) await here.hit(sender);
        }
        const merging = shared.mergeLocal();
        await assert.rejects(merging, "the daemon did not see the slice's answers");
        assert.ok(proxy.struck, "the proxy lost the merge's answers");
        assert.ok(proxy.lost.includes(":1\r\n"), `Redis ran the merge: ${JSON.stringify(proxy.lost)}`);
        proxy.release(); // hold: the answers arrive now, after the client gave up on them; cut: Redis back
        // Meanwhile a sender goes on, answered here or, once Redis is back, by Redis: counted once either way.
        assert.equal((await site.hit(senders[0])).action, "accept");
        counted[0]++;
        await waitFor(
          () => shared.health().state === "up" && local.keyCount() === 0 && shared.health().merged >= 20,
          20_000,
          "merged once Redis answers",
        );
        const counts = await Promise.all(
          senders.map((sender) => admin.hget(counterKey("mailpolicyd:", "out", sender), "c")),
        );
        assert.deepEqual(
          counts.map(Number),
          counted,
          "each sender's count in Redis is what was counted, once",
        );
      } finally {
        close();
        await proxy.close();
      }
    });
  }

  it("a reset during the incident drops the key's calls in doubt: what is counted after it is added", async () => {
    const proxy = await startReplyProxy(server, "cut", (command) => command.includes(MERGE_SHA));
    const { config, local, admin, shared, site, close } = sharedSite(
      server,
      mergeConfig({ url: proxy.url }, "1s"),
    );
    const sender = "reset@x.org";
    try {
      await admin.flushall();
      assert.equal((await site.hit("warm@x.org")).action, "accept"); // Redis's clock known, scripts loaded
      const here = host(local, config.limits, Date.now, () => Promise.resolve());
      for (let n = 0; n < 3; n++) await here.hit(sender); // counted here while Redis was away: at the limit
      await assert.rejects(shared.mergeLocal(), "the daemon did not see the merge's answer");
      assert.ok(proxy.lost.includes(":1\r\n"), `Redis ran the merge: ${JSON.stringify(proxy.lost)}`);
      assert.equal(shared.health().state, "down");
      // The postmaster unblocks the sender during the incident: this host's part (Redis did not answer).
      assert.equal(await new Promise((done) => shared.reset(sender, done)), null);
      // Counted here, after the reset (by the fallback: site.hit's settle would PING a Redis away).
      const verdict = await new Promise<Verdict | undefined>((done) =>
        site.engine.hit(request(sender), done)
      );
      assert.equal(verdict?.action, "accept");
      assert.equal(local.snapshotTables().get("out")?.get(sender)?.count, 1);
      proxy.release(); // Redis back: the retry merges
      await waitFor(
        () => shared.health().state === "up" && local.keyCount() === 0,
        20_000,
        "merged once Redis answers",
      );
      // Redis's 3 (it ran the merge; the reset did not reach it) and the 1 counted since the reset.
      assert.equal(Number(await admin.hget(counterKey("mailpolicyd:", "out", sender), "c")), 4);
    } finally {
      close();
      await proxy.close();
    }
  });

  /**
   * A counters actor (actors/counters-redis.ts) whose merge of 20 senders counted here (the state file's,
   * or an incident's), once or twice each, Redis ran and whose answers the proxy cut: the calls are in
   * doubt, and Redis away until `proxy.release()`. No retry (every minute) settles them meanwhile.
   */
  async function afterLostMerge(letter: string) {
    const proxy = await startReplyProxy(server, "cut", (command) => command.includes(MERGE_SHA));
    const dir = makeTempDir();
    const local = bareMemoryStore(Date.now);
    const lines: string[] = [];
    const admin = redisClient(server);
    const counters = createCountersRedis({
      use: () => {},
      local,
      log: createLogger("info", (line) => lines.push(line)),
      now: Date.now,
      changed: () => {},
      stateFile: () => dir.file("state.json"),
    });
    const config = mergeConfig({ url: proxy.url }, "1s", "1m");
    const senders = Array.from({ length: 20 }, (_, i) => `${letter}${i}@x.org`);
    const made = {
      proxy,
      local,
      counters,
      config,
      senders,
      counted: senders.map((_, i) => 1 + (i % 2)),
      lines,
      logged: (pattern: RegExp) => lines.some((line) => pattern.test(line)),
      /** Each sender's count in Redis under `prefix`. */
      counts: async (prefix: string) =>
        (await Promise.all(senders.map((sender) => admin.hget(counterKey(prefix, "out", sender), "c"))))
          .map(Number),
      async close() {
        counters.stop();
        local.close();
        admin.disconnect();
        await proxy.close();
        dir.remove();
      },
    };
    try {
      await admin.flushall();
      await admin.script("LOAD", MERGE_SCRIPT); // the merge's first call is its EVALSHA, not a NOSCRIPT
      counters.use(config);
      const here = host(local, config.limits, Date.now, () => Promise.resolve());
      for (const [i, sender] of senders.entries()) {
        for (let n = 0; n < made.counted[i]; n++) await here.hit(sender);
      }
      counters.restored(); // the merge: Redis runs it, the answers are lost
      await waitFor(() => made.logged(/counters not yet added into Redis/), 20_000, "the merge failed");
      assert.ok(proxy.lost.includes(":1\r\n"), `Redis ran the merge: ${JSON.stringify(proxy.lost)}`);
      return made;
    } catch (error) {
      await made.close();
      throw error;
    }
  }

  it("[redis] removed while a call is in doubt: each counter in memory is what was counted, once", async () => {
    const { proxy, local, counters, config, senders, counted, lines, logged, counts, close } =
      await afterLostMerge("r");
    try {
      proxy.release(); // Redis answers again
      counters.use({ ...config, redis: undefined }); // back to memory: the shared counters come here
      await waitFor(() => logged(/shared counters (not )?brought into memory/), 20_000, "the export");
      assert.ok(logged(/shared counters brought into memory/), lines.join("\n"));
      const table = local.snapshotTables().get("out");
      assert.deepEqual(
        senders.map((sender) => table?.get(sender)?.count),
        counted,
        "each sender's count in memory is what was counted, once",
      );
      // [redis] again: Redis holds all of it already, and this host adds nothing more.
      counters.use(config);
      await waitFor(() => logged(/this host's counters added into Redis/), 20_000, "the merge");
      assert.deepEqual(
        await counts("mailpolicyd:"),
        counted,
        "each sender's count in Redis is what was counted",
      );
    } finally {
      await close();
    }
  });

  it("a move to another Redis while a call is in doubt: each counter there is what was counted, once", async () => {
    const { proxy, local, counters, counted, lines, logged, counts, close } = await afterLostMerge("v");
    try {
      proxy.release(); // Redis answers again
      // Moved: the same redis-server, another prefix (and address).
      counters.use(mergeConfig(server, "1s", "1m", "prefix = moved:\n"));
      await waitFor(() => logged(/shared counters (not )?moved/), 20_000, "the move");
      assert.ok(logged(/shared counters moved to the new Redis/), lines.join("\n"));
      await waitFor(() => local.keyCount() === 0, 20_000, "this host's counters merged into the new Redis");
      assert.deepEqual(
        await counts("moved:"),
        counted,
        "each sender's count in the new Redis is what was counted",
      );
    } finally {
      await close();
    }
  });

  it("a restart while a call is in doubt: the state file's counters go into Redis once", async () => {
    const proxy = await startReplyProxy(server, "cut", (command) => command.includes(MERGE_SHA));
    const dir = makeTempDir();
    const admin = redisClient(server);
    const daemons: DaemonProcess[] = [];
    const start = async (extra: string) => {
      const daemon = await startDaemonProcess(
        dir,
        writeTestConfig(dir, `[thresholds]\ntime = 3600\n${extra}`),
      );
      daemons.push(daemon);
      return daemon;
    };
    // No retry while the daemon runs: the call stays in doubt until it stops.
    const redis = `[redis]\nurl = ${proxy.url}\ntimeout = 1s\nretry_every = 1m\n`;
    const senders = ["a@restart.example", "b@restart.example"];
    try {
      await admin.flushall();
      await admin.script("LOAD", MERGE_SCRIPT); // the merge's first call is its EVALSHA, not a NOSCRIPT
      let daemon = await start(""); // counted in memory, then into Redis by a restart
      for (const [i, sender] of senders.entries()) await askMany(daemon.policySocket, `${sender}\n`, i + 1);
      await daemon.stopCleanly();
      daemon = await start(redis);
      await daemon.waitForLog(/counters not yet added into Redis/);
      assert.ok(proxy.lost.includes(":1\r\n"), `Redis ran the merge: ${JSON.stringify(proxy.lost)}`);
      await daemon.stopCleanly(); // the state file holds the counters the merge gave back
      const inDoubt = dir.file("state.json.in-doubt");
      assert.ok(existsSync(inDoubt), "the calls in doubt are kept beside the state file");
      proxy.release(); // Redis answers again
      daemon = await start(redis);
      await daemon.waitForLog(/this host's counters added into Redis/);
      const counts = await Promise.all(
        senders.map((sender) => admin.hget(`mailpolicyd:{${sender}}:thresholds`, "c")),
      );
      assert.deepEqual(counts.map(Number), [1, 2], "each sender's count in Redis is what was counted, once");
      assert.equal(existsSync(inDoubt), false, "none left in doubt: no file");
    } finally {
      for (const daemon of daemons) await daemon.stop("SIGKILL");
      admin.disconnect();
      await proxy.close();
      dir.remove();
    }
  });
});
