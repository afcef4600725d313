import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseIni } from "../../../src/config/ini.ts";

const values = (text: string) =>
  parseIni(text).sections.flatMap((section) =>
    section.entries.map((entry) => [`${section.name}.${entry.key}`, entry.value])
  );

describe("parseIni", () => {
  // Python's ConfigParser continues a value on lines indented deeper than its key's: a sender_warn.conf may
  // list toAddr so. Read one line a value, such a line was "b@example.org: expected `key = value`", or, with an
  // = in it, a key of its own that the classic daemon never saw.
  it("names an indented continuation line as such, and never reads it as a key", () => {
    const listed = parseIni("[alerts]\ntoAddr = a@example.org,\n    b@example.org\n");
    assert.deepEqual(listed.problems, [{
      line: 3,
      key: "alerts.toAddr",
      problem: "an indented line continues the value of line 2 (as Python's ConfigParser reads it); here a " +
        "value is one line: join them",
    }]);
    const keyLike = parseIni("[limit x]\nexempt = 192.0.2.1,\n\n  count = 5\n");
    assert.deepEqual(keyLike.problems.map((problem) => [problem.line, problem.key]), [[4, "limit x.exempt"]]);
    assert.deepEqual(keyLike.sections[0].entries.map((entry) => entry.key), ["exempt"]);
    // Keys indented alike are keys, as in ConfigParser; so is the first after a section header.
    assert.deepEqual(values("[thresholds]\n    time = 300\n    count = 20\n[alerts]\n  fromAddr = a@b\n"), [
      ["thresholds.time", "300"],
      ["thresholds.count", "20"],
      ["alerts.fromaddr", "a@b"],
    ]);
    assert.deepEqual(parseIni("[thresholds]\n    time = 300\n    count = 20\n").problems, []);
  });

  it("reads the seed's sections and keys with their line numbers", () => {
    const doc = parseIni(
      "[thresholds]\ntime = 300\ncount = 20\n[alerts]\nfromAddr = 'postmaster@example.org'\n",
    );
    assert.deepEqual(doc.problems, []);
    assert.deepEqual(doc.sections.map((s) => [s.name, s.line]), [["thresholds", 1], ["alerts", 4]]);
    assert.deepEqual(doc.sections[0].entries.map((e) => [e.key, e.value, e.line]), [
      ["time", "300", 2],
      ["count", "20", 3],
    ]);
    const from = doc.sections[1].entries[0];
    assert.equal(from.key, "fromaddr");
    assert.equal(from.rawKey, "fromAddr");
    assert.equal(from.value, "postmaster@example.org");
    assert.equal(from.line, 5);
  });

  it("lower-cases section names and collapses inner whitespace", () => {
    const doc = parseIni("[ Limit   Outbound ]\na = 1\n");
    assert.equal(doc.sections[0].name, "limit outbound");
  });

  it("accepts ':' as separator and keeps '=' inside the value", () => {
    assert.deepEqual(values("[s]\nhost: mail.example.org\nsubject = a=b\n"), [
      ["s.host", "mail.example.org"],
      ["s.subject", "a=b"],
    ]);
  });

  it("skips blank lines and full-line comments but still counts them", () => {
    const doc = parseIni("# c\n\n; c\n[s]\n   # indented comment\nk = v\n");
    assert.deepEqual(doc.problems, []);
    assert.equal(doc.sections[0].line, 4);
    assert.equal(doc.sections[0].entries[0].line, 6);
  });

  it("handles CRLF line endings and a leading BOM without shifting line numbers", () => {
    const doc = parseIni("\uFEFF[s]\r\nk = v\r\nn = 2\r\n");
    assert.deepEqual(doc.problems, []);
    assert.equal(doc.sections[0].name, "s");
    assert.deepEqual(doc.sections[0].entries.map((e) => [e.key, e.value, e.line]), [["k", "v", 2], [
      "n",
      "2",
      3,
    ]]);
  });

  it("ends a line at a lone CR (an old Mac file) as ConfigParser does, and counts it", () => {
    const doc = parseIni("[s]\rk = v\r\rbad line\rn = 2\r");
    assert.deepEqual(doc.sections[0].entries.map((e) => [e.key, e.value, e.line]), [["k", "v", 2], [
      "n",
      "2",
      5,
    ]]);
    assert.deepEqual(doc.problems.map((p) => [p.line, p.key]), [[4, "bad"]]);
    // Endings mixed in one file (pasted lines): each counts once, CRLF as one.
    const mixed = parseIni("[s]\r\na = 1\rb = 2\nc = 3\r\n\rd = 4");
    assert.deepEqual(mixed.sections[0].entries.map((e) => [e.key, e.line]), [["a", 2], ["b", 3], ["c", 4], [
      "d",
      6,
    ]]);
  });

  it("strips matching quotes, single or double, and nothing else", () => {
    assert.deepEqual(
      values(`[s]\na = 'x y'\nb = "x"\nc = 'x"\nd = ''\ne = it's\nf = 'a'b'\n`),
      [["s.a", "x y"], ["s.b", "x"], ["s.c", `'x"`], ["s.d", ""], ["s.e", "it's"], ["s.f", "'a'b'"]],
    );
  });

  it("drops an inline comment that follows whitespace, but not one inside quotes", () => {
    assert.deepEqual(
      values("[s]\na = 20  # per window\nb = 5 ; five\nc = 'x # y'\nd = 'x' # note\ne = x#1\n"),
      [["s.a", "20"], ["s.b", "5"], ["s.c", "x # y"], ["s.d", "x"], ["s.e", "x#1"]],
    );
  });

  it("accepts a comment after a section header", () => {
    const doc = parseIni("[alerts] # who is told\nk = v\n");
    assert.deepEqual(doc.problems, []);
    assert.equal(doc.sections[0].name, "alerts");
  });

  it("reports a malformed section header and keys that follow it", () => {
    const doc = parseIni("[alerts\nk = v\n");
    assert.equal(doc.problems.length, 2);
    assert.equal(doc.problems[0].line, 1);
    assert.match(doc.problems[0].problem, /malformed section header/);
    assert.deepEqual([doc.problems[1].line, doc.problems[1].key], [2, "k"]);
    assert.match(doc.problems[1].problem, /outside any \[section\]/);
  });

  it("reports a key before any section", () => {
    const doc = parseIni("count = 20\n[s]\n");
    assert.deepEqual(doc.problems, [{ line: 1, key: "count", problem: "key outside any [section]" }]);
  });

  it("reports a line that is not key = value", () => {
    const doc = parseIni("[s]\njust words\n= value\n");
    assert.deepEqual(doc.problems.map((p) => p.line), [2, 3]);
    for (const problem of doc.problems) assert.match(problem.problem, /expected `key = value`/);
    assert.equal(doc.sections[0].entries.length, 0);
  });

  it("reports a line with NUL bytes as no text, and reads the lines around it", () => {
    const doc = parseIni("[s]\n\0\0\0\nk = v\n# a comment\0 is let be\n");
    assert.deepEqual(doc.problems, [{
      line: 2,
      key: "(file)",
      problem: "NUL bytes: this is not a line of text (a file zeroed by a crash?)",
    }]);
    assert.deepEqual(doc.sections[0].entries.map((entry) => [entry.key, entry.value]), [["k", "v"]]);
  });

  it("reports a repeated key (case-insensitively) with the first line, and keeps the first value", () => {
    const doc = parseIni("[alerts]\nfromAddr = a@x\nFROMADDR = b@x\n");
    assert.deepEqual(doc.problems, [{
      line: 3,
      key: "alerts.FROMADDR",
      problem: "key repeated (first at line 2)",
    }]);
    assert.deepEqual(doc.sections[0].entries.map((e) => e.value), ["a@x"]);
  });

  it("allows the same key in different sections", () => {
    const doc = parseIni("[a]\nk = 1\n[b]\nk = 2\n");
    assert.deepEqual(doc.problems, []);
  });

  it("reports a repeated section with the line of the first", () => {
    const doc = parseIni("[thresholds]\ncount = 1\n[Thresholds]\ncount = 2\n");
    assert.equal(doc.problems.length, 1);
    assert.equal(doc.problems[0].line, 3);
    assert.equal(doc.problems[0].problem, "section repeated (first at line 1)");
  });
});
