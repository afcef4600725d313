// Digests: when many keys cross their limits at once (300 forged senders in a spam run), the postmaster
// gets one mail listing them rather than one mail each. Pure: the alerter keeps the state and the timer.
//
// The rule: within any `digest_window`, at most `digest_after` alerts go out one by one. A further alert
// is held, and so is every alert after it until the digest goes out, `digest_window` after the first
// held one; the digest lists every held alert (in mails of at most DIGEST_MAX_KEYS keys). A storm that
// goes on thus gives one digest per window. Each key is still alerted once per window: a digest is that
// key's alert.
import { formatDuration } from "../model/duration.ts";
import { escapedLine, foldedText } from "./mail-text.ts";
import {
  type AlertMail,
  type AlertMailSettings,
  type AlertNotice,
  formatTime,
  subjectLine,
  table,
  windowText,
} from "./alert-notice.ts";

/** Keys listed in one digest mail (some 40 KB of text); more held alerts go out as several digests. */
const DIGEST_MAX_KEYS = 1000;

export interface DigestSettings {
  digestAfter: number;
  digestWindowMs: number;
}

/**
 * An alert arrives at `at`: does it go out alone, or into the digest? `recent` holds the arrival times of
 * the latest alerts (at most digestAfter, oldest first); the answer carries the new list. `collecting`:
 * a digest is already being gathered, and every alert joins it until it goes out.
 */
export function routeAlert(
  recent: readonly number[],
  at: number,
  settings: DigestSettings,
  collecting: boolean,
): { alone: boolean; recent: number[] } {
  const within = recent.filter((time) => at - time < settings.digestWindowMs);
  const alone = !collecting && within.length < settings.digestAfter;
  within.push(at);
  return { alone, recent: within.slice(-settings.digestAfter) };
}

/** Held alerts as the notices of each digest mail to send. */
export function digestBatches(held: readonly AlertNotice[], max = DIGEST_MAX_KEYS): AlertNotice[][] {
  const batches: AlertNotice[][] = [];
  for (let at = 0; at < held.length; at += max) batches.push(held.slice(at, at + max));
  return batches;
}

const distinct = (values: string[]): string[] => [...new Set(values)];

/** The top `n` of several notices' top lists added together. */
function mergedTop(lists: [string, number][][], n: number): [string, number][] {
  const sums = new Map<string, number>();
  for (const list of lists) {
    for (const [value, count] of list) sums.set(value, (sums.get(value) ?? 0) + count);
  }
  return [...sums].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, n);
}

/**
 * One mail for several alerts. The subject is the configured one with `{key}` = "N keys", `{count}` =
 * their counts added, `{limit}` and `{rule}` = the distinct limits and rules; a subject without `{key}`
 * gets " (digest of N keys)" appended, so that a digest is told apart in a mailbox.
 */
export function composeDigestMail(
  notices: readonly AlertNotice[],
  settings: AlertMailSettings & DigestSettings,
  hostname: string,
): AlertMail {
  const n = notices.length;
  const rules = distinct(notices.map((notice) => notice.limit));
  const filled = subjectLine(settings.subject, {
    key: `${n} keys`,
    count: String(notices.reduce((sum, notice) => sum + notice.count, 0)),
    limit: distinct(notices.map((notice) => String(notice.limitCount))).join("/"),
    rule: rules.join(","),
  });
  const subject = /\{key\}/.test(settings.subject) ? filled : `${filled} (digest of ${n} keys)`;
  const ruleWidth = Math.min(20, Math.max(4, ...rules.map((rule) => rule.length)));
  const rows = notices.map((notice) =>
    `  ${String(notice.count).padStart(7)} ${String(notice.limitCount).padStart(6)}  ` +
    `${escapedLine(notice.limit).padEnd(ruleWidth)}  ${escapedLine(notice.key)}\n`
  ).join("");
  const crossed = notices.map((notice) => notice.lastSeen);
  const windows = escapedLine(distinct(notices.map(windowText)).join(", "));
  const text =
    `mailpolicyd on ${escapedLine(hostname)}: ${n} keys passed their limits at about the same time,\n` +
    `more than ${settings.digestAfter} within ${formatDuration(settings.digestWindowMs)}, ` +
    `so this one mail lists them all.\n\n` +
    `Crossed:     between ${formatTime(Math.min(...crossed))} and ${formatTime(Math.max(...crossed))}\n` +
    `Windows:     ${windows}\n\n` +
    `    COUNT  LIMIT  ${"RULE".padEnd(ruleWidth)}  KEY\n${rows}\n` +
    `Top subjects (all keys above):\n${
      table(mergedTop(notices.map((notice) => notice.topSubjects), 10), "(none reported)")
    }\n` +
    `Top client IPs (all keys above):\n${
      table(mergedTop(notices.map((notice) => notice.topClientIps), 10), "(none reported)")
    }\n` +
    `One alert per key and window: none of these keys is alerted again\n` +
    `before its window ends${
      notices.some((notice) => notice.algorithm === "bucket")
        ? " (a bucket's alert period: or it drains empty)"
        : ""
    }. "mailpolicyd show KEY" has a key's details.\n`;
  return { from: settings.from, to: settings.to, cc: settings.cc, subject, text: foldedText(text) };
}
