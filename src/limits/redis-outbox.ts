// The Redis store's commands for the current turn of the event loop, sent as one pipeline: the checks
// and commits of every request answered in that turn (replies read from one socket read wake many) go
// out in one write and come back in one read. Each batch still waits for exactly one round trip; under
// load there are fewer round trips than batches. A socket write cost ~30 µs here (Bun), more than the
// commands it carried: one per batch made writes the largest cost of the store (measured, issue 21).
// The turn's hits (check and commit at once, limits/redis-scripts.ts HIT_SCRIPT) go further: they are one
// script call, up to HITS_PER_CALL requests in each, so Redis sets up a call once for all of them
// (docs/decisions.md, "One script call per turn"). The hits of requests answered ahead ([redis] answer_ahead)
// wait up to AHEAD_WAIT_MS for others instead of the end of the turn, unless something that waits joins them.
import { setImmediate } from "node:timers";
import type { Redis } from "ioredis";

type Pipeline = ReturnType<Redis["pipeline"]>;
export type Replies = [error: Error | null, result: unknown][];

/**
 * A bound on one merged call: Redis runs one script at a time, and other hosts' calls wait behind it
 * (~40 µs a request here, so ~1.3 ms for a full call).
 */
export const HITS_PER_CALL = 32;

/**
 * How long the hits of requests already answered ([redis] answer_ahead) may wait for others to share their
 * call: nobody waits for them, and fewer, larger calls cost the daemon and redis-server less a request.
 */
export const AHEAD_WAIT_MS = 1;

interface Part {
  from: number;
  count: number;
  resolve(replies: Replies): void;
  reject(error: unknown): void;
}

/** A script call's answer: its reply, or the error that kept Redis from answering it. */
export type Answered = (error: Error | null, result: unknown) => void;

/** One request's part of a merged hit: its keys, its arguments (HIT_SCRIPT's, after the time). */
interface Hit {
  keys: string[];
  argv: (string | number)[];
  answered: Answered;
}

export interface Outbox {
  /** Adds a batch's commands (`add` returns how many); resolves with its replies, in order. */
  send(add: (pipeline: Pipeline) => number): Promise<Replies>;
  /**
   * Adds a request's hit to this turn's merged call; `answered` gets its reply or the error that kept Redis
   * from answering it (the whole call's, or this request's own). A callback, not a promise: a promise and
   * its two resolving functions per request were a third of the functions a request made (docs/
   * decisions.md, "What a request allocates on the Redis path").
   */
  hit(keys: string[], argv: (string | number)[], answered: Answered, answeredAhead?: boolean): void;
}

export interface HitCall {
  /** The hit script's SHA1 (EVALSHA). */
  sha: string;
  /** ARGV[1]: the time ("" for Redis's own). */
  time(): string;
}

export function createOutbox(client: Redis, sent: () => void, hitCall: HitCall): Outbox {
  let pipeline: Pipeline | undefined;
  let parts: Part[] = [];
  let hits: Hit[] = [];
  let size = 0;
  let soon = false; // a flush at the end of this turn is due (something waits for its answer)
  let later: ReturnType<typeof setTimeout> | undefined; // only answers ahead queued: a flush in AHEAD_WAIT_MS

  /** The turn's hits as calls of up to HITS_PER_CALL requests, each a part of the pipeline. */
  const addHits = (going: Pipeline, waiting: Part[]) => {
    for (let from = 0; from < hits.length; from += HITS_PER_CALL) {
      const call = hits.slice(from, from + HITS_PER_CALL);
      const keys: string[] = [];
      const argv: (string | number)[] = [hitCall.time()];
      for (const hit of call) {
        for (const key of hit.keys) keys.push(key);
        for (const arg of hit.argv) argv.push(arg);
      }
      going.evalsha(hitCall.sha, keys.length, ...keys, ...argv);
      waiting.push({
        from: size++,
        count: 1,
        resolve: ([[error, replies]]) => {
          for (let i = 0; i < call.length; i++) {
            const reply = error === null ? (replies as unknown[])[i] : undefined;
            if (error !== null) call[i].answered(error, null);
            else if (typeof reply === "string") call[i].answered(new Error(reply), null);
            else call[i].answered(null, reply);
          }
        },
        reject: (error) => {
          for (const hit of call) {
            hit.answered(error instanceof Error ? error : new Error(String(error)), null);
          }
        },
      });
    }
    hits = [];
  };

  const flush = () => {
    if (pipeline === undefined) return; // flushed already by the other schedule
    clearTimeout(later);
    later = undefined;
    soon = false;
    const going = pipeline;
    const waiting = parts;
    addHits(going, waiting);
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

  const open = (canWait = false) => {
    if (!canWait && !soon) {
      soon = true;
      setImmediate(flush);
    } else if (canWait && !soon && later === undefined) later = setTimeout(flush, AHEAD_WAIT_MS);
    return pipeline ??= client.pipeline();
  };

  return {
    send(add) {
      const into = open();
      const from = size;
      const count = add(into);
      size += count;
      return new Promise((resolve, reject) => parts.push({ from, count, resolve, reject }));
    },

    hit(keys, argv, answered, answeredAhead = false) {
      open(answeredAhead);
      hits.push({ keys, argv, answered });
    },
  };
}
