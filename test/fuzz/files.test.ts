// Properties of the readers of the two files the daemon trusts least: the config (src/config/ini.ts,
// load.ts), written by hand, and the state file (src/store/state-file.ts), left behind by a crash or an
// older version. Neither ever throws on what it reads: the config reader answers with FILE:LINE errors, the
// state reader with a plain Error saying what is wrong.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { configLines, parseIni } from "../../src/config/ini.ts";
import { loadConfigFile, parseConfig } from "../../src/config/load.ts";
import {
  ALERTS_SECTION,
  DAEMON_SECTION,
  LIMIT_SECTION,
  THRESHOLDS_SECTION,
} from "../../src/config/schema.ts";
import type { AlertNotice } from "../../src/policy/alert-notice.ts";
import { type AlertState, makeCounter, type SenderCounter, Tally } from "../../src/policy/sender-counter.ts";
import { parseState, type PersistedState, serializeState } from "../../src/store/state-file.ts";
import { checkProperty } from "./runs.ts";

const FILE = "/etc/mailpolicyd/fuzz.conf";
const ERROR = /^\/etc\/mailpolicyd\/fuzz\.conf:(\d+): (\S.*?): (\S.*)$/s;

/** Every error names the file and a line of the text that holds a section header or a key. */
function checkErrors(text: string, errors: string[]): void {
  assert.ok(errors.length > 0, "a refused config says why");
  const lines = configLines(text);
  for (const error of errors) {
    const match = ERROR.exec(error);
    assert.ok(match, `FILE:LINE: key: problem, got ${JSON.stringify(error)}`);
    const line = Number(match[1]);
    assert.ok(line >= 1 && line <= lines.length, `line ${line} of ${lines.length}: ${error}`);
    const content = lines[line - 1].trim();
    assert.ok(
      content !== "" && !content.startsWith("#") && !content.startsWith(";"),
      `line ${line}: ${error}`,
    );
  }
}

// INI-shaped text: the known sections and keys (and others), values valid or not, with the syntax's
// corners: quotes, inline comments, CRLF, a BOM, blank and comment lines, repeated keys and sections.
const allKeys = [DAEMON_SECTION, ALERTS_SECTION, THRESHOLDS_SECTION, LIMIT_SECTION].flatMap((spec) =>
  Object.keys(spec)
);
const sectionName = fc.oneof(
  fc.constantFrom(
    "daemon",
    "alerts",
    "thresholds",
    "Thresholds",
    "limit outbound",
    "limit a.b-c_1",
    "LIMIT  x",
  ),
  fc.constantFrom("limit", "limit thresholds", "limit Bad!", "unknown", ""),
  fc.string({ maxLength: 12 }),
);
const value = fc.oneof(
  fc.constantFrom(
    "20",
    "300",
    "5m",
    "1h",
    "25d",
    "0",
    "-1",
    "1e3",
    "yes",
    "no",
    "fixed",
    "sliding",
    "bucket",
  ),
  fc.constantFrom(
    "sender",
    "client_address/24",
    "sasl_username+recipient_domain",
    "@lists.example.org, 192.0.2.0/28",
  ),
  fc.constantFrom("'postmaster@example.org'", '"a@b"', "a@b, c@d", "127.0.0.1:10037", "[::1]:25", "none"),
  fc.constantFrom(
    "0660",
    "/run/x.sock",
    "relative/x",
    "debug",
    "open",
    "closed",
    "rcpt",
    "defer",
    "'unclosed",
  ),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
);
const iniLine = fc.oneof(
  { weight: 2, arbitrary: sectionName.map((name) => `[${name}]`) },
  {
    weight: 6,
    arbitrary: fc.tuple(
      fc.oneof(
        fc.constantFrom(...allKeys),
        fc.constantFrom("fromAddr", "toAddr", "COUNT"),
        fc.string({ maxLength: 8 }),
      ),
      fc.constantFrom(" = ", "=", " : ", "  =  "),
      value,
      fc.constantFrom("", "  # comment", " ; comment", "\t"),
    ).map(([key, separator, text, comment]) => `${key}${separator}${text}${comment}`),
  },
  { weight: 1, arbitrary: fc.constantFrom("", "# comment", "; comment", "   ", "[", "]", "= value", "key") },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
);
const iniText = fc.tuple(
  fc.boolean(),
  fc.array(iniLine, { maxLength: 25 }),
  fc.constantFrom("\n", "\r\n"),
  fc.boolean(),
).map(([bom, lines, newline, last]) => `${bom ? "\uFEFF" : ""}${lines.join(newline)}${last ? newline : ""}`);
const anyText = fc.oneof(
  fc.string({ maxLength: 400 }),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.string({
    unit: fc.constantFrom("[", "]", "=", ":", "#", ";", "'", '"', " ", "\n", "\r", "a", "\uFEFF"),
    maxLength: 80,
  }),
);

