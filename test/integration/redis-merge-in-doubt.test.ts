// The merge after an incident (limits/shared-store.ts mergeLocal) when Redis runs a slice and the daemon
// does not see the answer: the connection breaks on its way back, or it comes after the client's timeout
// (this host's event loop stalled). A proxy between the store and a real redis-server loses those answers
// once (helpers/redis-reply-proxy.ts). The retry used to add the slice again: twice in Redis
// (limits/merges-in-doubt.ts).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { counterKey } from "../../src/limits/redis-keys.ts";
import { MERGE_SCRIPT } from "../../src/limits/redis-scripts.ts";
import { host, mergeConfig, sharedSite } from "../helpers/redis-engines.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { startReplyProxy } from "../helpers/redis-reply-proxy.ts";
import { waitFor } from "../helpers/daemon-process.ts";

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
        proxy.release(); // hold: the answers arrive now, after the client gave up on them
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
});
