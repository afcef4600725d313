// What the SPF result cache keeps of a check: its result and short texts, not the record they were cut from.
// A record may be a 64 KiB TXT (over TCP), and a mechanism sliced from it may hold it whole on both runtimes:
// an entry cost 74 KB on Bun and 50 KB on Deno for the ~60 KB records below. Measured in a process of its
// own (test/helpers/spf-cache-heap.ts) with a forced collection; the control keeps the mechanisms as
// checkHost gave them, so a runtime that copied every slice would fail the control, not pass by accident.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { isDeno, ROOT } from "../../helpers/runtime.ts";

const SCRIPT = `${ROOT}test/helpers/spf-cache-heap.ts`;
const RECORD = 60_000; // about the helper's record, in characters

function bytesPerEntry(mode: string): number {
  const argv = isDeno ? ["run", "-A", "--v8-flags=--expose-gc", SCRIPT, mode] : [SCRIPT, mode];
  const run = spawnSync(process.execPath, argv, { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  const result = JSON.parse(run.stdout.trim());
  assert.equal(result.kept, 200);
  return result.bytesPerEntry;
}

describe("the SPF result cache keeps no record alive", () => {
  it("a cached result costs far less than the record it was decided by", () => {
    const slices = bytesPerEntry("slices");
    assert.ok(slices > RECORD / 2, `control: kept mechanisms cost ${Math.round(slices)} bytes each`);
    const cached = bytesPerEntry("cache");
    assert.ok(cached < RECORD / 10, `the cache's entries cost ${Math.round(cached)} bytes each`);
  });
});