function checkConfig(text: string): void {
  const result = parseConfig(text, FILE, "/etc/mailpolicyd");
  if (!result.ok) return checkErrors(text, result.errors);
  const { config } = result;
  assert.ok(config.limits.length > 0, "some limit applies");
  for (const limit of config.limits) {
    assert.ok(Number.isInteger(limit.count) && limit.count >= 1, `${limit.name}.count`);
    assert.ok(Number.isFinite(limit.windowMs) && limit.windowMs > 0, `${limit.name}.time`);
  }
  assert.ok(config.daemon.stateFile.startsWith("/"), "paths are absolute");
}

describe("fuzz: config (parseIni, parseConfig, loadConfigFile)", () => {
  const dir = mkdtempSync(join(tmpdir(), "mailpolicyd-fuzz-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("reads any text into sections and entries whose lines are in the text", () => {
    checkProperty("ini: arbitrary text", fc.oneof(iniText, anyText), (text) => {
      const document = parseIni(text);
      const count = configLines(text).length;
      const inText = (line: number) => Number.isInteger(line) && line >= 1 && line <= count;
      for (const problem of document.problems) assert.ok(inText(problem.line), JSON.stringify(problem));
      for (const section of document.sections) {
        assert.ok(inText(section.line));
        for (const entry of section.entries) {
          assert.ok(inText(entry.line) && entry.line > section.line);
          assert.equal(entry.key, entry.key.toLowerCase());
          assert.ok(entry.key.length > 0);
        }
      }
    });
  });

  it("answers INI-shaped text with a config or errors that carry FILE:LINE", () => {
    checkProperty("config: INI-shaped text", iniText, checkConfig);
  });

  it("answers any text with a config or errors that carry FILE:LINE", () => {
    checkProperty("config: arbitrary text", anyText, checkConfig);
  });

  it("answers any file's bytes, invalid UTF-8 included, without throwing", () => {
    const file = join(dir, "fuzz.conf");
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      iniText.map((text) => new TextEncoder().encode(text)),
    );
    checkProperty("config: file bytes", bytes, (content) => {
      writeFileSync(file, content);
      const result = loadConfigFile(file);
      if (!result.ok) {
        for (const error of result.errors) assert.match(error, new RegExp(`^${file}:[1-9]\\d*: `));
      }
    });
  });

  it("reads [thresholds] back as written, whatever the spacing, quoting and comments", () => {
    const config = fc.record({
      count: fc.integer({ min: 1, max: 1_000_000_000 }),
      time: fc.oneof(
        fc.integer({ min: 1, max: 86_400 }).map((seconds) => ({ text: `${seconds}`, ms: seconds * 1000 })),
        fc.integer({ min: 1, max: 1440 }).map((minutes) => ({ text: `${minutes}m`, ms: minutes * 60_000 })),
        fc.integer({ min: 1, max: 48 }).map((hours) => ({ text: `${hours}h`, ms: hours * 3_600_000 })),
      ),
      quote: fc.constantFrom("", "'", '"'),
      separator: fc.constantFrom("=", " = ", ":", "\t=\t"),
      comment: fc.constantFrom("", " # per window", " ; note", "   "),
      newline: fc.constantFrom("\n", "\r\n"),
      header: fc.constantFrom("[thresholds]", "[ Thresholds ]", "[THRESHOLDS] # the seed's"),
      order: fc.boolean(),
    });
    checkProperty("config: [thresholds] values round-trip", config, (c) => {
      const lines = [
        `count${c.separator}${c.quote}${c.count}${c.quote}${c.comment}`,
        `time${c.separator}${c.quote}${c.time.text}${c.quote}${c.comment}`,
      ];
      if (c.order) lines.reverse();
      const text = ["; sender_warn.conf", c.header, ...lines, ""].join(c.newline);
      const result = parseConfig(text, FILE, "/etc/mailpolicyd");
      assert.ok(result.ok, !result.ok ? result.errors.join("\n") : "");
      const [limit] = result.config.limits;
      assert.equal(limit.name, "thresholds");
      assert.equal(limit.count, c.count);
      assert.equal(limit.windowMs, c.time.ms);
    });
  });
});

