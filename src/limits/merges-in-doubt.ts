// The merges of this host's counters into Redis whose outcome it does not know (docs/redis.md, "When Redis
// is away"). A merge call that failed may have run in Redis all the same: the connection broke after Redis
// ran it, or its answer came after the client's timeout (this host's event loop stalled). Its counter goes
// back to the memory store, which counts on, and used to be added again whole at the next merge: twice.
// Each merge call now carries a token that Redis records with the counts (redis-scripts.ts MERGE_SCRIPT);
// a call in doubt is kept here with its token, what it sent, and the counter it was taken from, and the
// next merge sends it again first: Redis adds it then, or finds its token and adds nothing. Either way
// Redis then holds that counter, and only what was counted here since is added (exported-counters.ts
// subtracts it, as it does a copy taken from Redis). A switch back to memory and a move to another Redis
// send them again first too (shared-store.ts settleDoubts); store/doubts-file.ts keeps them across a
// restart. Pure: no I/O.
import { randomBytes } from "node:crypto";
import type { LimitConfig } from "../model/limit.ts";
import { counterExpiresAt } from "../policy/rate.ts";
import type { SenderCounter } from "../policy/sender-counter.ts";

export interface MergeInDoubt {
  limit: string;
  key: string;
  /** What the call sent (the counter, or what was counted since its copy), as it was sent. */
  sent: SenderCounter;
  token: string;
  /** The memory store's counter the call was made of, as it was: once Redis holds `sent`, Redis holds it. */
  taken: SenderCounter;
}

export interface MergesInDoubt {
  /** A token no other merge call carries: this book's random part (a host's) and a sequence number. */
  nextToken(): string;
  /** A merge call failed: Redis may have run it. `sent` and `taken` are copied (the memory store counts on). */
  doubt(limit: string, key: string, sent: SenderCounter, token: string, taken: SenderCounter): void;
  /** Every merge in doubt, taken out of the book: the caller sends each again, or puts it back (doubt). */
  takeAll(): MergeInDoubt[];
  /**
   * Drops every limit's call for `key`: reset. Its counter here is gone, and the call's counter, subtracted
   * from the key's next one, took what was counted after the reset; sent again, it undid the reset.
   */
  forgetKey(key: string): void;
  /** Drops those whose counter sent holds nothing by `now` (sent again, it adds nothing) or of limits gone. */
  expire(limits: readonly LimitConfig[], now: number): void;
  readonly size: number;
  /** Every merge in doubt, left in the book: for the file (store/doubts-file.ts). */
  all(): readonly MergeInDoubt[];
  /** Whether a call came or went since the last `saved()`. */
  readonly changed: boolean;
  saved(): void;
}

const copyOf = (counter: SenderCounter): SenderCounter => ({
  ...counter,
  subjects: counter.subjects?.copy(),
  clientIps: counter.clientIps?.copy(),
});

/** `restored`: the calls a previous run left in doubt (store/doubts-file.ts), with their own tokens. */
export function createMergesInDoubt(restored: readonly MergeInDoubt[] = []): MergesInDoubt {
  // 72 random bits: two hosts (or two runs of one) never share a token for the same key.
  const host = randomBytes(9).toString("base64url");
  let sequence = 0;
  const doubts = new Map<string, MergeInDoubt>();
  for (const doubt of restored) doubts.set(`${doubt.limit}\0${doubt.key}`, doubt);
  let changed = false;
  return {
    nextToken: () => `${host}.${(sequence++).toString(36)}`,
    doubt(limit, key, sent, token, taken) {
      doubts.set(`${limit}\0${key}`, { limit, key, sent: copyOf(sent), token, taken: copyOf(taken) });
      changed = true;
    },
    takeAll() {
      const all = [...doubts.values()];
      if (all.length > 0) changed = true;
      doubts.clear();
      return all;
    },
    forgetKey(key) {
      for (const [id, doubt] of doubts) if (doubt.key === key && doubts.delete(id)) changed = true;
    },
    expire(limits, now) {
      for (const [id, doubt] of doubts) {
        const limit = limits.find((candidate) => candidate.name === doubt.limit);
        if (limit !== undefined && now < counterExpiresAt(doubt.sent, limit)) continue;
        doubts.delete(id);
        changed = true;
      }
    },
    get size() {
      return doubts.size;
    },
    all: () => [...doubts.values()],
    get changed() {
      return changed;
    },
    saved() {
      changed = false;
    },
  };
}
