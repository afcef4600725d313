// The timeouts of the asks still waiting for a concern's answer: one queue and one timer per concern
// instead of a timer per request. A concern's asks all get the same timeout, so their deadlines come in
// the order they were added and the queue's head is always the next to expire. (After a reload that
// shortens the timeout, asks made before it may expire up to the old timeout late; none is forgotten.)
import { setTimeout } from "node:timers";

export interface Waiting {
  /** performance.now() ms after which the ask has waited too long. */
  at: number;
  /** Answered meanwhile: the queue drops it when it comes to the head. */
  done: boolean;
  expire(): void;
}

export interface Deadlines {
  add(waiting: Waiting): void;
  readonly size: number;
  stop(): void;
}

export function createDeadlines(now: () => number = () => performance.now()): Deadlines {
  let queue: Waiting[] = [];
  let head = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

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
      return;
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

  return {
    add(waiting) {
      queue.push(waiting);
      if (timer === undefined) arm();
    },
    get size() {
      return queue.length - head;
    },
    /** Expires everything still waiting (each ask gets its failure answer) and stops the timer. */
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
}
