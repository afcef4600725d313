// The three counting algorithms over one counter object, split in two steps so that "leaky" limits can
// look at a request before deciding whether it counts:
//   rollCounter (bring the counter to `now`) → levelWith (what the level would be) → commit (count it).
// fixed   — the seed's window: opens with the key's first request, lasts `time`.
// sliding — two fixed sub-windows weighted by overlap (the previous one fades out linearly).
// bucket  — a leaky-bucket meter: each request adds its cost, the level drains at count/time, and a
//           request that would overflow `burst` is over.
import type { LimitConfig } from "../model/limit.ts";
import { ALERT_NONE, makeCounter, type SenderCounter } from "./sender-counter.ts";

type RateLimit = Pick<LimitConfig, "algorithm" | "count" | "windowMs" | "burst">;

export function newCounter(now: number): SenderCounter {
  return makeCounter(now, 0, now, ALERT_NONE);
}

// Level drained over `ms`: multiplied before dividing, so a bucket that should be empty is exactly 0.
// Never negative: a wall clock stepped back (NTP) before the last request drains nothing, rather than
// filling the bucket by the step.
const drained = (limit: RateLimit, ms: number) => (Math.max(0, ms) * limit.count) / limit.windowMs;

// A time more than a window after `now`: the wall clock was stepped back by more than a window since it was
// noted, or a clock set ahead (a wrong RTC at boot) wrote it and was corrected. Waiting for the clock to
// catch up would hold the window that long (years for a wrong RTC) and refuse the key all that time; the
// counter starts afresh instead, as after a long silence (decisions.md, "A clock set back by more than a
// window"). A step back within a window keeps the counter (the formulas clamp what it would distort).
const aheadOfClock = (time: number, limit: RateLimit, now: number) => time - now > limit.windowMs;

function forgetSightings(counter: SenderCounter): void {
  counter.subjects = undefined;
  counter.clientIps = undefined;
}

/**
 * Brings the counter to `now`: ends windows, drains the bucket, and starts a new alert period. The
 * sightings (subjects, client IPs) an alert lists are those of the counter's window: all of a fixed
 * window's, the current and previous sub-windows' of a sliding one, a bucket's since it was last empty or
 * its last alert period ended (decisions.md, issue 17).
 */
export function rollCounter(counter: SenderCounter, limit: RateLimit, now: number): void {
  const elapsed = now - counter.start;
  switch (limit.algorithm) {
    case "fixed":
      if (elapsed >= limit.windowMs || aheadOfClock(counter.start, limit, now)) {
        counter.start = now;
        counter.count = 0;
        counter.alert = ALERT_NONE;
        forgetSightings(counter);
        counter.instance = undefined;
      }
      return;
    case "sliding":
      if (elapsed >= limit.windowMs) {
        const windows = Math.floor(elapsed / limit.windowMs);
        counter.prev = windows === 1 ? counter.count : 0;
        counter.count = 0;
        counter.start += windows * limit.windowMs;
        counter.alert = ALERT_NONE;
        // Sightings follow the counts: those of the sub-window that ended stay (it still weighs, as `prev`),
        // those of the one before it go (the sliding window has passed it wholly), after a longer silence
        // all go. A key that keeps sending thus lists what it sent in the last two sub-windows at most.
        if (windows === 1) {
          counter.subjects = counter.subjects?.aged();
          counter.clientIps = counter.clientIps?.aged();
        } else forgetSightings(counter);
      } else if (aheadOfClock(counter.start, limit, now)) {
        counter.prev = 0;
        counter.count = 0;
        counter.start = now;
        counter.alert = ALERT_NONE;
        forgetSightings(counter);
      }
      return;
    case "bucket": {
      counter.count = aheadOfClock(counter.last, limit, now)
        ? 0
        : Math.max(0, counter.count - drained(limit, now - counter.last));
      counter.last = now; // drained up to now, counted or not
      // The alert period starts at the crossing (start follows now until then), and a new one may start
      // when the bucket has emptied or a window after the last alert.
      // Sightings go when the bucket has drained empty (nothing they describe is left in it) and when a new
      // alert period starts after an alert (the next alert lists its own period's). Not while the level
      // rises to a crossing (start follows now then): the alert lists what filled the bucket.
      if (counter.count === 0 || (counter.alert !== ALERT_NONE && elapsed >= limit.windowMs)) {
        forgetSightings(counter);
      }
      if (counter.alert === ALERT_NONE || counter.count === 0 || elapsed >= limit.windowMs) {
        counter.start = now;
        counter.alert = ALERT_NONE;
      }
      return;
    }
  }
}

/** The level the counter would have with `cost` more, after rollCounter. */
export function levelWith(counter: SenderCounter, limit: RateLimit, now: number, cost: number): number {
  if (limit.algorithm !== "sliding") return counter.count + cost;
  // A clock stepped back before the sub-window's start: the previous one weighs whole, never more.
  const overlap = 1 - Math.max(0, now - counter.start) / limit.windowMs;
  return (counter.prev ?? 0) * overlap + counter.count + cost;
}

/**
 * A level as every surface shows it (SMTP text, log, alert, status, dashboard): a whole number. Sliding
 * and bucket levels are fractional; rounded up, a sender refused at 4.2 + 1 > 5 reads "5 (limit 5)", not
 * "4 (limit 5)". The epsilon absorbs float noise (a sliding level of 5.0000000001 is 5).
 */
export function wholeCount(level: number): number {
  return Math.ceil(level - 1e-9);
}

export function capacity(limit: RateLimit): number {
  return limit.algorithm === "bucket" ? limit.burst : limit.count;
}

export function commit(counter: SenderCounter, cost: number, now: number): void {
  counter.count += cost;
  counter.last = now;
}

/** When the counter holds nothing worth keeping any more. */
export function counterExpiresAt(counter: SenderCounter, limit: RateLimit): number {
  switch (limit.algorithm) {
    case "fixed":
      return counter.start + limit.windowMs;
    case "sliding":
      return counter.start + 2 * limit.windowMs;
    case "bucket":
      return counter.last + Math.ceil((counter.count * limit.windowMs) / limit.count);
  }
}

/** The level as of `now`, without touching the counter (for status displays). */
export function currentLevel(counter: SenderCounter, limit: RateLimit, now: number): number {
  const elapsed = now - counter.start;
  switch (limit.algorithm) {
    case "fixed":
      return elapsed >= limit.windowMs || aheadOfClock(counter.start, limit, now) ? 0 : counter.count;
    case "sliding": {
      if (elapsed >= 2 * limit.windowMs || aheadOfClock(counter.start, limit, now)) return 0;
      if (elapsed >= limit.windowMs) return counter.count * (1 - (elapsed - limit.windowMs) / limit.windowMs);
      return (counter.prev ?? 0) * (1 - Math.max(0, elapsed) / limit.windowMs) + counter.count;
    }
    case "bucket":
      if (aheadOfClock(counter.last, limit, now)) return 0;
      return Math.max(0, counter.count - drained(limit, now - counter.last));
  }
}
