// The merge after an incident (limits/shared-store.ts mergeLocal) against requests that go on meanwhile:
// a key counted here while Redis was away must not be answered by Redis before its count is there.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { counterKey } from "../../src/limits/redis-keys.ts";
import { host, request, sharedSite } from "../helpers/redis-engines.ts";
import type { Verdict } from "../../src/policy/verdict.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";

describe("shared store: requests while this host's counts are merged into Redis", () => {
  let server: RedisServer;
  before(async () => server = await startRedisServer());
  after(() => server.stop());

  it("a key still waiting for its merge is not let past its limit by Redis meanwhile", async () => {
    const { config, local, admin, shared, site, close } = sharedSite(server);
    try {
      await admin.flushall();
      assert.equal((await site.hit("warm@x.org")).action, "accept"); // Redis's clock known, scripts loaded
      // Counted here (as while Redis was away): 3000 senders at their limit, 3 of 3.
      const here = host(local, config.limits, Date.now, () => Promise.resolve());
      const senders = Array.from({ length: 3000 }, (_, i) => `s${i}@x.org`);
      for (const sender of senders) for (let n = 0; n < 3; n++) await here.hit(sender);
      assert.equal((await here.hit(senders[2999])).action, "defer", "over its limit here");
      // Redis is back: the merge starts (256 counters at a time), and the sender tries again meanwhile.
      const merging = shared.mergeLocal();
      let callsAtAnswer = 0;
      const verdict = await new Promise<Verdict>((done) =>
        site.engine.hit(request(senders[2999]), (answer) => {
          callsAtAnswer = shared.health().store.roundTrips;
          done(answer!);
        })
      );
      assert.equal(await merging, 3000);
      // Its counter went in the next slice, not after the 11 slices before it: answered well before the end.
      const calls = shared.health().store.roundTrips;
      assert.ok(callsAtAnswer < calls - 1000, `answered after ${callsAtAnswer} of ${calls} calls`);
      assert.equal(verdict.action, "defer", "3 of 3 counted here: the 4th is over, merge or not");
      assert.equal(Number(await admin.hget(counterKey("mailpolicyd:", "out", senders[2999]), "c")), 3);
    } finally {
      close();
    }
  });

  it("a reset of a key still waiting for its merge is not undone by the merge", async () => {
    const { config, local, admin, shared, site, close } = sharedSite(server);
    try {
      await admin.flushall();
      assert.equal((await site.hit("warm@x.org")).action, "accept");
      const here = host(local, config.limits, Date.now, () => Promise.resolve());
      const senders = Array.from({ length: 600 }, (_, i) => `r${i}@x.org`);
      for (const sender of senders) for (let n = 0; n < 3; n++) await here.hit(sender);
      const merging = shared.mergeLocal();
      const removed = await new Promise<number | null>((done) => shared.reset(senders[599], done));
      assert.equal(await merging, 600);
      assert.notEqual(removed, null);
      assert.equal(
        await admin.exists(counterKey("mailpolicyd:", "out", senders[599])),
        0,
        "reset stays reset",
      );
      assert.equal((await site.hit(senders[599])).action, "accept", "the sender starts again after a reset");
    } finally {
      close();
    }
  });
});
