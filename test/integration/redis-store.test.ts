// The Redis counter store against a real redis-server: the same requests give the same verdicts, levels,
// alert states and sightings as the memory store for every algorithm and mode (on one clock given to
// both: the scripts take a time in place of Redis's TIME for this); several hosts sharing one Redis
// count one limit between them and alert once, whatever their own clocks say.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Host, limitsOf, memoryHost, redisClient, redisHost } from "../helpers/redis-engines.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import type { SenderRow } from "../../src/policy/sender-report.ts";
import { MESSAGES_REMEMBERED } from "../../src/policy/counted-messages.ts";

const ALGORITHMS = ["fixed", "sliding", "bucket"] as const;
const MODES = ["leaky", "strict"] as const;

function config(algorithm: string, mode: string, count = 3): string {
  const burst = algorithm === "bucket" ? `burst = ${count + 1}\n` : "";
  return `[limit out]\nkey = sender\ncount = ${count}\ntime = 10s\nalgorithm = ${algorithm}\n${burst}` +
    `mode = ${mode}\n` +
    `[limit ip]\nkey = client_address\ncount = 5\ntime = 20s\nalgorithm = ${algorithm}\naction = warn\n` +
    `mode = ${mode}\nper = recipient\n`;
}

/** A fixed pseudo-random sequence (a small LCG): the same for both stores and every run. */
function sequence(seed: number, steps: number) {
  let state = seed;
  const next = (n: number) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return (state >>> 16) % n; // the low bits of such a generator repeat with a short period
  };
  return Array.from({ length: steps }, (_, i) => ({
    advance: [0, 0, 10, 10, 100, 400, 1500, 3000, 12_000][next(9)],
    sender: ["a@x.org", "b@x.org"][next(2)],
    extra: {
      client_address: ["192.0.2.1", "192.0.2.2", "198.51.100.7"][next(3)],
      // a new message every other step or so, the recipients of the last three interleaved
      instance: `m${Math.max(0, (i >> 1) - next(3))}`,
      ...(next(3) === 0 ? { subject: ["Hello", "Invoice", "Re: lunch"][next(3)] } : {}),
    },
    how: ["hit", "hit", "hit", "refused", "passed"][next(5)] as "hit" | "refused" | "passed",
  }));
}

describe("Redis store: the same answers as the memory store", () => {
  let server: RedisServer;
  before(async () => server = await startRedisServer());
  after(() => server.stop());

  for (const algorithm of ALGORITHMS) {
    for (const mode of MODES) {
      it(`${algorithm}, ${mode}: verdicts, levels, alerts and sightings step by step`, async () => {
        await redisClientFlush(server);
        const limits = limitsOf(config(algorithm, mode));
        const clock = { now: 1_700_000_000_000 };
        const now = () => clock.now;
        const memory = memoryHost(limits, now);
        const redis = redisHost(server, limits, now, { clock: now });
        let refused = 0;
        try {
          for (const [i, step] of sequence(algorithm.length * 7 + mode.length, 80).entries()) {
            clock.now += step.advance;
            const ask = (host: Host) =>
              step.how === "hit"
                ? host.hit(step.sender, step.extra)
                : host.checkCommit(step.sender, step.how === "refused", step.extra);
            const expected = await ask(memory);
            assert.deepEqual(await ask(redis), expected, `step ${i}: ${JSON.stringify(step)}`);
            if (expected.action === "defer") refused++;
            for (const key of ["a@x.org", "b@x.org", step.extra.client_address]) {
              assert.deepEqual(await redis.show(key), await memory.show(key), `step ${i}: show ${key}`);
            }
          }
          assert.deepEqual(redis.crossings, memory.crossings);
          assert.ok(memory.crossings.length > 1, "the sequence crosses limits");
          assert.ok(refused > 0, "the sequence is refused at times");
          // Ties may come in another order (the memory store's is the order keys were first seen).
          const byKey = (rows: SenderRow[] | undefined) => rows?.toSorted((a, b) => a.key < b.key ? -1 : 1);
          assert.deepEqual(byKey(await redis.top(10)), byKey(await memory.top(10)));
        } finally {
          await redis.close();
        }
      });
    }
  }
});

