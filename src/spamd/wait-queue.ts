// A bounded first-in first-out queue of asks waiting for a free slot (a spamd connection), each with the
// time it gives up. Pure: the caller owns the timer and calls `expired(now)` when the earliest deadline
// passes. Full means full: `offer` refuses at once, so a hung service cannot make asks pile up.

export interface Waiter {
  /** When the ask gives up waiting (on the caller's clock). */
  deadline: number;
}

export interface WaitQueue<W extends Waiter> {
  readonly size: number;
  /** Queues the waiter; false when `capacity()` waiters are waiting already. */
  offer(waiter: W): boolean;
  /** The waiter first in line, out of the queue; undefined when none waits. */
  take(): W | undefined;
  /** Removes and returns every waiter whose deadline is at or before `now`, in queue order. */
  expired(now: number): W[];
  /** The earliest deadline among the waiters (undefined when none waits). */
  nextDeadline(): number | undefined;
  /** Empties the queue, returning every waiter (at stop: each still needs its answer). */
  drain(): W[];
}

export function createWaitQueue<W extends Waiter>(capacity: () => number): WaitQueue<W> {
  let waiters: W[] = [];
  return {
    get size() {
      return waiters.length;
    },
    offer(waiter) {
      if (waiters.length >= capacity()) return false;
      waiters.push(waiter);
      return true;
    },
    take: () => waiters.shift(),
    expired(now) {
      if (!waiters.some((waiter) => waiter.deadline <= now)) return [];
      const gone = waiters.filter((waiter) => waiter.deadline <= now);
      waiters = waiters.filter((waiter) => waiter.deadline > now);
      return gone;
    },
    nextDeadline() {
      // Usually the first (one timeout for all), but not after a reload changed the timeout.
      let earliest: number | undefined;
      for (const waiter of waiters) {
        if (earliest === undefined || waiter.deadline < earliest) earliest = waiter.deadline;
      }
      return earliest;
    },
    drain() {
      const all = waiters;
      waiters = [];
      return all;
    },
  };
}
