// JavaScriptCore collects garbage when the program allocates. After a burst that grew the heap (say a
// million new senders in a minute) comes quiet, nothing allocates, nothing is collected, and RSS stays at
// the burst's high-water mark: measured 516 MB for 286 MB once collected. So, every two seconds: when RSS
// grew by 32 MB or more since the last reading, or did at the reading before (the burst's tail), ask for a
// collection. Bun runs it concurrently (Bun.gc(false)) and also hands mimalloc's free pages back;
// elsewhere (Deno) there is no such call and this does nothing.

export interface MemoryReleaseOptions {
  intervalMs?: number;
  readRss?: () => number;
  collect?: () => void;
}

const GROWTH_BYTES = 32 * 1024 * 1024;

// deno-lint-ignore no-explicit-any
const bunGc = (globalThis as any).Bun?.gc as ((force: boolean) => void) | undefined;

/** Starts the watch; returns its stop. */
export function startMemoryRelease(options: MemoryReleaseOptions = {}): () => void {
  const collect = options.collect ?? (bunGc ? () => bunGc(false) : undefined);
  if (!collect) return () => {};
  const readRss = options.readRss ?? (() => process.memoryUsage().rss);
  let previous = readRss();
  let grewBefore = false;
  const timer = setInterval(() => {
    const rss = readRss();
    const grew = rss - previous >= GROWTH_BYTES;
    if (grew || grewBefore) collect();
    grewBefore = grew;
    previous = rss;
  }, options.intervalMs ?? 2000);
  // A timer that alone must not keep a stopping process alive.
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);
}
