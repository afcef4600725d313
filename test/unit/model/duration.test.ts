import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { durationText, formatDuration, parseDuration, UNIT_MS } from "../../../src/model/duration.ts";

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

describe("parseDuration", () => {
  it("reads a bare number as seconds, as the seed does", () => {
    assert.equal(parseDuration("300"), 300_000);
    assert.equal(parseDuration("1.5"), 1500);
  });

  it("reads each unit, case-insensitively, with optional spaces", () => {
    assert.equal(parseDuration("500ms"), 500);
    assert.equal(parseDuration("30s"), 30_000);
    assert.equal(parseDuration("5m"), 300_000);
    assert.equal(parseDuration("1h"), 3_600_000);
    assert.equal(parseDuration("1d"), 86_400_000);
    assert.equal(parseDuration("2H"), 7_200_000);
    assert.equal(parseDuration(" 30 s "), 30_000);
    assert.equal(parseDuration("1.5h"), 5_400_000);
  });

  it("rounds to whole milliseconds", () => {
    assert.equal(parseDuration("0.0015s"), 2);
  });

  it("rejects what is not a duration", () => {
    for (const bad of ["", " ", "-5", "5min", "1e3", "five", "5 m s", "1.", ".5s", "5w"]) {
      assert.equal(parseDuration(bad), undefined, bad);
    }
  });
});

describe("durationText", () => {
  it("keeps the number and unit as written, in one spelling; a bare number is seconds", () => {
    const cases = [["1h", "1h"], ["90m", "90m"], ["1.5h", "1.5h"], ["300", "300s"], ["3600", "3600s"]];
    cases.push(["2H", "2h"], [" 30 s ", "30s"], ["1d", "1d"], ["500ms", "500ms"]);
    for (const [written, shown] of cases) assert.equal(durationText(written), shown, written);
  });

  it("is undefined for what parseDuration refuses", () => {
    for (const bad of ["", "5min", "five", "1.", "5w"]) assert.equal(durationText(bad), undefined, bad);
  });
});
