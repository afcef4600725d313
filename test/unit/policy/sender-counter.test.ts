import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ALERT_NONE,
  ALERT_PENDING,
  ALERT_SENT,
  makeCounter,
  recordSighting,
  type SenderCounter,
  Tally,
  topEntries,
} from "../../../src/policy/sender-counter.ts";

const fresh = (): SenderCounter => makeCounter(0, 0, 0, ALERT_NONE);

describe("alert states", () => {
  it("are the numbers the state file stores: 0 none, 1 pending, 2 sent", () => {
    assert.deepEqual([ALERT_NONE, ALERT_PENDING, ALERT_SENT], [0, 1, 2]);
  });
});

describe("recordSighting", () => {
  it("keeps nothing (not even an empty record) for a request with neither subject nor client IP", () => {
    const counter = fresh();
    recordSighting(counter);
    recordSighting(counter, undefined, undefined);
    assert.deepEqual(counter, fresh());
  });

  it("counts each distinct subject and client IP", () => {
    const counter = fresh();
    recordSighting(counter, "Buy now", "192.0.2.1");
    recordSighting(counter, "Buy now", "192.0.2.2");
    recordSighting(counter, "Hello", "192.0.2.1");
    recordSighting(counter, "Buy now");
    assert.deepEqual(new Map(counter.subjects), new Map([["Buy now", 3], ["Hello", 1]]));
    assert.deepEqual(new Map(counter.clientIps), new Map([["192.0.2.1", 2], ["192.0.2.2", 1]]));
  });

  it("creates only the tally for the kind that was seen", () => {
    const subjects = fresh();
    recordSighting(subjects, "only a subject");
    assert.equal(subjects.clientIps, undefined);
    assert.deepEqual([...subjects.subjects!], [["only a subject", 1]]);
    const ips = fresh();
    recordSighting(ips, undefined, "2001:db8::1");
    assert.equal(ips.subjects, undefined);
    assert.deepEqual([...ips.clientIps!], [["2001:db8::1", 1]]);
  });

  it("keeps at most 50 distinct values per kind, and keeps counting the ones it has", () => {
    const counter = fresh();
    for (let i = 0; i < 60; i++) recordSighting(counter, `subject ${i}`, `192.0.2.${i}`);
    const { subjects, clientIps } = counter;
    assert.equal(subjects?.size, 50);
    assert.equal(clientIps?.size, 50);
    assert.ok(subjects?.has("subject 0") && subjects.has("subject 49"), "the first 50 are kept");
    assert.equal(subjects?.has("subject 50"), false);
    assert.equal(clientIps?.has("192.0.2.59"), false);

    recordSighting(counter, "subject 7", "192.0.2.7");
    recordSighting(counter, "subject 99", "192.0.2.99");
    assert.equal(subjects?.get("subject 7"), 2);
    assert.equal(clientIps?.get("192.0.2.7"), 2);
    assert.equal(subjects?.size, 50);
    assert.equal(subjects?.has("subject 99"), false);
  });

  it("caps subjects and IPs independently", () => {
    const counter = fresh();
    for (let i = 0; i < 55; i++) recordSighting(counter, `s${i}`, "192.0.2.1");
    assert.equal(counter.subjects?.size, 50);
    assert.deepEqual([...counter.clientIps!], [["192.0.2.1", 55]]);
  });
});

describe("Tally", () => {
  it("holds one value without a map, and counts a second one beside it", () => {
    const tally = new Tally("192.0.2.1");
    tally.add("192.0.2.1");
    assert.equal(tally.size, 1);
    assert.equal(tally.get("192.0.2.1"), 2);
    tally.add("192.0.2.9", 3);
    assert.equal(tally.size, 2);
    assert.equal(tally.get("192.0.2.9"), 3);
    assert.equal(tally.has("192.0.2.8"), false);
    assert.deepEqual([...tally], [["192.0.2.1", 2], ["192.0.2.9", 3]]);
  });

  it("is rebuilt from the pairs it gave, and from none is nothing", () => {
    const tally = new Tally("a", 4);
    tally.add("b");
    assert.deepEqual([...Tally.from([...tally])!], [["a", 4], ["b", 1]]);
    assert.equal(Tally.from([]), undefined);
  });
});

