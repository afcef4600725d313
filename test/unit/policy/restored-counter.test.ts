import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { countedSince, mergeRestored } from "../../../src/policy/restored-counter.ts";
import { makeCounter, Tally } from "../../../src/policy/sender-counter.ts";
import { rollCounter } from "../../../src/policy/rate.ts";

const limit = (algorithm: "fixed" | "sliding" | "bucket") => ({
  algorithm,
  count: 10,
  windowMs: 60_000,
  burst: 10,
});

describe("mergeRestored", () => {
  it("fixed: the restored window, both counts, the further alert state, into the live object", () => {
    const live = makeCounter(100_000, 2, 101_000, 0);
    live.clientIps = new Tally("192.0.2.1", 2);
    const restored = makeCounter(70_000, 7, 90_000, 2);
    restored.clientIps = new Tally("192.0.2.1", 7);
    restored.subjects = new Tally("Hi", 7);
    const merged = mergeRestored(live, restored, limit("fixed"), 102_000);
    assert.equal(merged, live, "in place: the journal may hold the live counter");
    assert.deepEqual([merged.start, merged.count, merged.alert], [70_000, 9, 2]);
    assert.equal(merged.clientIps?.get("192.0.2.1"), 9);
    assert.equal(merged.subjects?.get("Hi"), 7);
  });

  it("sliding: the restored sub-window grid and previous count, counts added", () => {
    const live = makeCounter(100_000, 1, 100_000, 0);
    const restored = makeCounter(50_000, 4, 55_000, 0);
    restored.prev = 3;
    const merged = mergeRestored(live, restored, limit("sliding"), 115_000);
    // The restored counter rolled one window on: its 4 became the previous count.
    assert.deepEqual([merged.start, merged.prev, merged.count], [110_000, 4, 1]);
  });

  it("sliding: sightings are added generation by generation, each as old as the count it came with", () => {
    const live = makeCounter(110_000, 1, 110_000, 0);
    live.subjects = new Tally("live", 1);
    const restored = makeCounter(50_000, 4, 55_000, 0);
    restored.subjects = new Tally("restored", 4);
    restored.prev = 3;
    const merged = mergeRestored(live, restored, limit("sliding"), 115_000);
    assert.deepEqual([...merged.subjects!], [["live", 1], ["restored", 4]]);
    rollCounter(merged, limit("sliding"), 170_000);
    assert.deepEqual([...merged.subjects!], [["live", 1]], "the restored sub-window [50 s, 110 s) went");
  });

  it("bucket: both levels drained to now, then added", () => {
    const live = makeCounter(100_000, 2, 100_000, 0);
    const restored = makeCounter(50_000, 8, 94_000, 1);
    const merged = mergeRestored(live, restored, limit("bucket"), 100_000);
    // 10 per 60 s drains 1 every 6 s: the restored 8 is 7 at 100 s.
    assert.equal(merged.count, 9);
    assert.equal(merged.alert, 1);
    assert.equal(merged.start, 50_000, "the alert period that began first");
  });

  it("per = message: a message both counted (its recipients straddling a restart) counts once", () => {
    // The restored counter counted messages a and b; since the restart, b's next recipient counted it
    // anew, and c was counted.
    const live = makeCounter(100_000, 2, 101_000, 0);
    live.instance = "c\nb";
    const restored = makeCounter(70_000, 2, 90_000, 0);
    restored.instance = "b\na";
    const merged = mergeRestored(live, restored, limit("fixed"), 102_000);
    assert.equal(merged.count, 3, "a, b and c");
    assert.equal(merged.instance, "c\nb\na");
  });
});

