import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import {
  absoluteOrRelativePath,
  address,
  addressList,
  duration,
  integer,
  octalMode,
  oneOf,
  text,
  window,
} from "../../../src/config/values.ts";

// deno-lint-ignore no-explicit-any
function ok(schema: v.GenericSchema<string, any>, input: string): unknown {
  const result = v.safeParse(schema, input);
  if (!result.success) throw new Error(`${JSON.stringify(input)} rejected: ${result.issues[0].message}`);
  return result.output;
}

// deno-lint-ignore no-explicit-any
function problem(schema: v.GenericSchema<string, any>, input: string): string {
  const result = v.safeParse(schema, input);
  if (result.success) {
    throw new Error(`${JSON.stringify(input)} accepted as ${JSON.stringify(result.output)}`);
  }
  return result.issues[0].message;
}

describe("value schemas", () => {
  const DAY = 86_400_000;

  it("window keeps the length and the text as written, and enforces the minimum and the maximum", () => {
    assert.deepEqual(ok(window(1000, 30 * DAY), "1h"), { ms: 3_600_000, text: "1h" });
    assert.deepEqual(ok(window(1000, 30 * DAY), "300"), { ms: 300_000, text: "300s" });
    assert.deepEqual(ok(window(1000, 30 * DAY), "30d"), { ms: 30 * DAY, text: "30d" });
    assert.equal(problem(window(1000, 30 * DAY), "999ms"), "must be at least 1000 ms");
    assert.equal(problem(window(1000, 30 * DAY), "31d"), "must be at most 30d");
    assert.equal(problem(window(1000, 30 * DAY), "99999999999999999999d"), "must be at most 30d");
    assert.match(problem(window(1000, 30 * DAY), "soon"), /expected a duration/);
  });

  it("duration converts to ms and enforces the minimum and the maximum", () => {
    assert.equal(ok(duration(1000, DAY), "300"), 300_000);
    assert.equal(ok(duration(1000, DAY), "1s"), 1000);
    assert.equal(ok(duration(1000, DAY), "24h"), DAY);
    assert.equal(problem(duration(1000, DAY), "999ms"), "must be at least 1000 ms");
    assert.match(problem(duration(1000, DAY), "soon"), /expected a duration/);
    // 25d is over 2^31-1 ms: a timer would fire at once (and an interval every millisecond).
    assert.equal(problem(duration(1000, DAY), "25d"), "must be at most 1d");
    assert.equal(problem(duration(1000, DAY), "86400001ms"), "must be at most 1d");
  });

  it("integer accepts whole numbers inside its range only", () => {
    assert.equal(ok(integer(1, 65535), "25"), 25);
    assert.equal(ok(integer(1, 65535), "65535"), 65535);
    assert.equal(problem(integer(1, 65535), "0"), "must be at least 1");
    assert.equal(problem(integer(1, 65535), "65536"), "must be at most 65535");
    for (const bad of ["-1", "2.5", "1e3", "twenty", ""]) {
      assert.equal(problem(integer(1, 65535), bad), "expected a whole number", bad);
    }
  });

  it("text must not be empty", () => {
    assert.equal(ok(text, "Mail Abuse Alert"), "Mail Abuse Alert");
    assert.equal(problem(text, ""), "must not be empty");
  });

  it("paths must be non-empty and free of NUL and newline", () => {
    assert.equal(ok(absoluteOrRelativePath, "run/state.json"), "run/state.json");
    assert.equal(problem(absoluteOrRelativePath, ""), "must not be empty");
    assert.equal(problem(absoluteOrRelativePath, "a\0b"), "must be a path");
    assert.equal(problem(absoluteOrRelativePath, "a\nb"), "must be a path");
  });

  it("address accepts one address, trimmed", () => {
    assert.equal(ok(address, " postmaster@example.org "), "postmaster@example.org");
    for (const bad of ["postmaster", "a@b@c", "a b@c", "<a@b>", "a@b, c@d", ""]) {
      assert.equal(problem(address, bad), "expected an e-mail address", bad);
    }
  });

  it("addressList splits on commas and whitespace; empty gives none", () => {
    assert.deepEqual(ok(addressList, "boss@example.org"), ["boss@example.org"]);
    assert.deepEqual(ok(addressList, "a@x, b@y  c@z,,"), ["a@x", "b@y", "c@z"]);
    assert.deepEqual(ok(addressList, ""), []);
    assert.equal(problem(addressList, "a@x, nobody"), "expected comma-separated e-mail addresses");
  });

  it("oneOf is case-insensitive and yields the lower-case choice", () => {
    const level = oneOf(["debug", "info"] as const);
    assert.equal(ok(level, "INFO"), "info");
    assert.equal(problem(level, "loud"), "expected one of: debug, info");
  });

  it("octalMode reads three octal digits with an optional leading 0", () => {
    assert.equal(ok(octalMode, "0660"), 0o660);
    assert.equal(ok(octalMode, "600"), 0o600);
    for (const bad of ["0860", "66", "00660", "rw-rw----"]) {
      assert.match(problem(octalMode, bad), /expected an octal mode/, bad);
    }
  });
});
