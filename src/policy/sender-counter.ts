// The per-key counter: a plain object, not an actor (DESIGN §2: an xstate actor per key costs ~2.8 KB,
// this ~200 B). The counters actor owns them and is the only code that calls hitFixedWindow.

export const ALERT_NONE = 0;
export const ALERT_PENDING = 1; // crossed the limit, the alert mail is not yet delivered
export const ALERT_SENT = 2;
export type AlertState = typeof ALERT_NONE | typeof ALERT_PENDING | typeof ALERT_SENT;

export interface Sighting {
  subjects?: Map<string, number>;
  clientIps?: Map<string, number>;
}

export interface SenderCounter {
  start: number; // ms, first message of the current window
  count: number; // requests seen in the current window, refused ones included
  last: number; // ms, latest request
  alert: AlertState;
  seen?: Sighting; // only for keys whose requests carried a subject or client address
}

export interface FixedWindowLimit {
  count: number;
  windowMs: number;
}

export interface HitResult {
  counter: SenderCounter;
  over: boolean; // this request is past the limit
  crossed: boolean; // first request past the limit in this window: alert now
  fresh: boolean; // a new window started with this request
}

export function windowEnded(counter: SenderCounter, limit: FixedWindowLimit, now: number): boolean {
  return now - counter.start >= limit.windowMs;
}

/**
 * The seed's fixed window: it opens with a key's first request and lasts windowMs; the request that takes
 * the count past `limit.count` is over the limit, and so is every later one until the window ends.
 * (The seed answered "yes" one request later, from count+2 on; see docs/decisions.md.)
 */
export function hitFixedWindow(
  existing: SenderCounter | undefined,
  limit: FixedWindowLimit,
  now: number,
): HitResult {
  if (!existing || windowEnded(existing, limit, now)) {
    const counter: SenderCounter = { start: now, count: 1, last: now, alert: ALERT_NONE };
    const over = counter.count > limit.count;
    if (over) counter.alert = ALERT_PENDING;
    return { counter, over, crossed: over, fresh: true };
  }
  existing.count += 1;
  existing.last = now;
  const over = existing.count > limit.count;
  const crossed = over && existing.alert === ALERT_NONE;
  if (crossed) existing.alert = ALERT_PENDING;
  return { counter: existing, over, crossed, fresh: false };
}

const SIGHTING_CAP = 50; // distinct subjects / IPs kept per key: enough for a top 10, bounded memory

function bump(map: Map<string, number>, value: string): void {
  const had = map.get(value);
  if (had !== undefined) map.set(value, had + 1);
  else if (map.size < SIGHTING_CAP) map.set(value, 1);
}

export function recordSighting(counter: SenderCounter, subject?: string, clientIp?: string): void {
  if (subject === undefined && clientIp === undefined) return;
  const seen = counter.seen ??= {};
  if (subject !== undefined) bump(seen.subjects ??= new Map(), subject);
  if (clientIp !== undefined) bump(seen.clientIps ??= new Map(), clientIp);
}

export function topEntries(map: Map<string, number> | undefined, n: number): [string, number][] {
  if (!map) return [];
  return [...map.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, n);
}
