// The messages a per = message counter remembers: membership by whole instance, newest first, bounded.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  holdsInstance,
  mergedInstances,
  MESSAGES_REMEMBERED,
  withInstance,
} from "../../../src/policy/counted-messages.ts";

describe("counted messages", () => {
  it("holds an instance only as a whole item", () => {
    const counted = "4cf7.1\n4cf7.10\nabc";
    assert.equal(holdsInstance(counted, "4cf7.1"), true);
    assert.equal(holdsInstance(counted, "4cf7.10"), true);
    assert.equal(holdsInstance(counted, "abc"), true);
    assert.equal(holdsInstance(counted, "4cf7"), false, "a prefix");
    assert.equal(holdsInstance(counted, "cf7.10"), false, "a suffix");
    assert.equal(holdsInstance(counted, "1\n4cf7"), false, "across two items");
    assert.equal(holdsInstance(undefined, "abc"), false);
    assert.equal(holdsInstance("", "abc"), false);
    assert.equal(holdsInstance(counted, ""), false, "no instance is never counted");
  });

  it("adds the newest first, once, and forgets the oldest past the bound", () => {
    let counted: string | undefined;
    for (let i = 0; i < MESSAGES_REMEMBERED + 3; i++) counted = withInstance(counted, `m${i}`);
    const items = counted!.split("\n");
    assert.equal(items.length, MESSAGES_REMEMBERED);
    assert.equal(items[0], `m${MESSAGES_REMEMBERED + 2}`);
    assert.equal(items.at(-1), "m3");
    assert.equal(withInstance(counted, "m5"), counted, "one held stays where it is");
    assert.equal(withInstance(undefined, "x"), "x");
    assert.equal(withInstance("", "x"), "x");
  });

  it("merges two lists, the newer's first, without repeats, within the bound", () => {
    assert.equal(mergedInstances("a\nb", "b\nc"), "a\nb\nc");
    assert.equal(mergedInstances(undefined, "b"), "b");
    assert.equal(mergedInstances("a", undefined), "a");
    assert.equal(mergedInstances("a", ""), "a");
    const many = Array.from({ length: MESSAGES_REMEMBERED }, (_, i) => `o${i}`).join("\n");
    const merged = mergedInstances("n1\nn2", many)!.split("\n");
    assert.equal(merged.length, MESSAGES_REMEMBERED);
    assert.deepEqual(merged.slice(0, 3), ["n1", "n2", "o0"]);
  });
});
