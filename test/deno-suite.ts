// Deno's entry to the whole suite (test/run.mjs): imports every test file under the paths given, so that
// `deno test` loads the module graph once instead of once a file. Run one file at a time, each file loaded
// its graph again: ~0.46 s a file, 125 s against 55 s for the 163 unit files (docs/decisions.md, "The Deno
// suite through one entry"). Bun already runs every file in one process, so no test may count on a process
// of its own.
//
// The paths (files or folders) are MAILPOLICYD_TEST_PATHS, separated by spaces; by default the suite's
// three folders. A file that cannot be loaded is one failing test named after it; the others still run.
import { readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { pathToFileURL } from "node:url";

const TEST_FILE = /\.test\.[cm]?[jt]sx?$/;

function testFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .map((entry) => entry.name)
    .sort()
    .flatMap((name) => {
      const child = join(path, name);
      if (statSync(child).isDirectory()) return testFiles(child);
      return TEST_FILE.test(name) ? [child] : [];
    });
}

const paths = (process.env.MAILPOLICYD_TEST_PATHS ?? "test/unit test/fuzz test/integration")
  .split(" ")
  .filter((path) => path !== "");
for (const path of paths) {
  for (const file of testFiles(resolve(path))) {
    try {
      await import(pathToFileURL(file).href);
    } catch (error) {
      test(`${relative(process.cwd(), file)} loads`, () => {
        throw error;
      });
    }
  }
}
