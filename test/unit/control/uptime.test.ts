import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatUptime } from "../../../src/control/uptime.ts";

describe("formatUptime", () => {
  it("gives seconds only under a minute, and days, hours, minutes above", () => {
    assert.equal(formatUptime(0), "0s");
    assert.equal(formatUptime(42), "42s");
    assert.equal(formatUptime(7500), "2h 5m");
    assert.equal(formatUptime(3600), "1h");
    assert.equal(formatUptime(3 * 86400 + 4 * 3600 + 59), "3d 4h");
    assert.equal(formatUptime(125), "2m 5s");
    assert.equal(formatUptime(3599.9), "59m 59s");
  });

  it("leaves out a part that is zero, also the seconds of a whole minute", () => {
    assert.equal(formatUptime(60), "1m", "was 1m 0s, unlike 1h for 3600");
    assert.equal(formatUptime(86400 + 60), "1d 1m");
  });
});
