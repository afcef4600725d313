// The listeners' rate-limited warnings: a flood of bad input or refusals is one line a period, with how
// many happened since the last line, and a burst ends with a line for those held back.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { rateLimitedWarning } from "../../../src/listeners/connection-bound.ts";
import { createLogger } from "../../../src/log.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("rateLimitedWarning", () => {
  it("logs the first at once, then those held back when the period ends, each with the count since", async () => {
    const lines: string[] = [];
    const warn = rateLimitedWarning(
      createLogger("info", (line) => lines.push(line)),
      "postfix",
      "bad",
      "n",
      80,
    );
    warn({ error: "first" });
    warn({ error: "second" });
    warn({ error: "third" });
    assert.equal(lines.length, 1);
    assert.match(lines[0], /postfix: bad.*error=first.*n=1/);
    await sleep(150);
    assert.equal(lines.length, 2, "the held-back ones are logged when the period ends");
    assert.match(lines[1], /postfix: bad.*error=third.*n=2/);
    await sleep(100);
    warn({ error: "fourth" });
    assert.equal(lines.length, 3, "a new period logs at once");
    assert.match(lines[2], /error=fourth.*n=1/);
    await sleep(150);
    assert.equal(lines.length, 3, "nothing held back, nothing more");
  });
});
