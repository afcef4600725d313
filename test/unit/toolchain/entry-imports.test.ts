// What the executable loads before `run` re-executes itself (docs/decisions.md, "Startup: the modules
// loaded once"): the entry imports only the re-execution and what it needs, so a daemon loads its modules
// once; nodemailer is loaded with the first alert.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../../../src/", import.meta.url));

/** The modules a file imports for their values (`import type` is erased and loads nothing). */
function valueImportsOf(file: string): string[] {
  const text = readFileSync(`${SRC}${file}`, "utf8");
  return [...text.matchAll(/^(import|export)(?!\s+type\b)[^;]*?from\s+"([^"]+)"/gms)].map((match) =>
    match[2]
  );
}

describe("the entry's imports", () => {
  it("reads value imports and skips type-only ones", () => {
    assert.ok(valueImportsOf("cli/command-line.ts").includes("./help.ts"));
    assert.ok(!valueImportsOf("actors/alert-transport.ts").includes("../policy/alert-notice.ts"));
  });

  it("src/main.ts imports only the re-execution, which imports only runtime.ts and built-ins", () => {
    assert.deepEqual(valueImportsOf("main.ts"), ["./cli/heap-tuning.ts"]);
    assert.deepEqual(valueImportsOf("cli/heap-tuning.ts"), ["../runtime.ts"]);
    assert.deepEqual(valueImportsOf("runtime.ts").filter((target) => !target.startsWith("node:")), []);
  });

  it("the alert transport does not import nodemailer at start", () => {
    assert.ok(!valueImportsOf("actors/alert-transport.ts").includes("nodemailer"));
    assert.match(readFileSync(`${SRC}actors/alert-transport.ts`, "utf8"), /await import\("nodemailer"\)/);
  });
});
