// A key can be counted again before its saved counter is restored: the daemon answers while the restore
// runs (a million keys take seconds to restore, and Exim falls back after two). The saved counter and the
// one counted since then are then added together, so that no counting is lost either way.
import type { LimitConfig } from "../model/limit.ts";
import { mergedInstances, sharedMessages } from "./counted-messages.ts";
import { rollCounter } from "./rate.ts";
import { type AlertState, type SenderCounter, Tally } from "./sender-counter.ts";

type RateLimit = Pick<LimitConfig, "algorithm" | "count" | "windowMs" | "burst">;

function mergeTally(into: Tally | undefined, from: Tally | undefined): Tally | undefined {
  if (!from) return into;
  if (!into) return from;
  into.addAll(from);
  return into;
}

/**
 * Adds `restored` into `live` (in place: the journal and the request path may hold `live`) and returns it.
 * Both are first brought to `now`; the window is the restored one (it began first), the counts add up, and
 * the alert state is the further one, so an alert sent before the restart is not sent again. A message
 * (`per = message`) that both counted, its recipients straddling the restart, counts once: its later
 * recipient was asked about before the restore and was counted anew.
 */
export function mergeRestored(
  live: SenderCounter,
  restored: SenderCounter,
  limit: RateLimit,
  now: number,
): SenderCounter {
  rollCounter(restored, limit, now);
  rollCounter(live, limit, now);
  if (limit.algorithm === "bucket") live.start = Math.min(live.start, restored.start);
  else {
    live.start = restored.start;
    live.prev = restored.prev;
  }
  // Each message a per = message counter holds was counted with a cost of 1 (limit-key.ts, requestCost).
  const twice = sharedMessages(live.instance, restored.instance);
  live.count = Math.max(0, live.count - twice) + restored.count;
  live.alert = Math.max(live.alert, restored.alert) as AlertState;
  live.subjects = mergeTally(live.subjects, restored.subjects);
  live.clientIps = mergeTally(live.clientIps, restored.clientIps);
  live.instance = mergedInstances(live.instance, restored.instance);
  return live;
}

/**
 * What was counted in `counter` since `exported` was copied into it (Redis → memory: docs/redis.md,
 * "Upgrade"): both brought to `now` on copies, then the counts and the sightings less the copy's, never below
 * zero (Redis still holds the copy's). The window and alert state are the counter's. `exported` is left as
 * it was; `counter` is rolled (as a merge would), the returned counter is new.
 */
export function countedSince(
  counter: SenderCounter,
  exported: SenderCounter,
  limit: RateLimit,
  now: number,
): SenderCounter {
  const before: SenderCounter = {
    ...exported,
    subjects: exported.subjects?.copy(),
    clientIps: exported.clientIps?.copy(),
  };
  rollCounter(before, limit, now);
  rollCounter(counter, limit, now);
  return {
    ...counter,
    count: Math.max(0, counter.count - before.count),
    prev: Math.max(0, (counter.prev ?? 0) - (before.prev ?? 0)),
    subjects: before.subjects ? counter.subjects?.since(before.subjects) : counter.subjects,
    clientIps: before.clientIps ? counter.clientIps?.since(before.clientIps) : counter.clientIps,
  };
}