// The state file's own shapes, with junk mixed in at every level.
const junk = fc.jsonValue({ maxDepth: 1, depthSize: "xsmall" });
const row = fc.oneof(
  fc.tuple(
    fc.string(),
    fc.double(),
    fc.double(),
    fc.oneof(fc.double(), junk),
    fc.oneof(fc.constantFrom(0, 1, 2), junk),
    fc.oneof(fc.constant(null), fc.array(fc.tuple(fc.string(), fc.integer())), junk),
    fc.oneof(fc.constant(null), fc.array(fc.tuple(fc.string(), fc.integer())), junk),
    fc.oneof(fc.constant(null), fc.integer(), junk),
    fc.oneof(fc.constant(null), fc.string(), junk),
  ).chain((full) => fc.nat(full.length).map((length) => full.slice(0, length))),
  junk,
);
const stateShaped = fc.record({
  format: fc.oneof(fc.constant("mailpolicyd-state"), junk),
  version: fc.oneof(fc.constant(1), junk),
  savedAt: fc.oneof(fc.integer(), junk),
  limits: fc.oneof(fc.dictionary(fc.string(), fc.oneof(fc.array(row, { maxLength: 5 }), junk)), junk),
  outbox: fc.oneof(fc.array(junk, { maxLength: 3 }), junk),
}, { requiredKeys: [], noNullPrototype: true });

function checkStateText(text: string): void {
  let state: PersistedState;
  try {
    state = parseState(text);
  } catch (error) {
    assert.ok(error instanceof Error, "an Error");
    assert.equal(error.constructor, Error, `a plain Error, not ${error.name}: ${error.message}`);
    assert.ok(error.message.length > 0);
    return;
  }
  assert.ok(state.tables instanceof Map && Array.isArray(state.outbox));
  for (const table of state.tables.values()) {
    for (const [key, counter] of table) {
      assert.equal(typeof key, "string");
      assert.ok(Number.isFinite(counter.start) && Number.isFinite(counter.count));
    }
  }
}

