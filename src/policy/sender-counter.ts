// The per-key counter: a plain object, not an actor (DESIGN §2: an xstate actor per key costs ~2.8 KB,
// this ~200 B). The counters actor owns them; policy/rate.ts holds the counting algorithms.

export const ALERT_NONE = 0;
export const ALERT_PENDING = 1; // crossed the limit, the alert mail is not yet delivered
export const ALERT_SENT = 2;
export type AlertState = typeof ALERT_NONE | typeof ALERT_PENDING | typeof ALERT_SENT;

export interface Sighting {
  subjects?: Map<string, number>;
  clientIps?: Map<string, number>;
}

export interface SenderCounter {
  start: number; // ms: window start (fixed, sliding) or start of the alert period (bucket)
  count: number; // fixed/sliding: counted in the current (sub-)window; bucket: the level
  last: number; // ms, latest request
  alert: AlertState;
  seen?: Sighting; // only for keys whose requests carried a subject or client address
  prev?: number; // sliding window: the previous sub-window's count
  instance?: string; // per = message at RCPT: the message last counted, so its other recipients are not
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
