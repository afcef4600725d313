// What the executable evaluates before `run` re-executes itself (docs/decisions.md, "Startup: the modules
// loaded once"): the entry imports the re-execution first (modules are evaluated in import order), and it
// needs nothing else, so a daemon evaluates its modules once; nodemailer is loaded with the first alert.
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

  it("src/main.ts imports the re-execution first, which imports only runtime.ts and built-ins", () => {
    const text = readFileSync(`${SRC}main.ts`, "utf8");
    const first = /^import\s+"([^"]+)";/m.exec(text);
    assert.equal(first?.[1], "./cli/reexec-first.ts");
    assert.ok(text.indexOf(first![0]) < text.search(/^import .* from /m), "before every other import");
    assert.deepEqual(valueImportsOf("cli/reexec-first.ts"), ["./heap-tuning.ts"]);
    assert.deepEqual(valueImportsOf("cli/heap-tuning.ts"), ["../runtime.ts"]);
    assert.deepEqual(valueImportsOf("runtime.ts").filter((target) => !target.startsWith("node:")), []);
  });

  it("the alert transport does not import nodemailer at start", () => {
    assert.ok(!valueImportsOf("actors/alert-transport.ts").includes("nodemailer"));
    assert.match(readFileSync(`${SRC}actors/alert-transport.ts`, "utf8"), /await import\("nodemailer"\)/);
  });
});
