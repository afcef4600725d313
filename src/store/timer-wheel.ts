// One wheel for all counter expiries (DESIGN §2: never a setTimeout per key). Keys go into the bucket of
// the tick their deadline falls in; advance(now) hands back every key whose bucket has passed. A key may
// be handed back before its counter really ended (the window restarted meanwhile): the owner checks and
// schedules it again, so the wheel never needs a remove.

export interface TimerWheel<K> {
  schedule(key: K, atMs: number): void;
  advance(nowMs: number): K[];
  readonly size: number;
}

export function createTimerWheel<K>(tickMs: number, startMs: number): TimerWheel<K> {
  const buckets = new Map<number, K[]>();
  let cursor = Math.floor(startMs / tickMs); // every bucket <= cursor has been handed back
  let size = 0;
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
    get size() {
      return size;
    },
  };
}
