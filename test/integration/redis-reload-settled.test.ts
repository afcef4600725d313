// The counters actor's [redis] part (actors/counters-redis.ts) over a real redis-server, across a reload
// that changes only how the same counters are reached: an alert delivered while Redis was away is still
// marked sent in Redis once it answers, though the shared store that heard of it was replaced.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createCountersRedis } from "../../src/actors/counters-redis.ts";
import type { CounterStore } from "../../src/limits/counter-store.ts";
import type { SharedStore } from "../../src/limits/shared-store.ts";
import { bareMemoryStore } from "../helpers/bare-memory-store.ts";
import { alertBecomes, alertOf, host, mergeConfig, quiet } from "../helpers/redis-engines.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";
import { waitFor } from "../helpers/daemon-process.ts";

describe("[redis] reload: the same counters, reached another way", () => {
  let server: RedisServer;
  before(async () => server = await startRedisServer());
  after(() => server.stop());

  it("an alert settled while Redis was away is marked sent once it is back, across the reload", async () => {
    const dir = makeTempDir();
    const local = bareMemoryStore(Date.now);
    let store: CounterStore = local;
    const counters = createCountersRedis({
      use: (next) => store = next,
      local,
      log: quiet,
      now: Date.now,
      changed: () => {},
      stateFile: () => dir.file("state.json"),
    });
    // The engine asks whichever store the actor has in use, as the daemon's does.
    const current = new Proxy({} as CounterStore, {
      get: (_, name: keyof CounterStore) => (...args: unknown[]) =>
        (store[name] as CallableFunction)(...args),
    });
    const config = mergeConfig(server, "150ms");
    try {
      counters.use(config);
      counters.restored();
      const one = host(current, config.limits, Date.now, () => new Promise((done) => setTimeout(done, 20)));
      for (let i = 0; i < 3; i++) assert.equal((await one.hit("p@x.org")).action, "accept");
      assert.equal((await one.hit("p@x.org")).action, "defer");
      assert.equal(one.crossings.length, 1, "crossed in Redis");
      assert.equal(await alertOf(store, "p@x.org"), "pending");
      server.pause();
      assert.equal((await one.hit("q@x.org")).action, "accept", "answered by the fallback: an incident");
      assert.equal((store as SharedStore).health().state, "down");
      // The outbox delivers the alert now, while Redis cannot hear of it.
      store.alertSettled("out", "p@x.org", one.crossings[0].start!, true);
      const before = store;
      counters.use(mergeConfig(server, "200ms")); // only the timeout: the same counters
      assert.notEqual(store, before, "a new shared store");
      server.resume();
      // Before: "pending" until the window's end, the mark gone with the store the reload replaced.
      await waitFor(() => (store as SharedStore).health().state === "up", 10_000, "Redis back");
      assert.equal(await alertBecomes(store, "p@x.org", "sent"), "sent");
    } finally {
      server.resume();
      counters.stop();
      local.close();
      dir.remove();
    }
  });
});
