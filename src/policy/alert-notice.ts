// What the counters actor tells the alerter when a key first passes a limit in a window, and the mail
// made from it. Pure: no I/O, so the wording is tested directly.
import { type SenderCounter, topEntries } from "./sender-counter.ts";

export interface AlertNotice {
  id: string; // limit + key + window start: one alert per key per window, across restarts too
  limit: string;
  keyKind: string;
  key: string;
  count: number;
  limitCount: number;
  windowMs: number;
  firstSeen: number;
  lastSeen: number;
  topSubjects: [string, number][];
  topClientIps: [string, number][];
}

export function makeAlertNotice(
  limit: { name: string; keyText: string; count: number; windowMs: number },
  key: string,
  counter: SenderCounter,
  count: number,
): AlertNotice {
  return {
    id: `${limit.name}|${key}|${counter.start}`,
    limit: limit.name,
    keyKind: limit.keyText,
    key,
    count,
    limitCount: limit.count,
    windowMs: limit.windowMs,
    firstSeen: counter.start,
    lastSeen: counter.last,
    topSubjects: topEntries(counter.subjects, 10),
    topClientIps: topEntries(counter.clientIps, 10),
  };
}

export interface AlertMailSettings {
  from: string;
  to: string[];
  cc: string[];
  subject: string;
}

export interface AlertMail {
  from: string;
  to: string[];
  cc: string[];
  subject: string;
  text: string;
}

function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

function formatSeconds(ms: number): string {
  return `${Math.round(ms / 1000)}s`;
}

function table(rows: [string, number][], none: string): string {
  if (rows.length === 0) return `  ${none}\n`;
  return rows.map(([value, n]) => `  ${String(n).padStart(6)}  ${value}\n`).join("");
}

/** `{key}`, `{count}`, `{limit}` and `{rule}` in the configured subject are filled in; the seed's plain
 * subject stays as it is. */
export function composeAlertMail(
  notice: AlertNotice,
  settings: AlertMailSettings,
  hostname: string,
): AlertMail {
  // One pass with a function: the key is a sender's address, and `{count}` or `$&` inside it must
  // come out verbatim, not be expanded again.
  const fill: Record<string, string> = {
    key: notice.key,
    count: String(notice.count),
    limit: String(notice.limitCount),
    rule: notice.limit,
  };
  const subject = settings.subject.replace(/\{(key|count|limit|rule)\}/g, (_, name: string) => fill[name]);
  const text = `mailpolicyd on ${hostname}: a ${notice.keyKind} passed its limit.\n\n` +
    `Who:         ${notice.key}\n` +
    `Rule:        ${notice.limit} (per ${notice.keyKind})\n` +
    `How many:    ${notice.count} messages, limit ${notice.limitCount} per ${
      formatSeconds(notice.windowMs)
    }\n` +
    `First seen:  ${formatTime(notice.firstSeen)} (start of the window)\n` +
    `Last seen:   ${formatTime(notice.lastSeen)}\n` +
    `Window ends: ${formatTime(notice.firstSeen + notice.windowMs)}\n\n` +
    `Top subjects:\n${table(notice.topSubjects, "(none reported: the request carried no subject)")}\n` +
    `Top client IPs:\n${
      table(notice.topClientIps, "(none reported: the request carried no client address)")
    }\n` +
    `You get one alert per ${notice.keyKind} and window; this one will not be repeated before the window ends.\n`;
  return { from: settings.from, to: settings.to, cc: settings.cc, subject, text };
}
