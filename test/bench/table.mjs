// The throughput table of `npm run bench` (results/latest.md), apart from run.mjs, which builds and drives
// servers as soon as it is loaded: so the table's shape is checked without a benchmark
// (test/unit/toolchain/bench-table.test.ts).

/** `part` as a whole per cent of `whole`; "–" without a whole. */
export const percent = (part, whole) => whole ? `${Math.round((part / whole) * 100)} %` : "–";

/**
 * The markdown table (header, separator, a row per result) of run.mjs's throughput results; the rows
 * without adjacent references (the reference servers' own) are compared with the reference rows.
 * @param {Array<Record<string, any>>} results
 * @param {boolean} withBaseline --baseline: "of baseline" and "baseline CPU µs/req" columns, the results carry
 *   baseline_rps and baseline_cpu_us_per_request
 * @returns {string}
 */
export function throughputTable(results, withBaseline) {
  const referenceRps = (server) => results.find((result) => result.server === server)?.rps;
  const reference = {
    c: referenceRps("reference-c"),
    bun: referenceRps("reference-bun"),
    bunNewline: referenceRps("reference-bun-newline"),
  };
  /** @type {Array<[string, (r: Record<string, any>) => string | number]>} */
  const columns = [
    ["scenario", (r) => r.name],
    // How many answers said "over its limit": the load generator's `over`, "yes" in the one-token form and
    // an action other than accept in the attribute form. A row near 100 % measures the cheap path of a key
    // already over its limit (the same cached verdict again), not the counting of a key still under it.
    ["over limit", (r) => r.over === undefined ? "–" : percent(r.over, r.requests)],
    ["req/s", (r) => r.rps],
    ["of newline ref.", (r) => percent(r.rps, r.reference_bun_newline_rps ?? reference.bunNewline)],
    ...(withBaseline
      ? [[
        "of baseline",
        (r) => `${percent(r.rps, r.baseline_rps)} (${percent(r.baseline_rps, r.reference_bun_newline_rps)})`,
      ]]
      : []),
    ["of EOF ref.", (r) => percent(r.rps, r.reference_bun_rps ?? reference.bun)],
    ["of C ref.", (r) => percent(r.rps, r.transport === "unix" ? reference.c : undefined)],
    ["p50 µs", (r) => r.p50_us],
    ["p99 µs", (r) => r.p99_us],
    ["p99.9 µs", (r) => r.p999_us],
    ["errors", (r) => r.errors],
    ["CPU µs/req", (r) => r.cpu_us_per_request],
    ...(withBaseline ? [["baseline CPU µs/req", (r) => r.baseline_cpu_us_per_request ?? "–"]] : []),
    ["RSS MB", (r) => r.rss_mb],
  ];
  const line = (cells) => `| ${cells.join(" | ")} |`;
  return [
    line(columns.map(([title]) => title)),
    `|${columns.map(() => "---|").join("")}`,
    ...results.map((r) => line(columns.map(([, cell]) => cell(r)))),
  ].join("\n");
}
