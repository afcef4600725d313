// test/runner-results.mjs: test/run.mjs's reading of `bun test` and `deno test` output. A hook that throws
// must count as a failure, and be named: Bun counts it apart from " N fail" (and still runs the describe's
// tests, which pass); Deno's last line counts describes and steps apart.
//
// test/fixtures/runner-output/*-hooks.txt: the output of bun 1.4.5 and deno 2.9.6 (NO_COLOR=1) on four
// files: a `before` that throws; an async `before`, a `beforeEach` and an `after` that throw, and a failing
// test; a file that cannot load; nested describes with a failing test and a throwing `before`. Nine
// failures in all, under each runner.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { ROOT } from "../../helpers/runtime.ts";
import { bunResults, denoResults } from "../../runner-results.mjs";

const fixture = (name: string) => readFileSync(`${ROOT}test/fixtures/runner-output/${name}`, "utf8");

/** The pinned runner on test/fixtures/hook-failure.probe.ts, as test/run.mjs runs it. */
function runProbe(runner: "bun" | "deno"): string {
  const probe = "./test/fixtures/hook-failure.probe.ts";
  const args = runner === "bun" ? ["test", probe] : ["test", "-A", "--no-check", probe];
  const result = spawnSync(`${ROOT}node_modules/.bin/${runner}`, args, {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    timeout: 60_000,
  });
  assert.equal(result.status, 1, `${runner} fails on the probe:\n${result.stdout}${result.stderr}`);
  return `${result.stdout}${result.stderr}`;
}

describe("bunResults", () => {
  it("counts hooks that threw and a file that cannot load, each once, and names them", () => {
    const results = bunResults(fixture("bun-hooks.txt"));
    // Bun's own last lines: 7 pass, 5 fail (4 tests, and the file that cannot load), 5 errors.
    assert.deepEqual(results, {
      passed: 7,
      failed: 9,
      failures: [
        "beforeEach > b",
        "real failure > d",
        "outer > inner > d",
        "outer > g",
        "x.test.ts: before hook broke (error between tests)",
        "y.test.ts: async before broke (error between tests)",
        "y.test.ts: after broke (error between tests)",
        "z.test.ts: Cannot find module './nonexistent.ts' from '/tmp/hookprobe/z.test.ts' (error between tests)",
        "n.test.ts: inner before broke (error between tests)",
      ],
    });
  });

  it("reads a clean run, colours or not", () => {
    const clean =
      "bun test v1.4.5\n\n(pass) a > b [0.1ms]\n\n 12 pass\n 0 fail\nRan 12 tests across 3 files.\n";
    assert.deepEqual(bunResults(clean), { passed: 12, failed: 0, failures: [] });
    const coloured = "\x1b[0m\x1b[32m 12 pass\x1b[0m\n\x1b[0m\x1b[31m 1 fail\x1b[0m\n";
    assert.deepEqual(bunResults(coloured), { passed: 12, failed: 1, failures: [] }, "unnamed, still counted");
  });

  it("counts a failure once although bun lists it again in its summary (a run over many files)", () => {
    const output = "a.test.ts:\n(fail) bad input > busy [140.82ms]\n\nb.test.ts:\n(pass) c > d [1ms]\n\n" +
      "1 tests failed:\n(fail) bad input > busy [140.82ms]\n\n 752 pass\n 1 fail\n";
    assert.deepEqual(bunResults(output), { passed: 752, failed: 1, failures: ["bad input > busy"] });
  });

  it("counts a `before` that throws under the pinned bun", () => {
    const results = bunResults(runProbe("bun"));
    assert.equal(results.failed, 3, results.failures.join("\n"));
    assert.equal(results.passed, 3);
    assert.deepEqual(results.failures, [
      "plain > fails",
      "test/fixtures/hook-failure.probe.ts: before hook broke (error between tests)",
      "test/fixtures/hook-failure.probe.ts: after hook broke (error between tests)",
    ]);
  });
});

describe("denoResults", () => {
  it("counts each listed failure once: hooks, nested steps, an uncaught error", () => {
    const results = denoResults(fixture("deno-hooks.txt"));
    // Deno's own last line: "1 passed (3 steps) | 7 failed (6 steps)".
    assert.deepEqual(results, {
      passed: 3,
      failed: 9,
      failures: [
        "outer ... inner ... d",
        "outer ... inner hook",
        "outer ... g",
        "suite with failing before => ./x.test.ts:4:1",
        "async before => ./y.test.ts:4:1",
        "beforeEach ... b",
        "after => ./y.test.ts:19:1",
        "real failure ... d",
        "./z.test.ts (uncaught error)",
      ],
    });
  });

  it("reads a clean run, and one without a summary line", () => {
    assert.deepEqual(denoResults("ok | 3 passed (14 steps) | 0 failed (0 steps) (2s)\n"), {
      passed: 14,
      failed: 0,
      failures: [],
    });
    assert.deepEqual(denoResults("ok | 2 passed | 0 failed (5ms)\n"), { passed: 2, failed: 0, failures: [] });
    assert.deepEqual(denoResults("error: Type checking failed.\n"), { passed: 0, failed: 0, failures: [] });
  });

  it("counts a `before` that throws under the pinned deno", () => {
    const results = denoResults(runProbe("deno"));
    assert.equal(results.passed, 2);
    assert.deepEqual(results.failures, [
      "before throws => ./test/fixtures/hook-failure.probe.ts:6:1",
      "after throws => ./test/fixtures/hook-failure.probe.ts:13:1",
      "plain ... fails",
    ]);
    assert.equal(results.failed, 3);
  });
});
