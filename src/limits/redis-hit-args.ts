// A request's arguments to the hit script (limits/redis-scripts.ts HIT_SCRIPT): its numbers and flags as
// ONE text of words, then its texts (subject, client address, each counter's instance and carried
// instance, only those it has), which may hold spaces. Three limits made 40 arguments a request: the client
// built, measured and copied each (ioredis's command encoding was a fifth of the Redis store's JavaScript)
// and Redis parsed each into an object of its own; now 2 with a client address and no instance (docs/
// decisions.md, "A request's numbers as one argument", "What a request allocates on the Redis path"). And
// the numbers of its answer. Pure.
import type { LimitConfig } from "../model/limit.ts";
import { limitArgs } from "./redis-counter.ts";
import { carryText } from "./over-cache.ts";

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
  /** Redis's time when it said the key is over (over-cache.ts Carry.since; 0 or none: not known). */
  carrySince?: number;
  /** Counted even when the request is refused (a strict limit). */
  strict: boolean;
  refuses: boolean;
  alerts: boolean;
}

/**
 * Words after the head per counter: the limit's four, cost, carry, strict, refuses, alerts, has instance,
 * has carry's instance.
 */
export const WORDS_PER_COUNTER = 11;

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

const hasText = (text: string | undefined) => text !== undefined && text !== "";

const counterText = (counter: HitCounter) =>
  ` ${limitWords(counter.limit)} ${counter.cost} ${carryText(counter.carry, counter.carrySince)} ${
    flag(counter.strict)
  } ${flag(counter.refuses)} ${flag(counter.alerts)} ${flag(hasText(counter.instance))} ${
    flag(hasText(counter.carryInstance))
  }`;

// A counter's words in the usual case (cost 1, nothing carried), made once per limit and flags: built anew,
// the ~9 pieces of each counter were each a string of their own, for every request (session 27: ~25 of the
// ~75 strings a request made on the Redis path).
const usualTextMemo = new WeakMap<LimitConfig, (string | undefined)[]>();
const textOf = (counter: HitCounter): string => {
  if (counter.cost !== 1 || counter.carry !== 0) return counterText(counter);
  let texts = usualTextMemo.get(counter.limit);
  if (texts === undefined) usualTextMemo.set(counter.limit, texts = []);
  const flags = (hasText(counter.carryInstance) ? 16 : 0) | (hasText(counter.instance) ? 8 : 0) |
    (counter.strict ? 4 : 0) | (counter.refuses ? 2 : 0) | (counter.alerts ? 1 : 0);
  return texts[flags] ??= counterText(counter);
};

/**
 * The request's arguments, appended to `into`: "n hasSubject hasClient deadline refused" and the counters'
 * words, then only the texts it has: subject, client address, and each counter's instance and carried
 * instance (an empty one is none, as in the script).
 */
export function pushHitArgs(head: HitHead, counters: readonly HitCounter[], into: string[]): void {
  let words = `${counters.length} ${flag(head.subject !== undefined)} ${
    flag(head.clientAddress !== undefined)
  } ${head.deadline} ${flag(head.refused)}`;
  for (const counter of counters) words += textOf(counter);
  into.push(words);
  if (head.subject !== undefined) into.push(head.subject);
  if (head.clientAddress !== undefined) into.push(head.clientAddress);
  for (const counter of counters) {
    if (hasText(counter.instance)) into.push(counter.instance!);
    if (hasText(counter.carryInstance)) into.push(counter.carryInstance);
  }
}

const ZERO = 48; // "0"
const MINUS = 45; // "-"

/**
 * The numbers of the hit script's answer (one text of numbers, each followed by a single space but the
 * last) into `into` from 0; returns how many. Whole numbers of up to 15 digits are read digit by digit, the
 * others (a fraction, an exponent) by `Number`, so no string is made for most of them: `split(" ")` made one
 * per number, ~19 a request with three counters.
 */
export function readNumbers(text: string, into: number[]): number {
  let count = 0;
  let start = 0;
  const end = text.length;
  while (start <= end) {
    let stop = text.indexOf(" ", start);
    if (stop < 0) stop = end;
    let at = start;
    const negative = text.charCodeAt(at) === MINUS;
    if (negative) at++;
    let value = 0;
    let whole = at < stop && stop - at <= 15;
    for (; whole && at < stop; at++) {
      const digit = text.charCodeAt(at) - ZERO;
      if (digit < 0 || digit > 9) whole = false;
      else value = value * 10 + digit;
    }
    into[count++] = whole ? (negative ? -value : value) : Number(text.slice(start, stop));
    start = stop + 1;
  }
  return count;
}
