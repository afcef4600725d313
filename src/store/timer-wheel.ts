// One wheel for all counter expiries (DESIGN §2: never a setTimeout per key). Keys go into the bucket of
// the tick their deadline falls in; advance(now) hands back every key whose bucket has passed. A key may
// be handed back before its counter really ended (the window restarted meanwhile): the owner checks and
// schedules it again, so the wheel never needs a remove. Keys the owner dropped before their deadline
// (evicted when the counters were full) stay in their bucket until then; compact() sweeps them out a budget
// of entries at a time (stopping inside a bucket if need be: in a flood one second's bucket holds 12 000
// keys), so that a flood of evicted keys does not keep their strings alive for a whole window.

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
  // compact() goes on with the first bucket at or after compactSlot, from compactIndex in that very slot.
  let compactSlot = -Infinity;
  let compactIndex = 0;
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
      const slots = [...buckets.keys()].filter((slot) => slot >= compactSlot).sort((a, b) => a - b);
      for (const slot of slots) {
        if (looked >= budget) break;
        const bucket = buckets.get(slot)!;
        // In place: kept keys move down to `write`; a bucket may be left halfway, at compactIndex.
        let read = slot === compactSlot ? compactIndex : 0;
        let write = read;
        for (; read < bucket.length && looked < budget; read++, looked++) {
          const key = bucket[read];
          if (isLive(key)) bucket[write++] = key;
        }
        removed += read - write;
        bucket.copyWithin(write, read);
        bucket.length -= read - write;
        if (bucket.length === 0) buckets.delete(slot);
        [compactSlot, compactIndex] = write < bucket.length ? [slot, write] : [slot + 1, 0];
      }
      // Went through every bucket: start again from the first next time.
      if (looked < budget) [compactSlot, compactIndex] = [-Infinity, 0];
      size -= removed;
      return removed;
    },
    get size() {
      return size;
    },
  };
}