describe("Redis store: the messages a per = message counter remembers, as the memory store", () => {
  let server: RedisServer;
  before(async () => server = await startRedisServer());
  after(() => server.stop());

  for (const mode of MODES) {
    it(`${mode}: interleaved recipients of more messages than it remembers`, async () => {
      await redisClientFlush(server);
      const limits = limitsOf(
        `[limit out]\nkey = sender\ncount = 100\ntime = 1h\nmode = ${mode}\nper = message\n`,
      );
      const clock = { now: 1_700_000_000_000 };
      const now = () => clock.now;
      const memory = memoryHost(limits, now);
      const redis = redisHost(server, limits, now, { clock: now });
      try {
        // Recipients of messages m0..m11, a message's later recipient some messages after its first: with
        // fewer than MESSAGES_REMEMBERED (8) messages between them it counts nothing, with more (m0, m3) again.
        const order = [0, 1, 0, 2, 1, 3, 4, 5, 6, 7, 8, 2, 9, 10, 0, 11, 3, 11];
        for (const [i, message] of order.entries()) {
          clock.now += 10;
          const expected = await memory.hit("a@x.org", { instance: `m${message}` });
          assert.deepEqual(await redis.hit("a@x.org", { instance: `m${message}` }), expected, `step ${i}`);
          assert.deepEqual(await redis.show("a@x.org"), await memory.show("a@x.org"), `step ${i}: show`);
        }
        const [row] = await memory.show("a@x.org") as SenderRow[];
        assert.equal(MESSAGES_REMEMBERED, 8, "the order above is made for 8");
        assert.equal(row.count, 12 + 2, "twelve messages, m0 and m3 counted again once forgotten");
      } finally {
        await redis.close();
      }
    });
  }
});

describe("Redis store: the same answers as the memory store when the clock steps back", () => {
  let server: RedisServer;
  before(async () => server = await startRedisServer());
  after(() => server.stop());

  /** a@x.org asked after each clock step (ms) on both stores, answers and rows compared; the actions. */
  async function stepped(algorithm: string, advances: number[]): Promise<string[]> {
    await redisClientFlush(server);
    const limits = limitsOf(config(algorithm, "leaky", 10));
    const clock = { now: 1_700_000_000_000 };
    const now = () => clock.now;
    const memory = memoryHost(limits, now);
    const redis = redisHost(server, limits, now, { clock: now });
    try {
      const actions: string[] = [];
      for (const [i, advance] of advances.entries()) {
        clock.now += advance;
        const expected = await memory.hit("a@x.org");
        assert.deepEqual(await redis.hit("a@x.org"), expected, `step ${i}`);
        assert.deepEqual(await redis.show("a@x.org"), await memory.show("a@x.org"), `step ${i}: show`);
        actions.push(expected.action);
      }
      return actions;
    } finally {
      await redis.close();
    }
  }

  for (const algorithm of ALGORITHMS) {
    it(`${algorithm}: a step back of a window neither fills the bucket nor weighs a sub-window twice`, async () => {
      // Ten requests: five, a window later one, then the clock steps back by that window; 500 ms, back 200.
      const actions = await stepped(algorithm, [0, 0, 0, 0, 0, 10_000, -10_000, 0, 500, -200]);
      assert.ok(actions.every((action) => action === "accept"), `never over 10: ${actions}`);
    });

    it(`${algorithm}: a step back of more than a window starts the counter afresh`, async () => {
      // Eight requests, the clock set back 25 s (two and a half windows of 10 s), eight more.
      const actions = await stepped(algorithm, [...Array(8).fill(0), -25_000, ...Array(7).fill(0)]);
      assert.ok(actions.every((action) => action === "accept"), `8 and 8 again of 10: ${actions}`);
    });
  }
});

