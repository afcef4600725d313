import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HEAP_TUNING_ENV, reexecArguments } from "../../../src/cli/heap-tuning.ts";

describe("reexecArguments", () => {
  it("drops the embedded script of a compiled executable", () => {
    assert.deepEqual(
      reexecArguments(
        "/usr/sbin/mailpolicyd",
        ["bun", "/$bunfs/root/mailpolicyd", "run", "--config", "x"],
        [],
      ),
      ["/usr/sbin/mailpolicyd", "run", "--config", "x"],
    );
  });

  it("keeps the script and the runtime's own flags when run from source", () => {
    assert.deepEqual(
      reexecArguments("/opt/bun", ["/opt/bun", "/src/main.ts", "run"], ["--smol"]),
      ["/opt/bun", "--smol", "/src/main.ts", "run"],
    );
  });

  it("sets growth factors JavaScriptCore reads (between 1 and its default 2), turns off block warm-up and delays mimalloc's purge", () => {
    assert.deepEqual(Object.keys(HEAP_TUNING_ENV).sort(), [
      "BUN_JSC_mediumHeapGrowthFactor",
      "BUN_JSC_smallHeapGrowthFactor",
      "BUN_JSC_useWarmUpMarkedBlocks",
      "MIMALLOC_PURGE_DELAY",
    ]);
    for (const name of ["BUN_JSC_mediumHeapGrowthFactor", "BUN_JSC_smallHeapGrowthFactor"]) {
      const value = Number(HEAP_TUNING_ENV[name]);
      assert.ok(value > 1 && value < 2, `${name}=${value}`);
    }
    assert.equal(HEAP_TUNING_ENV.BUN_JSC_useWarmUpMarkedBlocks, "0");
    // Milliseconds: longer than mimalloc's 10, and never -1 (which would keep a burst's pages for good).
    const purgeDelay = Number(HEAP_TUNING_ENV.MIMALLOC_PURGE_DELAY);
    assert.ok(purgeDelay > 10 && purgeDelay <= 5000, `MIMALLOC_PURGE_DELAY=${purgeDelay}`);
  });
});
