// Which key gives way when the counters are full ([daemon] max_keys). Approximately the least recently
// seen one that may be forgotten, as Redis's approximated LRU does it: of a few candidates taken in turn
// from a cursor that walks the table in insertion order, the one seen longest ago. A true LRU would move
// a key to the end of the table on every request (a delete and a set), a cost on every answer; this costs
// only when a new key arrives at a full table.
import type { SenderCounter } from "../policy/sender-counter.ts";

const CANDIDATES = 16;
// Keys that may not go (over their limit, alerted) are skipped; looking further than this for one that
// may means the table is full of them.
const MAX_SCAN = 512;

/** Where the previous search stopped, so that the next one goes on from there. */
export interface EvictionCursor {
  keys?: Iterator<string>;
}

/**
 * The key to forget in `table`, or undefined when none of the next MAX_SCAN keys may be forgotten.
 * `mayForget` says whether a counter may be dropped (not over its limit, no alert in its window).
 */
export function chooseVictim(
  table: Map<string, SenderCounter>,
  cursor: EvictionCursor,
  mayForget: (counter: SenderCounter) => boolean,
): string | undefined {
  let victim: string | undefined;
  let victimLast = Infinity;
  let candidates = 0;
  let restarted = false;
  for (let scanned = 0; candidates < CANDIDATES && scanned < Math.min(MAX_SCAN, table.size); scanned++) {
    let next = cursor.keys?.next();
    if (!next || next.done) {
      if (restarted) break;
      restarted = true;
      cursor.keys = table.keys();
      next = cursor.keys.next();
      if (next.done) break;
    }
    const counter = table.get(next.value);
    if (!counter || !mayForget(counter)) continue;
    candidates++;
    if (counter.last < victimLast) {
      victim = next.value;
      victimLast = counter.last;
    }
  }
  return victim;
}
