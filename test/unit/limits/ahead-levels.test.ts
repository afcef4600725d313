import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createAheadLevels, IN_FLIGHT, perKey } from "../../../src/limits/ahead-levels.ts";
import { newBatch, newProbe, type Probe, type ProbeBatch } from "../../../src/limits/counter-store.ts";
import type { LimitConfig } from "../../../src/model/limit.ts";
import { limitConfig } from "../../helpers/limit-config.ts";

const outbound = limitConfig({ count: 20 }); // half: 10
const network = limitConfig({ name: "network", count: 1_000_000, windowMs: 3_600_000 });
const single = limitConfig({ name: "single", count: 1 }); // half: 0.5, under any cost

function batch(...probes: [LimitConfig, string, number?][]): ProbeBatch {
  return Object.assign(newBatch(), {
    probes: probes.map(([limit, key, cost]) => Object.assign(newProbe(limit, key), { cost: cost ?? 1 })),
    size: probes.length,
  });
}

/** Redis's answer for the probe: the level it reports. */
const reported = (probe: Probe, level: number): Probe => Object.assign(probe, { level });

function levels(maxKeys = 1000, clock = { now: 0 }) {
  const ahead = createAheadLevels(() => clock.now);
  ahead.configure([outbound, network, single], maxKeys);
  return ahead;
}

