// The throughput table of `npm run bench` (test/bench/table.mjs): every row has the header's columns, with
// and without --baseline, and "over limit" says which scenarios mostly answer keys already over a limit.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { throughputTable } from "../../bench/table.mjs";

const reference = (server: string, rps: number) => ({
  name: `reference ${server}`,
  server,
  transport: "unix",
  requests: 1000,
  yes: 0,
  over: 0,
  rps,
  p50_us: 200,
  p99_us: 600,
  p999_us: 2000,
  errors: 0,
  cpu_us_per_request: 20,
  rss_mb: 40,
});
const scenario = (name: string, transport: string, over: number) => ({
  ...reference("mailpolicyd", 30000),
  name,
  transport,
  over,
  reference_bun_rps: 25000,
  reference_bun_newline_rps: 30000,
  baseline_rps: 27000,
  baseline_cpu_us_per_request: 22.5,
});
const results = [
  reference("reference-c", 40000),
  reference("reference-bun", 25000),
  reference("reference-bun-newline", 30000),
  scenario("one-token, one hot key", "unix", 999),
  scenario("attribute form, uniform 1e5", "unix", 0),
  scenario("TCP: attribute form, one hot sender", "tcp", 944),
];

/** The table's lines split into their cells. */
const cellsOf = (table: string) =>
  table.split("\n").map((line) => line.split("|").slice(1, -1).map((c) => c.trim()));

describe("bench throughput table", () => {
  for (const withBaseline of [false, true]) {
    it(`keeps header, separator and rows in step${withBaseline ? " with --baseline" : ""}`, () => {
      const [header, separator, ...rows] = cellsOf(throughputTable(results, withBaseline));
      assert.equal(header.length, withBaseline ? 14 : 12);
      assert.deepEqual(separator, header.map(() => "---"));
      assert.equal(rows.length, results.length);
      for (const row of rows) assert.equal(row.length, header.length, row.join(" | "));
      assert.equal(header.includes("of baseline"), withBaseline);
    });
  }

  it("shows the per cent of over-limit answers next to the scenario", () => {
    const [header, , ...rows] = cellsOf(throughputTable(results, true));
    const column = header.indexOf("over limit");
    assert.equal(column, 1);
    assert.deepEqual(rows.map((row) => row[column]), ["0 %", "0 %", "0 %", "100 %", "0 %", "94 %"]);
    const row = rows[3];
    assert.equal(row[header.indexOf("req/s")], "30000");
    assert.equal(row[header.indexOf("of newline ref.")], "100 %");
    assert.equal(row[header.indexOf("of baseline")], "111 % (90 %)");
    assert.equal(row[header.indexOf("of EOF ref.")], "120 %");
    assert.equal(row[header.indexOf("of C ref.")], "75 %");
    assert.equal(row[header.indexOf("baseline CPU µs/req")], "22.5");
    assert.equal(rows[0][header.indexOf("baseline CPU µs/req")], "–", "a reference row has no baseline");
    assert.equal(rows[5][header.indexOf("of C ref.")], "–"); // TCP: no C reference on TCP
  });

  it("says – for results from a load generator without the over count", () => {
    const { over: _, ...old } = results[3];
    const [, , row] = cellsOf(throughputTable([old], false));
    assert.equal(row[1], "–");
  });
});
