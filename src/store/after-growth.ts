// JavaScriptCore collects garbage only when the program allocates. After a burst of new keys (a spam run
// from a million forged senders) comes quiet, nothing is collected, and RSS stays at the burst's
// high-water mark: up to 430 bytes per key for ~190 live, for seconds or until the next state save. So once
// the tracked keys have grown by 100 000 and a tenth since the last collection, and the growth has
// stopped (under 250 new keys in the last quarter second), one full collection runs. It blocks the event loop
// (measured 80–110 ms at a million keys): once per such burst, never in steady traffic.
//
// A flood that never stops is the other case: at max_keys every new key replaces an evicted one, the
// number of keys stays flat, and JSC's own collections left RSS climbing from 381 to 622 MB while 2e6 keys
// went through a full table (a bare Map churned the same way: 279 → 640 MB; 317 MB with a full
// collection every 250 000 new keys: docs/decisions.md, "Bounded memory"). So a full collection also runs
// whenever a quarter of the tracked keys (at least 100 000) have been created since the last one,
// whatever the growth: once every 20 s in a flood of 12 000 new senders a second at a million keys.
// Bun only; Deno has no such call and this does nothing there.

import { collectGarbage } from "../runtime.ts";

const MIN_GROWTH = 100_000;
const SETTLED_BELOW = 250; // new keys since the previous tick, a quarter of a second earlier

export interface GrowthWatch {
  /**
   * Called every quarter second with the number of tracked keys and of keys ever created (a running
   * total); true when it collected.
   */
  tick(keys: number, created?: number): boolean;
}

/** `collect` null: the runtime cannot collect on request (the default on Deno). */
export function watchGrowth(collect: (() => void) | null = collectGarbage): GrowthWatch {
  let collectedAt = 0; // keys at the last collection
  let createdAt = 0; // keys created before the last collection
  let previous = 0;
  return {
    tick(keys, created = 0) {
      const settled = keys - previous < SETTLED_BELOW;
      previous = keys;
      if (keys < collectedAt) collectedAt = keys; // keys expired: measure growth from the new low
      const burstOver = settled && keys - collectedAt >= Math.max(MIN_GROWTH, collectedAt / 10);
      const churned = created - createdAt >= Math.max(MIN_GROWTH, keys / 4);
      if (!collect || !(burstOver || churned)) return false;
      collect();
      collectedAt = keys;
      createdAt = created;
      return true;
    },
  };
}
