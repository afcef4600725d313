// What the control plane shows about a key under a limit: pure, from a counter and its limit.
import type { LimitConfig } from "../config/types.ts";
import { capacity, currentLevel } from "./rate.ts";
import { ALERT_PENDING, ALERT_SENT, type SenderCounter, topEntries } from "./sender-counter.ts";

export interface SenderRow {
  rule: string;
  key: string;
  count: number;
  limit: number;
  windowSeconds: number;
  algorithm: string;
  action: string;
  windowStart: string;
  lastSeen: string;
  over: boolean;
  atLimit: boolean; // a leaky limit never counts past its limit: this is what "blocked" looks like there
  alert: "none" | "pending" | "sent";
}

export interface SenderDetail extends SenderRow {
  subjects: [string, number][];
  clientIps: [string, number][];
}

export function senderRow(limit: LimitConfig, key: string, counter: SenderCounter, now: number): SenderRow {
  const level = currentLevel(counter, limit, now);
  return {
    rule: limit.name,
    key,
    count: Math.ceil(level - 1e-9),
    limit: capacity(limit),
    windowSeconds: limit.windowMs / 1000,
    algorithm: limit.algorithm,
    action: limit.action,
    windowStart: new Date(counter.start).toISOString(),
    lastSeen: new Date(counter.last).toISOString(),
    over: level > capacity(limit),
    atLimit: level >= capacity(limit),
    alert: counter.alert === ALERT_SENT ? "sent" : counter.alert === ALERT_PENDING ? "pending" : "none",
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
