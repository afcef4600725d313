// A request's arguments to the hit script (limits/redis-scripts.ts HIT_SCRIPT): its numbers and flags as
// ONE text of words, then its texts (subject, client address, each counter's instance and carried
// instance), which may hold spaces. Three limits made 40 arguments a request: the client built, measured
// and copied each (ioredis's command encoding was a fifth of the Redis store's JavaScript) and Redis parsed
// each into an object of its own; now 9 (docs/decisions.md, "A request's numbers as one argument"). Pure.
import type { LimitConfig } from "../model/limit.ts";
import { limitArgs } from "./redis-counter.ts";

/** What a request's hit says beside its counters. */
export interface HitHead {
  subject: string | undefined;
  clientAddress: string | undefined;
  /** Redis's time (ms) after which the call writes nothing (0: none). */
  deadline: number;
  /** A refusal answered from the local cache decides the request already. */
  refused: boolean;
}

/** One counter of the request. */
export interface HitCounter {
  limit: LimitConfig;
  cost: number;
  instance: string | undefined;
  /** Attempts the local cache counted since, and the message the last of them counted. */
  carry: number;
  carryInstance: string;
  /** Counted even when the request is refused (a strict limit). */
  strict: boolean;
  refuses: boolean;
  alerts: boolean;
}

/** Words after the head per counter: the limit's four, cost, carry, strict, refuses, alerts. */
export const WORDS_PER_COUNTER = 9;

// A limit's four words (algorithm, count, window ms, burst), made once per limit: a reload makes new
// LimitConfig objects, so a changed limit gets its own.
const limitWordsMemo = new WeakMap<LimitConfig, string>();
const limitWords = (limit: LimitConfig): string => {
  let words = limitWordsMemo.get(limit);
  if (words === undefined) {
    words = limitArgs(limit).join(" "); // the four every script takes, as words
    limitWordsMemo.set(limit, words);
  }
  return words;
};

const flag = (value: boolean) => value ? "1" : "0";

/**
 * The request's arguments, appended to `into`: "n hasSubject hasClient deadline refused" and the counters'
 * words, then subject, client address, and each counter's instance and carried instance ("" for none).
 */
export function pushHitArgs(head: HitHead, counters: readonly HitCounter[], into: string[]): void {
  let words = `${counters.length} ${flag(head.subject !== undefined)} ${
    flag(head.clientAddress !== undefined)
  } ${head.deadline} ${flag(head.refused)}`;
  const at = into.length;
  into.push("", head.subject ?? "", head.clientAddress ?? "");
  for (const counter of counters) {
    words += ` ${limitWords(counter.limit)} ${counter.cost} ${counter.carry} ${flag(counter.strict)} ${
      flag(counter.refuses)
    } ${flag(counter.alerts)}`;
    into.push(counter.instance ?? "", counter.carryInstance);
  }
  into[at] = words;
}
