// The live heap after a forced collection, for the scripts that measure what a kept value costs
// (kept-request-heap.ts, spf-cache-heap.ts): Bun's heap and its extra memory (string characters), Deno's
// used heap (started with --v8-flags=--expose-gc).

// deno-lint-ignore no-explicit-any
const runtime = globalThis as any;

export async function liveBytes(): Promise<number> {
  if (runtime.Bun) {
    runtime.Bun.gc(true);
    const { heapStats } = await import("bun:jsc");
    const stats = heapStats();
    return stats.heapSize + stats.extraMemorySize; // string characters are the "extra" memory
  }
  if (typeof runtime.gc !== "function") throw new Error("run Deno with --v8-flags=--expose-gc");
  runtime.gc();
  return process.memoryUsage().heapUsed;
}
