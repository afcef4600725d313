// The timeouts of the asks still waiting for a concern's answer: one queue and one timer per concern
// instead of a timer per request. A concern's asks all get the same timeout, so their deadlines come in
// the order they were added and the queue's head is always the next to expire. A reload that shortens the
// timeout breaks that order: the asks made after it would wait behind the earlier ones, up to the old
// timeout, so they go to a queue of their own (a lane) until the earlier lane has emptied.
import { setTimeout } from "node:timers";

export interface Waiting {
  /** performance.now() ms after which the ask has waited too long. */
  at: number;
  /** Answered meanwhile: the queue drops it when it comes to the head. */
  done: boolean;
  expire(): void;
}

const NOTHING = () => {};

/**
 * The ask was answered. Its entry stays queued until it reaches the head, up to the timeout later, so it
 * lets go of its expiry, which holds the request (a whole message, for the spamd front) and its reply.
 */
export function answered(waiting: Waiting): void {
  waiting.done = true;
  waiting.expire = NOTHING;
}

export interface Deadlines {
  add(waiting: Waiting): void;
  readonly size: number;
  stop(): void;
}

/** Asks whose deadlines come in the order they were added, with the one timer for the next. */
interface Lane {
  /** The latest deadline added: an ask due before it needs another lane. */
  readonly last: number;
  add(waiting: Waiting): void;
  readonly size: number;
  stop(): void;
}

export function createDeadlines(now: () => number = () => performance.now()): Deadlines {
  // Almost always one; one more for each shortened timeout whose earlier asks still wait.
  let lanes: Lane[] = [];
  const emptied = (lane: Lane) => {
    lanes = lanes.filter((other) => other !== lane);
  };
  return {
    add(waiting) {
      for (const lane of lanes) if (lane.last <= waiting.at) return lane.add(waiting);
      const lane = createLane(now, emptied);
      lanes.push(lane);
      lane.add(waiting);
    },
    get size() {
      return lanes.reduce((sum, lane) => sum + lane.size, 0);
    },
    /** Expires everything still waiting (each ask gets its failure answer) and stops the timers. */
    stop() {
      for (const lane of lanes.splice(0)) lane.stop();
    },
  };
}

function createLane(now: () => number, emptied: (lane: Lane) => void): Lane {
  let queue: Waiting[] = [];
  let head = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last = -Infinity;

  const dropDone = () => {
    while (head < queue.length && queue[head].done) head++;
    // Reclaim the consumed front once it is most of the array.
    if (head > 1024 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
  };

  const arm = () => {
    dropDone();
    if (head >= queue.length) {
      queue = [];
      head = 0;
      return emptied(lane);
    }
    // Not unref'd: it runs only while some ask waits, which is work the process has yet to finish.
    timer = setTimeout(fire, Math.max(0, queue[head].at - now()));
  };

  const fire = () => {
    timer = undefined;
    const at = now();
    while (head < queue.length) {
      const waiting = queue[head];
      if (!waiting.done && waiting.at > at) break;
      head++;
      if (!waiting.done) {
        waiting.done = true;
        waiting.expire();
      }
    }
    arm();
  };

  const lane: Lane = {
    get last() {
      return last;
    },
    add(waiting) {
      queue.push(waiting);
      last = waiting.at;
      if (timer === undefined) arm();
    },
    get size() {
      return queue.length - head;
    },
    stop() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      const left = queue.slice(head);
      queue = [];
      head = 0;
      for (const waiting of left) {
        if (waiting.done) continue;
        waiting.done = true;
        waiting.expire();
      }
    },
  };
  return lane;
}
