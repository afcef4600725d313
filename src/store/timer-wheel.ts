// One wheel for all counter expiries (DESIGN §2: never a setTimeout per key). Keys go into the bucket of
// the tick their deadline falls in; advance(now) hands back every key whose bucket has passed. A key may
// be handed back before its counter really ended (the window restarted meanwhile): the owner checks and
// schedules it again, so the wheel never needs a remove. Keys the owner dropped before their deadline
// (evicted when the counters were full) stay in their bucket until then; compact() sweeps them out a few
// buckets at a time, so that a flood of evicted keys does not keep their strings alive for a whole window.

export interface TimerWheel<K> {
  schedule(key: K, atMs: number): void;
  advance(nowMs: number): K[];
  /**
   * Removes entries whose key `isLive` rejects, going on from where the previous call stopped, until
   * about `budget` entries have been looked at; returns how many were removed.
   */
  compact(isLive: (key: K) => boolean, budget: number): number;
  readonly size: number;
}

export function createTimerWheel<K>(tickMs: number, startMs: number): TimerWheel<K> {
  const buckets = new Map<number, K[]>();
  let cursor = Math.floor(startMs / tickMs); // every bucket <= cursor has been handed back
  let size = 0;
  let compactAfter = -Infinity; // compact() goes on with the first bucket after this slot
  return {
    schedule(key, atMs) {
      const slot = Math.max(Math.ceil(atMs / tickMs), cursor + 1);
      const bucket = buckets.get(slot);
      if (bucket) bucket.push(key);
      else buckets.set(slot, [key]);
      size += 1;
    },
    advance(nowMs) {
      const target = Math.floor(nowMs / tickMs);
      const due: K[] = [];
      if (target <= cursor) return due;
      const collect = (slot: number) => {
        const bucket = buckets.get(slot);
        if (!bucket) return;
        buckets.delete(slot);
        size -= bucket.length;
        for (const key of bucket) due.push(key);
      };
      // After a long stall (or a clock jump) walking every slot would be slow: walk the buckets instead.
      if (target - cursor > buckets.size) {
        for (const slot of [...buckets.keys()]) if (slot <= target) collect(slot);
      } else {
        for (let slot = cursor + 1; slot <= target; slot++) collect(slot);
      }
      cursor = target;
      return due;
    },
    compact(isLive, budget) {
      let removed = 0;
      let looked = 0;
      const slots = [...buckets.keys()].filter((slot) => slot > compactAfter).sort((a, b) => a - b);
      if (slots.length === 0) compactAfter = -Infinity;
      for (const slot of slots) {
        if (looked >= budget) break;
        const bucket = buckets.get(slot)!;
        looked += bucket.length;
        const kept = bucket.filter(isLive);
        removed += bucket.length - kept.length;
        if (kept.length > 0) buckets.set(slot, kept);
        else buckets.delete(slot);
        compactAfter = slot;
      }
      if (looked < budget) compactAfter = -Infinity; // went through every bucket: start again next time
      size -= removed;
      return removed;
    },
    get size() {
      return size;
    },
  };
}