// Counters as the daemon makes them: keys are decoded request text (no lone surrogates), numbers finite.
const tally = fc.uniqueArray(
  fc.tuple(fc.string({ unit: "binary", maxLength: 20 }), fc.integer({ min: 1, max: 1e9 })),
  {
    selector: ([value]) => value,
    maxLength: 5,
  },
);
// Within what the state reader accepts (store/state-rows.ts): times not after the file's time (nor now)
// by more than a day, so at most 2^40 ms (2004) here; a non-empty key.
const counter: fc.Arbitrary<SenderCounter> = fc.record({
  start: fc.integer({ min: 0, max: 2 ** 40 }),
  count: fc.oneof(fc.integer({ min: 0, max: 1e9 }), fc.double({ min: 0, max: 1e9, noNaN: true })),
  last: fc.integer({ min: 0, max: 2 ** 40 }),
  alert: fc.constantFrom<AlertState>(0, 1, 2, 3),
  prev: fc.oneof(
    fc.constant(0),
    fc.integer({ min: 0, max: 1e9 }),
    fc.double({ min: 0, max: 1e9, noNaN: true }),
  ),
  instance: fc.option(fc.string({ unit: "binary", maxLength: 20 }), { nil: undefined }),
  subjects: tally,
  clientIps: tally,
}).map((c) => {
  const made = makeCounter(c.start, c.count, c.last, c.alert);
  if (c.prev !== 0) made.prev = c.prev;
  made.instance = c.instance;
  made.subjects = Tally.from(c.subjects);
  made.clientIps = Tally.from(c.clientIps);
  return made;
});
const notice: fc.Arbitrary<AlertNotice> = fc.record({
  id: fc.string(),
  limit: fc.string(),
  keyKind: fc.constantFrom("sender", "client_address/24/64"),
  key: fc.string({ unit: "binary" }),
  count: fc.nat(),
  limitCount: fc.nat(),
  windowMs: fc.nat(),
  window: fc.constantFrom("5m", "1h", "300s"),
  firstSeen: fc.nat(),
  lastSeen: fc.nat(),
  topSubjects: fc.array(fc.tuple(fc.string({ unit: "binary" }), fc.nat()), { maxLength: 3 }),
  topClientIps: fc.array(fc.tuple(fc.string(), fc.nat()), { maxLength: 3 }),
}, { noNullPrototype: true });
const state: fc.Arbitrary<PersistedState> = fc.record({
  savedAt: fc.integer({ min: 0, max: 2 ** 45 }),
  tables: fc.uniqueArray(
    fc.tuple(
      fc.string({ unit: "binary", maxLength: 12 }),
      fc.uniqueArray(fc.tuple(fc.string({ unit: "binary", minLength: 1, maxLength: 40 }), counter), {
        selector: ([key]) => key,
        maxLength: 6,
      }),
    ),
    { selector: ([name]) => name, maxLength: 3 },
  ).map((tables) => new Map(tables.map(([name, rows]) => [name, new Map(rows)]))),
  outbox: fc.array(notice, { maxLength: 2 }),
});

const counterFields = (c: SenderCounter) => ({
  start: c.start,
  count: c.count,
  last: c.last,
  alert: c.alert,
  prev: c.prev ?? 0,
  instance: c.instance,
  subjects: c.subjects ? [...c.subjects] : undefined,
  clientIps: c.clientIps ? [...c.clientIps] : undefined,
});

describe("fuzz: state file (parseState, serializeState)", () => {
  it("refuses any JSON that is not a state with a plain Error, never a TypeError", () => {
    checkProperty("state: arbitrary JSON", fc.jsonValue(), (json) => checkStateText(JSON.stringify(json)));
  });

  it("refuses state-shaped JSON with junk inside with a plain Error, or reads it", () => {
    checkProperty("state: state-shaped JSON", stateShaped, (json) => checkStateText(JSON.stringify(json)));
  });

  it("reads back every state serializeState writes", () => {
    checkProperty("state: serializeState round-trips", state, (original) => {
      const text = serializeState(original);
      const back = parseState(text);
      assert.equal(back.savedAt, original.savedAt);
      assert.deepEqual([...back.tables.keys()], [...original.tables.keys()]);
      for (const [name, table] of original.tables) {
        const read = back.tables.get(name)!;
        assert.deepEqual([...read.keys()], [...table.keys()]);
        for (const [key, written] of table) {
          assert.deepEqual(counterFields(read.get(key)!), counterFields(written));
        }
      }
      assert.deepEqual(back.outbox, original.outbox);
      assert.equal(serializeState(back), text);
    });
  });
});
