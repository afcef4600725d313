import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { outboxEntryProblem } from "../../../src/store/outbox-entry.ts";

const GOOD = {
  id: "thresholds|spam@example.net|1714564800000",
  limit: "thresholds",
  keyKind: "sender",
  key: "spam@example.net",
  count: 21,
  limitCount: 20,
  unit: "messages",
  windowMs: 300_000,
  window: "300s",
  firstSeen: 1714564800000,
  lastSeen: 1714564842000,
  topSubjects: [["Cheap pills", 15]],
  topClientIps: [],
};

describe("outboxEntryProblem", () => {
  it("accepts a notice as the counters actor saves it, and one from before unit and window", () => {
    assert.equal(outboxEntryProblem(GOOD), undefined);
    const { unit: _unit, window: _window, ...older } = GOOD;
    assert.equal(outboxEntryProblem(older), undefined);
  });

  it("accepts the recipients still to reach after a partial delivery; refuses a list that is none", () => {
    assert.equal(outboxEntryProblem({ ...GOOD, recipients: ["boss@example.org"] }), undefined);
    for (const recipients of [[], "boss@example.org", [""], [42], null]) {
      assert.equal(
        outboxEntryProblem({ ...GOOD, recipients }),
        "recipients: not a list of addresses",
        JSON.stringify(recipients),
      );
    }
  });

  it("refuses {} and what is not an object", () => {
    assert.equal(outboxEntryProblem({}), "id: not a text");
    assert.equal(outboxEntryProblem(null), "not an object");
    assert.equal(outboxEntryProblem([GOOD]), "not an object");
    assert.equal(outboxEntryProblem("x"), "not an object");
  });

  it("refuses times no Date holds (the mail would say Invalid Date, or not be made at all)", () => {
    assert.equal(outboxEntryProblem({ ...GOOD, firstSeen: "yesterday" }), "firstSeen: not a time");
    assert.equal(outboxEntryProblem({ ...GOOD, lastSeen: 1e16 }), "lastSeen: not a time");
    assert.equal(
      outboxEntryProblem({ ...GOOD, firstSeen: 8.64e15 }),
      "windowMs: the window ends past any date",
    );
    assert.equal(outboxEntryProblem({ ...GOOD, windowMs: 0 }), "windowMs: not a duration");
  });

  it("refuses bad numbers, units and top lists", () => {
    assert.equal(outboxEntryProblem({ ...GOOD, count: -1 }), "count: not a number");
    assert.equal(outboxEntryProblem({ ...GOOD, limitCount: Number.NaN }), "limitCount: not a number");
    assert.equal(outboxEntryProblem({ ...GOOD, unit: "bytes" }), "unit: neither messages nor recipients");
    assert.equal(
      outboxEntryProblem({ ...GOOD, algorithm: "fixed" }),
      "algorithm: neither sliding nor bucket",
    );
    assert.equal(outboxEntryProblem({ ...GOOD, algorithm: "bucket" }), undefined);
    assert.equal(
      outboxEntryProblem({ ...GOOD, topSubjects: [["x"]] }),
      "topSubjects: not a list of [text, count]",
    );
    assert.equal(
      outboxEntryProblem({ ...GOOD, topClientIps: null }),
      "topClientIps: not a list of [text, count]",
    );
  });
});
