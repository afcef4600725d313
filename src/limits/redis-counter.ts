// A counter between its Redis hash (limits/redis-scripts.ts names the fields) and a SenderCounter, for
// alerts (the crossing's counter), the control plane and the upgrade paths. Pure: no I/O.
import type { LimitConfig } from "../model/limit.ts";
import { type AlertState, makeCounter, type SenderCounter, Tally } from "../policy/sender-counter.ts";

/** The script arguments every script takes after the time: the limit's algorithm and numbers. */
export function limitArgs(limit: LimitConfig): (string | number)[] {
  return [limit.algorithm, limit.count, limit.windowMs, limit.burst];
}

/** Sighting fields ("s:v", "S:v", "i:v", "I:v" with counts) as the two Tallies. */
function tallies(pairs: readonly string[], from: number) {
  const subjects = new Map<string, [string, number, number]>();
  const ips = new Map<string, [string, number, number]>();
  for (let i = from; i + 1 < pairs.length; i += 2) {
    const field = pairs[i];
    const kind = field.slice(0, 2);
    const into = kind === "s:" || kind === "S:" ? subjects : kind === "i:" || kind === "I:" ? ips : undefined;
    if (into === undefined) continue;
    const value = field.slice(2);
    const count = Number(pairs[i + 1]);
    const entry = into.get(value) ?? [value, 0, 0];
    entry[1] += count;
    if (kind === "S:" || kind === "I:") entry[2] += count;
    into.set(value, entry);
  }
  return { subjects: Tally.from(subjects.values()), clientIps: Tally.from(ips.values()) };
}

/** The counter from t, c, l, a, p, m at `at` in `values`, and sighting pairs from `pairsFrom` on. */
export function counterFromReply(values: readonly unknown[], at: number, pairsFrom?: number): SenderCounter {
  const counter = makeCounter(
    Number(values[at]),
    Number(values[at + 1]),
    Number(values[at + 2]),
    Number(values[at + 3]) as AlertState,
  );
  counter.prev = Number(values[at + 4] ?? 0);
  const instance = values[at + 5];
  counter.instance = typeof instance === "string" && instance !== "" ? instance : undefined;
  if (pairsFrom !== undefined) Object.assign(counter, tallies(values as string[], pairsFrom));
  return counter;
}

/** The counter from HGETALL's reply (ioredis gives an object); undefined for an empty hash. */
export function counterFromHash(hash: Record<string, string>): SenderCounter | undefined {
  if (hash.t === undefined) return undefined;
  const counter = counterFromReply([hash.t, hash.c, hash.l, hash.a, hash.p ?? "0", hash.m ?? ""], 0);
  return Object.assign(counter, tallies(Object.entries(hash).flat(), 0));
}

/** The merge script's arguments for a counter: t, c, l, a, p, m, then its sightings as field, count. */
export function counterArgs(counter: SenderCounter): (string | number)[] {
  const sightings: (string | number)[] = [];
  const add = (newer: string, older: string, tally: Tally | undefined) =>
    tally?.forEach((value, count, before) => {
      if (count > before) sightings.push(`${newer}:${value}`, count - before);
      if (before > 0) sightings.push(`${older}:${value}`, before);
    });
  add("s", "S", counter.subjects);
  add("i", "I", counter.clientIps);
  return [
    counter.start,
    counter.count,
    counter.last,
    counter.alert,
    counter.prev ?? 0,
    counter.instance ?? "",
    sightings.length / 2,
    ...sightings,
  ];
}
