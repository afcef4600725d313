import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { startMemoryRelease } from "../../src/memory-release.ts";

const MB = 1024 * 1024;

describe("startMemoryRelease", () => {
  it("asks for a collection when RSS grew by 32 MB since the last reading, and once more after", async () => {
    const readings = [100, 140, 150, 150, 160, 200, 201, 201, 201].map((mb) => mb * MB);
    let read = 0;
    const collectedAt: number[] = [];
    const stop = startMemoryRelease({
      intervalMs: 5,
      readRss: () => readings[Math.min(read++, readings.length - 1)],
      collect: () => collectedAt.push(read - 1),
    });
    while (read < readings.length + 2) await new Promise((resolve) => setTimeout(resolve, 5));
    stop();
    // Reading 1 grew 40 MB: collect; reading 2 follows a growth: collect; 3 and 4 are calm (+0, +10);
    // reading 5 grew 40 MB again: collect, and 6 after it; then nothing.
    assert.deepEqual(collectedAt, [1, 2, 5, 6]);
  });

  it("stops reading when stopped", async () => {
    let reads = 0;
    const stop = startMemoryRelease({ intervalMs: 5, readRss: () => ++reads * 100 * MB, collect: () => {} });
    await new Promise((resolve) => setTimeout(resolve, 30));
    stop();
    const after = reads;
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.ok(after > 1);
    assert.equal(reads, after);
  });
});