describe("Tally generations (a sliding window's sub-windows)", () => {
  it("aged: what was seen becomes the older generation, read together with what comes after", () => {
    const tally = Tally.from([["a", 2], ["b", 1]])!.aged()!;
    assert.deepEqual([...tally], [["a", 2], ["b", 1]]);
    tally.add("b", 3);
    tally.add("c");
    assert.deepEqual([...tally], [["b", 4], ["c", 1], ["a", 2]], "the newer generation's values first");
    assert.equal(tally.get("b"), 4);
    assert.equal(tally.get("a"), 2);
    assert.equal(tally.has("z"), false);
    assert.equal(tally.size, 3);
    const parts: [string, number, number][] = [];
    tally.forEach((value, count, older) => parts.push([value, count, older]));
    assert.deepEqual(parts, [["b", 4, 1], ["c", 1, 0], ["a", 2, 2]]);
  });

  it("aged again forgets the older generation; with nothing new, nothing is left", () => {
    const tally = new Tally("a", 5).aged()!;
    tally.add("b");
    assert.equal(tally.aged(), tally);
    assert.deepEqual([...tally], [["b", 1]]);
    assert.equal(tally.aged(), undefined);
  });

  it("keeps counting the first value of a generation without a map, also after aging", () => {
    const tally = new Tally("192.0.2.1", 3).aged()!;
    tally.add("192.0.2.1");
    tally.add("192.0.2.1");
    assert.deepEqual([...tally], [["192.0.2.1", 5]]);
    const other = new Tally("192.0.2.1").aged()!;
    other.add("192.0.2.2");
    assert.deepEqual([...other], [["192.0.2.2", 1], ["192.0.2.1", 1]]);
  });

  it("keeps up to 50 distinct values per generation", () => {
    const tally = new Tally("s0");
    for (let i = 1; i < 60; i++) tally.add(`s${i}`);
    tally.aged();
    for (let i = 100; i < 160; i++) tally.add(`s${i}`);
    assert.equal(tally.size, 100);
    assert.ok(tally.has("s49") && tally.has("s149"));
    assert.equal(tally.has("s150"), false);
  });

  it("is rebuilt from [value, count, older part] entries, and addAll adds generation by generation", () => {
    const tally = Tally.from([["a", 3, 1], ["b", 2, 2], ["c", 1]])!;
    const parts: [string, number, number][] = [];
    tally.forEach((value, count, older) => parts.push([value, count, older]));
    assert.deepEqual(parts, [["a", 3, 1], ["c", 1, 0], ["b", 2, 2]]);
    assert.equal(Tally.from([["a", 0]]), undefined, "nothing seen");

    const into = new Tally("a");
    into.addAll(tally);
    assert.deepEqual([...into], [["a", 4], ["c", 1], ["b", 2]]);
    into.aged();
    assert.deepEqual([...into], [["a", 3], ["c", 1]], "what came from the older generation went");
  });
});

describe("topEntries", () => {
  it("gives nothing for a kind never seen", () => {
    assert.deepEqual(topEntries(undefined, 10), []);
    assert.deepEqual(topEntries(new Map(), 10), []);
  });

  it("orders by count, highest first, and equal counts by value", () => {
    const map = new Map([["d", 1], ["b", 2], ["c", 5], ["a", 2], ["e", 2]]);
    assert.deepEqual(topEntries(map, 10), [["c", 5], ["a", 2], ["b", 2], ["e", 2], ["d", 1]]);
  });

  it("keeps the first n, and does not change the map", () => {
    const map = new Map([["x", 1], ["y", 3], ["z", 2]]);
    assert.deepEqual(topEntries(map, 2), [["y", 3], ["z", 2]]);
    assert.deepEqual(topEntries(map, 0), []);
    assert.deepEqual([...map.entries()], [["x", 1], ["y", 3], ["z", 2]]);
  });

  it("ranks what recordSighting counted", () => {
    const counter = fresh();
    for (const subject of ["spam", "ham", "spam", "eggs", "spam", "ham"]) recordSighting(counter, subject);
    assert.deepEqual(topEntries(counter.subjects, 2), [["spam", 3], ["ham", 2]]);
  });
});

describe("client addresses shared between counters", () => {
  it("still count correctly once more distinct addresses than the pool holds have come by", () => {
    const counters = Array.from({ length: 5000 }, () => fresh());
    counters.forEach((counter, i) => recordSighting(counter, undefined, `10.0.${i >> 8}.${i & 255}`));
    recordSighting(counters[0], undefined, "10.0.0.0");
    recordSighting(counters[4999], undefined, `10.0.${4999 >> 8}.${4999 & 255}`);
    recordSighting(counters[4999], undefined, "10.0.0.0");
    assert.deepEqual([...counters[0].clientIps!], [["10.0.0.0", 2]]);
    assert.deepEqual([...counters[4999].clientIps!], [["10.0.19.135", 2], ["10.0.0.0", 1]]);
  });
});
