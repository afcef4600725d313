import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatDuration, UNIT_MS } from "../../../src/config/format-duration.ts";

const DAY = 86_400_000;

describe("formatDuration", () => {
  it("writes a whole number of one unit in that unit, as the config's range messages name them", () => {
    const cases: [number, string][] = [[DAY, "1d"], [3_600_000, "1h"], [600_000, "10m"], [5000, "5s"]];
    cases.push([100, "100ms"], [2 * DAY, "2d"], [30 * DAY, "30d"]);
    for (const [ms, shown] of cases) assert.equal(formatDuration(ms), shown, String(ms));
  });

  it("writes the other durations in parts, largest first, leaving out the parts that are zero", () => {
    assert.equal(formatDuration(90_000), "1m 30s");
    assert.equal(formatDuration(1500), "1s 500ms");
    assert.equal(formatDuration(DAY + 5000), "1d 5s");
    assert.equal(formatDuration(3 * DAY + 4 * 3_600_000 + 5 * 60_000 + 6007), "3d 4h 5m 6s 7ms");
  });

  it("drops what is below the smallest unit asked for, and says 0 in that unit when nothing is left", () => {
    assert.equal(formatDuration(7_507_000, "m"), "2h 5m");
    assert.equal(formatDuration(3_600_000 + 59_999, "m"), "1h");
    assert.equal(formatDuration(42_900, "s"), "42s");
    assert.equal(formatDuration(999, "s"), "0s");
    assert.equal(formatDuration(0), "0ms");
    assert.equal(formatDuration(0, "s"), "0s");
  });

  it("takes negative and NaN as zero, and a fraction of a millisecond as none", () => {
    assert.equal(formatDuration(-5000, "s"), "0s");
    assert.equal(formatDuration(Number.NaN, "s"), "0s");
    assert.equal(formatDuration(1.7), "1ms");
  });

  it("knows the units the config's durations are written in", () => {
    assert.deepEqual(UNIT_MS, { d: DAY, h: 3_600_000, m: 60_000, s: 1000, ms: 1 });
  });
});
