import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chooseVictim, type EvictionCursor } from "../../../src/store/eviction.ts";
import { makeCounter, type SenderCounter } from "../../../src/policy/sender-counter.ts";

const table = (lasts: number[]) =>
  new Map<string, SenderCounter>(lasts.map((last, i) => [`k${i}`, makeCounter(0, 1, last, 0)]));

describe("chooseVictim", () => {
  it("takes the least recently seen of the candidates", () => {
    const keys = table([50, 10, 40, 30]);
    assert.equal(chooseVictim(keys, {}, () => true), "k1");
  });

  it("skips keys that may not be forgotten, and says so when none may", () => {
    const keys = table([50, 10, 40, 30]);
    assert.equal(chooseVictim(keys, {}, (counter) => counter.last !== 10), "k3");
    assert.equal(chooseVictim(keys, {}, () => false), undefined);
    assert.equal(chooseVictim(new Map(), {}, () => true), undefined);
  });

  it("goes on from where the last search stopped, wrapping round the table", () => {
    const keys = table(Array.from({ length: 40 }, (_, i) => 1000 - i)); // later keys were seen earlier
    const cursor: EvictionCursor = {};
    const first = chooseVictim(keys, cursor, () => true); // candidates k0..k15
    assert.equal(first, "k15");
    keys.delete(first!);
    assert.equal(chooseVictim(keys, cursor, () => true), "k31", "then k16..k31");
    keys.delete("k31");
    // k32..k39, then from the start again: k39 is the least recently seen of those candidates.
    assert.equal(chooseVictim(keys, cursor, () => true), "k39");
  });
});
