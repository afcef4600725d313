// What the memory store (and the Redis store's cache of keys over a limit) keeps of a request: its key, a
// message's instance, a client address, not the request. A value sliced from a request may share the request's characters in both runtimes, and a key
// kept as such held its whole request: ~6.9 KB a key on Bun, ~3.5 KB on Deno, for the 3 KB requests
// below, where the key and its counters take ~0.5 KB (docs/decisions.md, "A kept string holds its
// request"). Measured in a process of its own (test/helpers/kept-request-heap.ts) with a forced
// collection; the control keeps the parsed senders themselves, so a runtime that copied every slice
// would show it and fail the control, not pass the check by accident.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { isDeno, ROOT } from "../../helpers/runtime.ts";

const SCRIPT = `${ROOT}test/helpers/kept-request-heap.ts`;
const PAD = 3000; // the script's request padding, in characters

function bytesPerKey(form: string, mode: string): number {
  const argv = isDeno ? ["run", "-A", "--v8-flags=--expose-gc", SCRIPT, form, mode] : [SCRIPT, form, mode];
  const run = spawnSync(process.execPath, argv, { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  const result = JSON.parse(run.stdout.trim());
  // The engine's 4000 senders and one /24; the cache's 4000 senders; the control's 4000 slices.
  if (mode === "slices") assert.equal(result.kept, 4000);
  else assert.equal(result.keys, mode === "engine" ? 4001 : 4000);
  return result.bytesPerKey;
}

describe("the counters keep no request alive", () => {
  for (const form of ["postfix", "exim"]) {
    it(`${form}: a key costs far less than the request it came in`, () => {
      const slices = bytesPerKey(form, "slices");
      assert.ok(
        slices > PAD,
        `control: kept slices cost ${Math.round(slices)} bytes a key, no more than the pad`,
      );
      const engine = bytesPerKey(form, "engine");
      assert.ok(engine < PAD / 3, `the engine's keys cost ${Math.round(engine)} bytes each`);
    });
    it(`${form}: the Redis store's cache of keys over a limit keeps no request either`, () => {
      const cached = bytesPerKey(form, "over-cache");
      assert.ok(cached < PAD / 3, `the cache's entries cost ${Math.round(cached)} bytes each`);
    });
  }
});