describe("countedSince (a shared counter copied into memory, then counted on)", () => {
  /** The copy as it was exported, and the live counter that goes on counting from it. */
  const counted = (exported: ReturnType<typeof makeCounter>) => ({
    copy: { ...exported },
    live: { ...exported },
  });

  it("fixed: what was counted since the copy, in the same window; the copy is left as it was", () => {
    const { copy, live } = counted(makeCounter(10_000, 5, 20_000, 2));
    live.count += 3;
    live.last = 30_000;
    const since = countedSince(live, copy, limit("fixed"), 40_000);
    assert.deepEqual([since.start, since.count, since.alert], [10_000, 3, 2]);
    assert.deepEqual([copy.start, copy.count], [10_000, 5], "the copy unchanged");
    assert.notEqual(since, live, "a new counter");
  });

  it("fixed: after the window ended, nothing of the copy is left to take off", () => {
    const { copy, live } = counted(makeCounter(10_000, 5, 20_000, 0));
    rollCounter(live, limit("fixed"), 75_000); // a new window at 75 s
    live.count = 2;
    const since = countedSince(live, copy, limit("fixed"), 80_000);
    assert.deepEqual([since.start, since.count], [75_000, 2]);
  });

  it("sliding: the current and the previous sub-window each less the copy's", () => {
    const { copy, live } = counted(makeCounter(0, 4, 30_000, 0));
    live.count += 1; // 5 in the first sub-window, 4 of them the copy's
    rollCounter(live, limit("sliding"), 70_000); // the next sub-window: prev 5
    live.count = 2;
    const since = countedSince(live, copy, limit("sliding"), 70_000);
    assert.deepEqual([since.start, since.prev, since.count], [60_000, 1, 2]);
  });

  it("bucket: the level less the copy's level drained alike, never below zero", () => {
    const { copy, live } = counted(makeCounter(0, 6, 0, 0));
    live.count += 2; // 8 at 0 s
    const since = countedSince(live, copy, limit("bucket"), 12_000); // 10 a minute: 2 drained from each
    assert.equal(since.count, 2);
    const drained = countedSince(makeCounter(0, 1, 0, 0), makeCounter(0, 6, 0, 0), limit("bucket"), 1_000);
    assert.equal(drained.count, 0, "a counter below its copy (reset meanwhile) adds nothing");
  });

  it("the sightings less the copy's: only what was seen since goes into Redis, which holds the rest", () => {
    const exported = makeCounter(10_000, 3, 20_000, 0);
    exported.clientIps = new Tally("192.0.2.7", 3);
    exported.subjects = new Tally("Hi", 3);
    const copy = { ...exported, clientIps: exported.clientIps.copy(), subjects: exported.subjects.copy() };
    const live = exported; // memory goes on counting in the counter it took
    live.count += 2;
    live.clientIps!.add("192.0.2.7");
    live.clientIps!.add("198.51.100.1");
    const since = countedSince(live, copy, limit("fixed"), 40_000);
    assert.deepEqual([...since.clientIps!], [["192.0.2.7", 1], ["198.51.100.1", 1]]);
    assert.equal(since.subjects, undefined, "no subject seen since");
    assert.deepEqual([...copy.clientIps!], [["192.0.2.7", 3]], "the copy unchanged");
    assert.deepEqual([...live.clientIps!], [["192.0.2.7", 4], ["198.51.100.1", 1]], "nor the live counter's");
  });

  it("sliding: the sightings of each sub-window less the copy's of the same one", () => {
    const exported = makeCounter(0, 2, 30_000, 0);
    exported.clientIps = new Tally("192.0.2.7", 2);
    const copy = { ...exported, clientIps: exported.clientIps.copy() };
    const live = exported;
    live.clientIps!.add("192.0.2.7"); // 3 in the first sub-window, 2 of them the copy's
    rollCounter(live, limit("sliding"), 70_000); // the next sub-window: the older generation
    live.clientIps!.add("192.0.2.7");
    const since = countedSince(live, copy, limit("sliding"), 70_000);
    const entries: [string, number, number][] = [];
    since.clientIps!.forEach((value, count, older) => entries.push([value, count, older]));
    assert.deepEqual(entries, [["192.0.2.7", 2, 1]], "1 newer + 1 older");
  });
});

describe("Tally copy and since", () => {
  it("a copy keeps both generations and does not follow the original", () => {
    const tally = new Tally("a", 2);
    tally.add("b");
    tally.aged();
    tally.add("a", 3);
    const copy = tally.copy()!;
    tally.add("c");
    const entries: [string, number, number][] = [];
    copy.forEach((value, count, older) => entries.push([value, count, older]));
    assert.deepEqual(entries, [["a", 5, 2], ["b", 1, 1]]);
  });

  it("since: nothing left is undefined; a value seen less than before does not go below zero", () => {
    const before = new Tally("a", 3);
    assert.equal(new Tally("a", 3).since(before), undefined);
    assert.equal(new Tally("a", 1).since(before), undefined);
  });
});
