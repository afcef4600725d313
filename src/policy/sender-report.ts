// What the control plane shows about a key under a limit: pure, from a counter and its limit.
import type { LimitConfig } from "../model/limit.ts";
import { capacity, currentLevel, wholeCount } from "./rate.ts";
import { ALERT_PENDING, ALERT_SENT, ALERT_UNSENT, type SenderCounter, topEntries } from "./sender-counter.ts";

export interface SenderRow {
  rule: string;
  key: string;
  count: number; // wholeCount of the level: the number the SMTP reply, the log and the alert show
  limit: number;
  window: string; // as written in the config: "1h"
  windowSeconds: number;
  algorithm: string;
  action: string;
  windowStart: string;
  lastSeen: string;
  over: boolean; // count > limit
  atLimit: boolean; // count >= limit: a leaky limit never counts past it, so this is "blocked" there
  // unsent: the alerter is done with it and no mail went out (parked, dropped from a full outbox, or only
  // logged for want of [alerts]); status lists the parked ones with their error.
  alert: "none" | "pending" | "sent" | "unsent";
}

export interface SenderDetail extends SenderRow {
  subjects: [string, number][];
  clientIps: [string, number][];
}

// A limit with `alert = no` marks its crossed counters as sent only so that the crossing is not logged again
// (limits/memory-store.ts, the Redis scripts' `write`): no mail went out, so the row shows none.
function alertState(limit: LimitConfig, counter: SenderCounter): SenderRow["alert"] {
  if (!limit.alert) return "none";
  switch (counter.alert) {
    case ALERT_PENDING:
      return "pending";
    case ALERT_SENT:
      return "sent";
    case ALERT_UNSENT:
      return "unsent";
    default:
      return "none";
  }
}

export function senderRow(limit: LimitConfig, key: string, counter: SenderCounter, now: number): SenderRow {
  const count = wholeCount(currentLevel(counter, limit, now));
  return {
    rule: limit.name,
    key,
    count,
    limit: capacity(limit),
    window: limit.window,
    windowSeconds: limit.windowMs / 1000,
    algorithm: limit.algorithm,
    action: limit.action,
    windowStart: new Date(counter.start).toISOString(),
    lastSeen: new Date(counter.last).toISOString(),
    over: count > capacity(limit),
    atLimit: count >= capacity(limit),
    alert: alertState(limit, counter),
  };
}

export function senderDetail(
  limit: LimitConfig,
  key: string,
  counter: SenderCounter,
  now: number,
): SenderDetail {
  return {
    ...senderRow(limit, key, counter, now),
    subjects: topEntries(counter.subjects, 10),
    clientIps: topEntries(counter.clientIps, 10),
  };
}
