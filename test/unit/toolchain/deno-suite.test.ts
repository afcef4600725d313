// test/deno-suite.ts, the Deno suite's one entry: it runs the tests of every file under the paths given, and
// a file that cannot be loaded is a failing test named after it while the others still run, so that a
// broken import cannot end the whole Deno run with nothing counted, or pass unseen.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { denoResults } from "../../runner-results.mjs";
import { ROOT } from "../../helpers/runtime.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

describe("the Deno suite's entry (test/deno-suite.ts)", () => {
  const dir = makeTempDir();
  after(() => dir.remove());

  it("runs every test file under a folder, and names a file that cannot load as a failure", () => {
    mkdirSync(join(dir.path, "nested"));
    const passing = `import { test } from "node:test";\ntest("passes", () => {});\n`;
    writeFileSync(join(dir.path, "a.test.ts"), passing);
    writeFileSync(join(dir.path, "nested", "b.test.ts"), passing);
    writeFileSync(join(dir.path, "helper.ts"), `throw new Error("not a test file: never loaded");\n`);
    writeFileSync(join(dir.path, "broken.test.ts"), `import "./no-such-module.ts";\n`);
    const run = spawnSync(
      `${ROOT}node_modules/.bin/deno`,
      ["test", "-A", "--no-check", "test/deno-suite.ts"],
      {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, NO_COLOR: "1", MAILPOLICYD_TEST_PATHS: dir.path },
        timeout: 60_000,
      },
    );
    const said = denoResults(run.stdout + run.stderr);
    assert.equal(said.passed, 2, run.stdout);
    assert.equal(said.failed, 1, run.stdout);
    assert.match(said.failures[0], /broken\.test\.ts loads/);
    assert.notEqual(run.status, 0);
  });
});
