import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { counterFromRow, MAX_COUNT, MAX_KEY_LENGTH, RefusedRows } from "../../../src/store/state-rows.ts";
import { newCounter } from "../../../src/policy/rate.ts";
import { MESSAGES_REMEMBERED } from "../../../src/policy/counted-messages.ts";

const NOW = 1_780_000_000_000; // 2026
const LATEST = NOW + 86_400_000;

const problem = (row: unknown) => {
  const result = counterFromRow(row, LATEST);
  assert.equal(typeof result, "string", `accepted: ${JSON.stringify(row)}`);
  return result as string;
};

describe("counterFromRow", () => {
  it("makes a counter of the usual shape from a good row, with or without its optional fields", () => {
    const plain = counterFromRow(["a@x", NOW - 5000, 3, NOW, 0], LATEST);
    assert.equal(typeof plain, "object");
    assert.deepEqual(Object.keys(plain), Object.keys(newCounter(0)));
    const full = counterFromRow(
      ["a@x", NOW - 5000, 2.5, NOW, 2, [["Hi", 2]], [["192.0.2.1", 3]], 4, "m1"],
      LATEST,
    );
    assert.ok(typeof full === "object");
    assert.equal(full.count, 2.5, "bucket levels are fractional");
    assert.equal(full.alert, 2);
    assert.equal(full.prev, 4);
    assert.equal(full.instance, "m1");
    assert.equal(full.subjects?.get("Hi"), 2);
    assert.equal(full.clientIps?.get("192.0.2.1"), 3);
    assert.equal(typeof counterFromRow(["a@x", 1, 0, 1, 1, null, null, null, null], LATEST), "object");
  });

  it("takes a sliding window's two generations of sightings: [value, count, older part], 50 each", () => {
    // 50 values in each generation, one of them in both.
    const subjects = [
      ["both", 5, 3],
      ...Array.from({ length: 49 }, (_, i) => [`new${i}`, 1]),
      ...Array.from({ length: 49 }, (_, i) => [`old${i}`, 1, 1]),
    ];
    const counter = counterFromRow(["a@x", NOW - 5000, 1, NOW, 0, subjects], LATEST);
    assert.ok(typeof counter === "object");
    assert.equal(counter.subjects?.size, 99);
    assert.equal(counter.subjects?.get("both"), 5);
    assert.equal(counter.subjects?.get("old48"), 1);
    counter.subjects = counter.subjects?.aged();
    assert.equal(counter.subjects?.get("both"), 2, "the older part went, the newer one is the older now");
    assert.equal(counter.subjects?.has("old0"), false);
    assert.equal(counter.subjects?.size, 50);
  });

  it("refuses a window start or last-seen time in the future (2100) or not a whole ms time", () => {
    const in2100 = Date.UTC(2100, 0, 1);
    assert.equal(problem(["a@x", in2100, 1, NOW, 0]), "bad window start");
    assert.equal(problem(["a@x", NOW, 1, in2100, 0]), "bad last-seen time");
    assert.equal(problem(["a@x", -1, 1, NOW, 0]), "bad window start");
    assert.equal(problem(["a@x", 1.5, 1, NOW, 0]), "bad window start");
    assert.equal(problem(["a@x", "1", 1, NOW, 0]), "bad window start");
    // A clock stepped back by up to a day is believed.
    assert.equal(typeof counterFromRow(["a@x", NOW + 3_600_000, 1, NOW, 0], LATEST), "object");
  });

  it("refuses a negative, non-finite or absurd count", () => {
    for (const count of [-1_000_000, -0.5, NaN, Infinity, null, "5", MAX_COUNT * 10]) {
      assert.equal(problem(["a@x", NOW, count, NOW, 0]), "bad count", String(count));
    }
    assert.equal(typeof counterFromRow(["a@x", NOW, MAX_COUNT, NOW, 0], LATEST), "object");
  });

  it("refuses an alert state other than none, pending, sent or unsent", () => {
    for (const alert of [4, -1, 1.5, "1", null, true]) {
      assert.equal(problem(["a@x", NOW, 1, NOW, alert]), "bad alert state", String(alert));
    }
    for (const alert of [0, 1, 2, 3]) {
      const counter = counterFromRow(["a@x", NOW, 1, NOW, alert], LATEST);
      assert.equal(typeof counter === "object" && counter.alert, alert, `state ${alert} kept`);
    }
  });

  it("refuses a missing, empty or oversized key", () => {
    assert.equal(problem([42, NOW, 1, NOW, 0]), "no key");
    assert.equal(problem(["", NOW, 1, NOW, 0]), "no key");
    assert.equal(problem(["x".repeat(MAX_KEY_LENGTH + 1), NOW, 1, NOW, 0]), "key too long");
    assert.equal(typeof counterFromRow(["x".repeat(MAX_KEY_LENGTH), NOW, 1, NOW, 0], LATEST), "object");
  });

  it("refuses what is not a row, and bad optional fields", () => {
    for (
      const row of [null, {}, "row", [], ["a@x", NOW, 1, NOW], ["a@x", NOW, 1, NOW, 0, null, null, 0, "m", 9]]
    ) {
      assert.equal(problem(row), "not a counter row", JSON.stringify(row));
    }
    assert.equal(problem(["a@x", NOW, 1, NOW, 0, "Hi"]), "not a list of sightings");
    assert.equal(problem(["a@x", NOW, 1, NOW, 0, [["Hi", -2]]]), "bad sighting count");
    assert.equal(problem(["a@x", NOW, 1, NOW, 0, [[7, 2]]]), "bad sighting");
    assert.equal(problem(["a@x", NOW, 1, NOW, 0, Array(101).fill(["s", 1])]), "not a list of sightings");
    assert.equal(problem(["a@x", NOW, 1, NOW, 0, [["Hi", 2, 3]]]), "bad sighting count");
    assert.equal(problem(["a@x", NOW, 1, NOW, 0, [["Hi", 2, -1]]]), "bad sighting count");
    assert.equal(problem(["a@x", NOW, 1, NOW, 0, [["Hi", 2, 1, 0]]]), "bad sighting count");
    assert.equal(problem(["a@x", NOW, 1, NOW, 0, null, [["x".repeat(5000), 1]]]), "bad sighting");
    assert.equal(problem(["a@x", NOW, 1, NOW, 0, null, null, -3]), "bad previous count");
    assert.equal(problem(["a@x", NOW, 1, NOW, 0, null, null, 0, 5]), "bad message instance");
    const longest = Array(MESSAGES_REMEMBERED).fill("m".repeat(4096)).join("\n");
    assert.equal(problem(["a@x", NOW, 1, NOW, 0, null, null, 0, `${longest}x`]), "bad message instance");
  });

  it("keeps a counter's messages counted lately, the longest requests' instances included", () => {
    const longest = Array.from({ length: MESSAGES_REMEMBERED }, (_, i) => `${i}`.repeat(4096)).join("\n");
    const restored = counterFromRow(["a@x", NOW, 1, NOW, 0, null, null, 0, longest], LATEST);
    assert.ok(typeof restored === "object", String(restored));
    assert.equal(restored.instance, longest);
  });
});

describe("RefusedRows", () => {
  it("counts refusals by reason for one log line", () => {
    const refused = new RefusedRows();
    refused.add("bad count");
    refused.add("key too long");
    refused.add("bad count");
    assert.equal(refused.total, 3);
    assert.equal(refused.toString(), "bad count: 2, key too long: 1");
  });
});
