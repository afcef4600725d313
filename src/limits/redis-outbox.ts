// The Redis store's commands for the current turn of the event loop, sent as one pipeline: the checks
// and commits of every request answered in that turn (replies read from one socket read wake many) go
// out in one write and come back in one read. Each batch still waits for exactly one round trip; under
// load there are fewer round trips than batches. A socket write cost ~30 µs here (Bun), more than the
// commands it carried: one per batch made writes the largest cost of the store (measured, issue 21).
import { setImmediate } from "node:timers";
import type { Redis } from "ioredis";

type Pipeline = ReturnType<Redis["pipeline"]>;
export type Replies = [error: Error | null, result: unknown][];

interface Part {
  from: number;
  count: number;
  resolve(replies: Replies): void;
  reject(error: unknown): void;
}

export interface Outbox {
  /** Adds a batch's commands (`add` returns how many); resolves with its replies, in order. */
  send(add: (pipeline: Pipeline) => number): Promise<Replies>;
}

export function createOutbox(client: Redis, sent: () => void): Outbox {
  let pipeline: Pipeline | undefined;
  let parts: Part[] = [];
  let size = 0;

  const flush = () => {
    const going = pipeline!;
    const waiting = parts;
    pipeline = undefined;
    parts = [];
    size = 0;
    sent();
    going.exec().then((replies) => {
      for (const part of waiting) part.resolve((replies as Replies).slice(part.from, part.from + part.count));
    }, (error) => {
      for (const part of waiting) part.reject(error);
    });
  };

  return {
    send(add) {
      if (pipeline === undefined) {
        pipeline = client.pipeline();
        setImmediate(flush);
      }
      const from = size;
      const count = add(pipeline);
      size += count;
      return new Promise((resolve, reject) => parts.push({ from, count, resolve, reject }));
    },
  };
}
