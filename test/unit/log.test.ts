import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createLogger, formatLogLine, LOG_LEVELS, MAX_VALUE_CHARS } from "../../src/log.ts";

/** The fields after `message`, read back: bare `name=value` or `name="json string"`. */
function fieldsOf(line: string, prefix: string): Record<string, string> {
  const rest = line.slice(line.indexOf(prefix) + prefix.length);
  const fields: Record<string, string> = {};
  for (const match of rest.matchAll(/ (\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
    fields[match[1]] = match[2].startsWith('"') ? JSON.parse(match[2]) : match[2];
  }
  return fields;
}

describe("formatLogLine", () => {
  it("starts with an ISO timestamp, the level and the source", () => {
    const line = formatLogLine("warn", "policy", "bad request");
    assert.match(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warn policy: bad request$/);
  });

  it("writes plain values bare and leaves out undefined and null", () => {
    const line = formatLogLine("info", "s", "m", { key: "a@x", n: 3, ok: true, gone: undefined, none: null });
    assert.ok(line.endsWith(" s: m key=a@x n=3 ok=true"), line);
  });

  it("quotes values with spaces, quotes, backslashes, controls or nothing, and they read back", () => {
    const tricky = {
      spaced: "two words",
      fake: "x other=injected",
      newline: "line1\nline2\r\nline3",
      quote: 'say "hi"',
      backslash: "a\\b",
      control: "esc\x1b[31m\x00",
      c1: "csi\x9b31m",
      bidi: "\u202egro.elpmaxe@nimda",
      invisible: "admin\u200b\u00ad\u2060\ufeff@example.org\u{e0041}",
      filler: "admin\u3164@example.org\ufe0f\u2800",
      tab: "a\tb",
      empty: "",
    };
    const line = formatLogLine("error", "src", "msg", tricky);
    assert.doesNotMatch(line, /[\n\r]/);
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(line, /[\x00-\x1f\x7f-\x9f\u202a-\u202e]/);
    assert.doesNotMatch(line, /\p{Cf}/u, "a zero-width space, soft hyphen or tag character written out");
    assert.match(line, / filler="admin\\u3164@example\.org\\ufe0f\\u2800"/);
    assert.match(line, / invisible="admin\\u200b\\u00ad\\u2060\\ufeff@example\.org\\udb40\\udc41"/);
    assert.deepEqual(fieldsOf(line, "src: msg"), tricky);
  });

  it("keeps at most MAX_VALUE_CHARS of a value, says how much it left out, and never half a character", () => {
    const symbols = Array.from({ length: 150 }, (_, i) => `LOCAL_RULE_${i}_${"X".repeat(88)}`).join(",");
    const fields = fieldsOf(formatLogLine("info", "spamd", "scanned", { symbols, score: "7.50" }), "scanned");
    assert.equal(fields.score, "7.50", "the fields after it are kept");
    const kept = MAX_VALUE_CHARS;
    assert.equal(fields.symbols, `${symbols.slice(0, kept)}… (${symbols.length - kept} more characters)`);
    // An emoji (two UTF-16 units) across the bound: left out whole.
    const emoji = `${"a".repeat(MAX_VALUE_CHARS - 1)}\u{1F4E7}tail`;
    const cut = fieldsOf(formatLogLine("info", "s", "m", { subject: emoji }), "s: m").subject;
    assert.equal(cut, `${"a".repeat(MAX_VALUE_CHARS - 1)}… (6 more characters)`);
    const short = "x".repeat(MAX_VALUE_CHARS);
    assert.equal(
      fieldsOf(formatLogLine("info", "s", "m", { v: short }), "s: m").v,
      short,
      "at the bound: whole",
    );
  });

  it("keeps a stack trace on one line", () => {
    const stack = new Error("boom").stack ?? "Error: boom\n    at somewhere";
    const line = formatLogLine("error", "daemon", "uncaught exception", { error: stack });
    assert.doesNotMatch(line, /\n/);
    assert.equal(fieldsOf(line, "daemon: uncaught exception").error, stack);
  });
});

describe("createLogger", () => {
  function capture(level: (typeof LOG_LEVELS)[number]) {
    const lines: string[] = [];
    const log = createLogger(level, (line) => lines.push(line));
    return { lines, log };
  }

  it("writes only events at or above the threshold", () => {
    const { lines, log } = capture("warn");
    log.debug("s", "d");
    log.info("s", "i");
    log.warn("s", "w", { k: 1 });
    log.error("s", "e");
    assert.equal(lines.length, 2);
    assert.match(lines[0], / warn s: w k=1$/);
    assert.match(lines[1], / error s: e$/);
  });

  it("enabled() follows the threshold", () => {
    const { log } = capture("info");
    assert.deepEqual(LOG_LEVELS.map((level) => log.enabled(level)), [false, true, true, true]);
  });

  it("setLevel moves the threshold both ways", () => {
    const { lines, log } = capture("error");
    log.warn("s", "hidden");
    log.setLevel("debug");
    log.debug("s", "shown");
    log.setLevel("error");
    log.info("s", "hidden again");
    assert.equal(lines.length, 1);
    assert.match(lines[0], / debug s: shown$/);
    assert.equal(log.enabled("warn"), false);
  });
});