describe("Redis store: several hosts sharing one Redis", () => {
  let server: RedisServer;
  before(async () => server = await startRedisServer());
  after(() => server.stop());

  for (const algorithm of ALGORITHMS) {
    it(`${algorithm}: a sender split across three hosts is deferred at exactly N+1, alerted once`, async () => {
      await redisClientFlush(server);
      const limits = limitsOf(
        `[limit out]\nkey = sender\ncount = 5\ntime = 1h\nalgorithm = ${algorithm}\n${
          algorithm === "bucket" ? "burst = 5\n" : ""
        }`,
      );
      // Clocks minutes apart: Redis's TIME counts, not theirs.
      const hosts = [0, 7 * 60_000, -11 * 60_000].map((skew) =>
        redisHost(server, limits, () => Date.now() + skew)
      );
      try {
        const actions: string[] = [];
        for (let i = 0; i < 9; i++) {
          const verdict = await hosts[i % 3].hit("spammer@x.org");
          actions.push(verdict.action);
        }
        assert.deepEqual(actions, [
          "accept",
          "accept",
          "accept",
          "accept",
          "accept",
          ...Array(4).fill("defer"),
        ]);
        const crossings = hosts.flatMap((host) => host.crossings);
        assert.equal(crossings.length, 1, "one crossing for the cluster");
        assert.equal(crossings[0].count, 5, "leaky: the refused request is not counted");
        for (const host of hosts) {
          const [row] = await host.show("spammer@x.org");
          assert.equal(row.count, 5);
          assert.equal(row.alert, "pending");
        }
        // The alert is settled on one host: every host sees it sent, none alerts again in that window.
        hosts[1].store.alertSettled("out", "spammer@x.org", crossings[0].start!, true);
        await hosts[1].settle();
        assert.equal((await hosts[2].show("spammer@x.org"))[0].alert, "sent");
      } finally {
        for (const host of hosts) await host.close();
      }
    });
  }

  it("an alert settled undelivered (parked) reads not sent on every host, and does not alert again", async () => {
    await redisClientFlush(server);
    const limits = limitsOf("[limit out]\nkey = sender\ncount = 1\ntime = 1h\nmode = strict\n");
    const hosts = [redisHost(server, limits, Date.now), redisHost(server, limits, Date.now)];
    try {
      await hosts[0].hit("parked@x.org");
      await hosts[0].hit("parked@x.org");
      const [crossing] = hosts[0].crossings;
      hosts[0].store.alertSettled("out", "parked@x.org", crossing.start!, false);
      await hosts[0].settle();
      // Before: "sent", for an alert the relay had refused.
      assert.equal((await hosts[1].show("parked@x.org"))[0].alert, "unsent");
      await hosts[1].hit("parked@x.org");
      assert.equal(hosts[0].crossings.length + hosts[1].crossings.length, 1, "no second alert in the window");
    } finally {
      for (const host of hosts) await host.close();
    }
  });

  it("strict: every attempt counts, across hosts", async () => {
    await redisClientFlush(server);
    const limits = limitsOf("[limit out]\nkey = sender\ncount = 2\ntime = 1h\nmode = strict\n");
    const hosts = [
      redisHost(server, limits, Date.now),
      redisHost(server, limits, () => Date.now() - 3_600_000),
    ];
    try {
      const actions = [];
      for (let i = 0; i < 5; i++) actions.push((await hosts[i % 2].hit("s@x.org")).action);
      assert.deepEqual(actions, ["accept", "accept", "defer", "defer", "defer"]);
      assert.equal((await hosts[0].show("s@x.org"))[0].count, 5);
      assert.equal(hosts[0].crossings.length + hosts[1].crossings.length, 1);
    } finally {
      for (const host of hosts) await host.close();
    }
  });

  it("two hosts checking at once: both commits count (the commit looks the counter up again)", async () => {
    await redisClientFlush(server);
    const limits = limitsOf("[limit out]\nkey = sender\ncount = 100\ntime = 1h\n");
    const [one, two] = [redisHost(server, limits, Date.now), redisHost(server, limits, Date.now)];
    try {
      await Promise.all([one.hit("new@x.org"), two.hit("new@x.org"), one.hit("new@x.org")]);
      await Promise.all([one.settle(), two.settle()]);
      assert.equal((await one.show("new@x.org"))[0].count, 3);
    } finally {
      await one.close();
      await two.close();
    }
  });
});

async function redisClientFlush(server: RedisServer): Promise<void> {
  const client = redisClient(server);
  await client.flushdb();
  client.disconnect();
}