describe("answers ahead of Redis (limits/ahead-levels.ts)", () => {
  it("a key first seen here has one request in flight at a time, until Redis reports its level", () => {
    const ahead = levels();
    const first = batch([outbound, "a@x"]);
    assert.equal(ahead.take(first), true);
    assert.equal(ahead.take(batch([outbound, "a@x"])), false, "its level is not known yet");
    assert.equal(ahead.take(batch([outbound, "b@x"])), true, "another key is");
    ahead.observe(reported(first.probes[0], 1));
    ahead.release(first);
    assert.equal(ahead.take(batch([outbound, "a@x"])), true);
    assert.equal(ahead.take(batch([outbound, "a@x"])), true, "level 1 + 1 in flight + 1 is within half");
  });

  it("a known key is answered ahead while level + in flight + cost stays within half the limit", () => {
    const ahead = levels();
    const first = batch([outbound, "a@x"]);
    ahead.take(first);
    ahead.observe(reported(first.probes[0], 8));
    ahead.release(first);
    assert.equal(ahead.take(batch([outbound, "a@x"])), true, "8 + 0 + 1 ≤ 10");
    assert.equal(ahead.take(batch([outbound, "a@x"])), true, "8 + 1 + 1 ≤ 10");
    assert.equal(ahead.take(batch([outbound, "a@x"])), false, "8 + 2 + 1 > 10: Redis answers it");
    assert.equal(ahead.take(batch([outbound, "b@x", 11])), false, "a cost over half never goes ahead");
    assert.equal(ahead.take(batch([single, "c@x"])), false, "nor under a limit of 1");
  });

  it("a batch sent to Redis without an answer ahead counts in its keys' levels until it is answered", () => {
    const ahead = levels();
    const first = batch([outbound, "a@x"]);
    ahead.take(first);
    ahead.observe(reported(first.probes[0], 1));
    ahead.release(first);
    assert.equal(ahead.follow(batch([outbound, "new@x"])), false, "no level kept: nothing to hold");
    const waiting = Array.from({ length: 9 }, () => batch([outbound, "a@x"], [network, "new"]));
    for (const sent of waiting) assert.equal(ahead.follow(sent), true);
    assert.equal(ahead.take(batch([outbound, "a@x"])), false, "1 + 9 waiting for Redis + 1 > 10");
    for (const sent of waiting) ahead.release(sent);
    assert.equal(ahead.take(batch([outbound, "a@x"])), true, "answered: 1 + 0 + 1 ≤ 10");
    assert.equal(ahead.inFlight, 1, "the followed batches were never in the answers ahead's count");
  });

  it("stale: every level kept, and the keys named, wait for Redis until it reports them", () => {
    const ahead = levels(2);
    const first = batch([outbound, "a@x"]);
    ahead.take(first);
    ahead.observe(reported(first.probes[0], 1));
    ahead.release(first);
    ahead.stale([[outbound, "b@x"], [outbound, "c@x"]]);
    assert.equal(ahead.take(batch([outbound, "a@x"])), false, "a's level 1 is stale");
    assert.equal(ahead.take(batch([outbound, "b@x"])), false, "b was merged: not new to the host");
    assert.equal(ahead.size, 2, "c: max_keys (2) reached, not kept; a new key does not go ahead then either");
    const next = batch([outbound, "a@x"]);
    ahead.follow(next);
    ahead.observe(reported(next.probes[0], 2));
    ahead.release(next);
    assert.equal(ahead.take(batch([outbound, "a@x"])), true, "reported again: 2 + 0 + 1 ≤ 10");
  });

  it("a level Redis reports over half the limit sends the key to Redis until it is reported low again", () => {
    const ahead = levels();
    const first = batch([outbound, "a@x"]);
    ahead.take(first);
    ahead.observe(reported(first.probes[0], 21)); // the other hosts filled it
    ahead.release(first);
    assert.equal(ahead.take(batch([outbound, "a@x"])), false);
    ahead.observe(reported(newProbe(outbound, "a@x"), 0)); // a request Redis answered in a new window
    assert.equal(ahead.take(batch([outbound, "a@x"])), true);
  });

  it(`takes at most perKey(limit) requests of one key, and ${IN_FLIGHT} in all, before Redis answers`, () => {
    assert.equal(perKey(outbound), 16, "16 for a small limit");
    assert.equal(perKey(network), 15_625, "a 64th of a large one");
    const ahead = levels(10_000);
    const first = batch([outbound, "a@x"]);
    ahead.take(first);
    ahead.observe(reported(first.probes[0], 0));
    ahead.release(first);
    // outbound's half (10) binds before its 16: a limit of 100 shows the 16.
    const hundred = limitConfig({ name: "hundred", count: 100 });
    ahead.configure([hundred, network], 10_000);
    const known = batch([hundred, "a@x"]);
    ahead.take(known);
    ahead.observe(reported(known.probes[0], 1));
    ahead.release(known);
    for (let i = 0; i < 16; i++) assert.equal(ahead.take(batch([hundred, "a@x"])), true);
    assert.equal(ahead.take(batch([hundred, "a@x"])), false);
    for (let i = 16; i < IN_FLIGHT; i++) assert.equal(ahead.take(batch([network, `k${i}`])), true);
    assert.equal(ahead.inFlight, IN_FLIGHT);
    assert.equal(ahead.take(batch([network, "another"])), false, "back-pressure: it waits for Redis");
  });

  it("a batch goes ahead whole or not at all: nothing is noted for its other keys", () => {
    const ahead = levels();
    assert.equal(ahead.take(batch([outbound, "a@x"], [single, "a@x"])), false);
    assert.equal(ahead.size, 0);
    assert.equal(ahead.inFlight, 0);
    assert.equal(ahead.take(batch([outbound, "a@x"], [network, "192.0.2.0/24"])), true);
    assert.equal(ahead.size, 2);
  });

  it("keeps at most max_keys levels a limit: a new key then waits for Redis", () => {
    const ahead = levels(2);
    assert.equal(ahead.take(batch([outbound, "a@x"])), true);
    assert.equal(ahead.take(batch([outbound, "b@x"])), true);
    assert.equal(ahead.take(batch([outbound, "c@x"])), false);
    assert.equal(ahead.take(batch([network, "192.0.2.0/24"])), true, "another limit has its own bound");
  });

  it("forgets a level after two windows without news, at most once a minute; never one in flight", () => {
    const clock = { now: 0 };
    const ahead = levels(1000, clock);
    const done = batch([outbound, "a@x"]);
    ahead.take(done);
    ahead.release(done);
    const flying = batch([outbound, "b@x"]);
    ahead.take(flying);
    clock.now = 2 * outbound.windowMs + 1;
    ahead.sweep();
    assert.equal(ahead.size, 1, "a@x forgotten, b@x in flight kept");
    ahead.release(flying);
    clock.now += 30_000;
    ahead.sweep();
    assert.equal(ahead.size, 1, "swept less than a minute ago: kept");
    clock.now += 30_000;
    ahead.sweep();
    assert.equal(ahead.size, 0);
  });

  it("a release gives back to the levels its batch took, not to one made again since (reset, reload)", () => {
    const ahead = levels();
    const old = batch([outbound, "a@x"]);
    ahead.take(old);
    ahead.forgetKey("a@x");
    const now = batch([outbound, "a@x"]);
    assert.equal(ahead.take(now), true);
    ahead.observe(reported(now.probes[0], 9));
    ahead.release(old); // its costs were forgotten with the key
    assert.equal(ahead.take(batch([outbound, "a@x"])), false, "the new flight still counts: 9 + 1 + 1 > 10");
    ahead.release(now);
    ahead.release(now); // once only
    assert.equal(ahead.inFlight, 0);
    assert.equal(ahead.take(batch([outbound, "a@x"])), true, "9 + 0 + 1");
    ahead.configure([outbound], 1000);
    assert.equal(ahead.size, 0);
  });
});
