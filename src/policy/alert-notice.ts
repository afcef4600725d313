// What the counters actor tells the alerter when a key first passes a limit in a window, and the mail
// made from it. Pure: no I/O, so the wording is tested directly.
import type { LimitConfig } from "../model/limit.ts";
import { durationText } from "../model/duration.ts";
import { INVISIBLE_CHARS } from "./unprintable-chars.ts";
import { displaySubject } from "../protocols/subject.ts";
import { cutToWidth, escapedLine, foldedText, MAX_LINE } from "./mail-text.ts";
import { capacity } from "./rate.ts";
import { type SenderCounter, topEntries } from "./sender-counter.ts";

export interface AlertNotice {
  id: string; // limit + key + window start: one alert per key per window, across restarts too
  limit: string;
  keyKind: string;
  key: string;
  count: number; // as the SMTP reply, the log and status show it (LimitOutcome.count)
  limitCount: number; // the limit's capacity: count, or burst for a bucket
  unit?: "messages" | "recipients"; // optional: notices saved by older versions lack it (messages)
  windowMs: number;
  window?: string; // as written in the config; optional, as unit
  // Absent for a fixed window (and in notices saved by older versions): the mail tells what was counted.
  algorithm?: "sliding" | "bucket";
  firstSeen: number;
  lastSeen: number;
  topSubjects: [string, number][];
  topClientIps: [string, number][];
  /**
   * The recipients still to reach, once the relay took the alert for the others and deferred these (a
   * partial delivery): kept in the outbox, so that a restart sends it to them only. Absent: every recipient
   * [alerts] names (also in notices saved by older versions).
   */
  recipients?: string[];
}

export function makeAlertNotice(
  limit: Pick<
    LimitConfig,
    "name" | "keyText" | "count" | "burst" | "algorithm" | "windowMs" | "window" | "per"
  >,
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
    limitCount: capacity(limit),
    unit: limit.per === "recipient" ? "recipients" : "messages",
    windowMs: limit.windowMs,
    window: limit.window,
    ...(limit.algorithm === "fixed" ? {} : { algorithm: limit.algorithm }),
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
  /** The recipients still to reach, when the relay took the mail for the others already; else to + cc. */
  envelopeTo?: string[];
}

export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

// A subject is display only (`mailpolicyd show KEY` has it whole): cut to its line, escapes and all.
const ROW_PREFIX = 10; // "  NNNNNN  "

export function table(rows: [string, number][], none: string): string {
  if (rows.length === 0) return `  ${none}\n`;
  return rows.map(([value, n]) =>
    `  ${String(n).padStart(6)}  ${escapedLine(cutToWidth(value, MAX_LINE - ROW_PREFIX))}\n`
  )
    .join("");
}

// A reader's mail client applies bidi controls in the Subject and draws no other invisible character
// (policy/unprintable-chars.ts): an alert named another sender than the one counted ("admin\u200b@example.org"
// read as admin's). Shown as the body shows them (mail-text.ts): "\u{202e}", "\u{200b}".
const INVISIBLE = new RegExp(`[${INVISIBLE_CHARS}]`, "gu");
const escapedChar = (char: string) => `\\u{${char.codePointAt(0)!.toString(16)}}`;

/**
 * The configured subject with `{key}`, `{count}`, `{limit}`, `{rule}` filled in, as a reader should see
 * it: a key may hold encoded words and, decoded, control characters (a CR LF that would start a new
 * header line in the reader's eyes), and be of any length. So it is decoded once, controls blanked, cut
 * at 200 characters (displaySubject), bidirectional controls and other format characters escaped; the transport encodes and folds it
 * (mail-header.ts).
 */
export function subjectLine(template: string, fill: Record<string, string>): string {
  // One pass with a function: the key is a sender's address, and `{count}` or `$&` inside it must
  // come out verbatim, not be expanded again.
  const filled = template.replace(/\{(key|count|limit|rule)\}/g, (_, name: string) => fill[name]);
  return (displaySubject(filled) || "(no subject)").replace(INVISIBLE, escapedChar);
}

/** The window as the config wrote it; a notice saved by an older version has no window text: its length
 * in seconds, as a bare number in the config would be shown. */
export const windowText = (notice: AlertNotice): string =>
  notice.window ?? durationText(String(notice.windowMs / 1000))!;

/**
 * When the key was counted. A fixed window starts at the key's first request in it. A sliding window's
 * start moves on by whole windows, to a time when the key may have sent nothing, and the window before it
 * weighs in the count (and its subjects are listed). A bucket has no window of counting: its alert period
 * starts at the crossing (policy/rate.ts, rollCounter), and a new period starts as soon as the bucket has
 * drained empty, which may be long before a window has passed.
 */
function times(notice: AlertNotice): string {
  const ends = formatTime(notice.firstSeen + notice.windowMs);
  const last = `Last seen:   ${formatTime(notice.lastSeen)}\n`;
  switch (notice.algorithm) {
    case "bucket":
      return `Crossed:     ${formatTime(notice.firstSeen)} (start of the alert period)\n` + last +
        `Period ends: ${ends}, or when the bucket drains empty\n\n`;
    case "sliding":
      return `Since:       ${
        formatTime(notice.firstSeen - notice.windowMs)
      } (this and the previous window)\n` +
        last + `Window ends: ${ends}\n\n`;
    default:
      return `First seen:  ${formatTime(notice.firstSeen)} (start of the window)\n` + last +
        `Window ends: ${ends}\n\n`;
  }
}

/** `{key}`, `{count}`, `{limit}` and `{rule}` in the configured subject are filled in; the seed's plain
 * subject stays as it is. */
export function composeAlertMail(
  notice: AlertNotice,
  settings: AlertMailSettings,
  hostname: string,
): AlertMail {
  const subject = subjectLine(settings.subject, {
    key: notice.key,
    count: String(notice.count),
    limit: String(notice.limitCount),
    rule: notice.limit,
  });
  const window = windowText(notice);
  // The body goes out as 7bit (mail-text.ts): a long key is folded, never cut, so it stays whole; each
  // value on its line, its own line breaks written out.
  const text = `mailpolicyd on ${escapedLine(hostname)}: a ${notice.keyKind} passed its limit.\n\n` +
    `Who:         ${escapedLine(notice.key)}\n` +
    `Rule:        ${escapedLine(notice.limit)} (per ${notice.keyKind})\n` +
    `How many:    ${notice.count} ${notice.unit ?? "messages"} in ${escapedLine(window)}, ` +
    `limit ${notice.limitCount}\n` +
    times(notice) +
    `Top subjects:\n${table(notice.topSubjects, "(none reported: the request carried no subject)")}\n` +
    `Top client IPs:\n${
      table(notice.topClientIps, "(none reported: the request carried no client address)")
    }\n` +
    (notice.algorithm === "bucket"
      ? `One alert per key and alert period: there is no other for this key\n` +
        `before the period ends or its bucket has drained empty.\n`
      : `One alert per key and window: there is no other for this key\n` +
        `before the window ends.\n`);
  return { from: settings.from, to: settings.to, cc: settings.cc, subject, text: foldedText(text) };
}
