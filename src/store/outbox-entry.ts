// What an alert notice read back from the state file's outbox must look like before it is queued. An entry
// restored as `{}` once became a mail that could never be composed ("Invalid Date"), retried forever at the
// head of the queue, and no later alert went out. Pure: the counters actor logs and skips what fails here.
import type { AlertNotice } from "../policy/alert-notice.ts";

const MAX_DATE_MS = 8.64e15; // the largest time a Date holds (ECMAScript); beyond it, "Invalid Date"

const isText = (value: unknown): value is string => typeof value === "string" && value !== "";
const isCount = (value: unknown): value is number =>
  typeof value === "number" && Number.isFinite(value) && value >= 0;
const isTime = (value: unknown): value is number => isCount(value) && value <= MAX_DATE_MS;
const isTop = (value: unknown): boolean =>
  Array.isArray(value) &&
  value.every((entry) =>
    Array.isArray(entry) && entry.length === 2 && typeof entry[0] === "string" && isCount(entry[1])
  );

/** Why `entry` is not a notice the alerter can mail, or undefined when it is one. */
export function outboxEntryProblem(entry: unknown): string | undefined {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return "not an object";
  const notice = entry as Record<keyof AlertNotice, unknown>;
  for (const field of ["id", "limit", "keyKind", "key"] as const) {
    if (!isText(notice[field])) return `${field}: not a text`;
  }
  for (const field of ["count", "limitCount"] as const) {
    if (!isCount(notice[field])) return `${field}: not a number`;
  }
  if (!isCount(notice.windowMs) || notice.windowMs === 0) return "windowMs: not a duration";
  for (const field of ["firstSeen", "lastSeen"] as const) {
    if (!isTime(notice[field])) return `${field}: not a time`;
  }
  if (!isTime((notice.firstSeen as number) + notice.windowMs)) {
    return "windowMs: the window ends past any date";
  }
  if (notice.unit !== undefined && notice.unit !== "messages" && notice.unit !== "recipients") {
    return "unit: neither messages nor recipients";
  }
  if (notice.window !== undefined && !isText(notice.window)) return "window: not a text";
  if (notice.algorithm !== undefined && notice.algorithm !== "sliding" && notice.algorithm !== "bucket") {
    return "algorithm: neither sliding nor bucket";
  }
  for (const field of ["topSubjects", "topClientIps"] as const) {
    if (!isTop(notice[field])) return `${field}: not a list of [text, count]`;
  }
  const recipients = notice.recipients;
  if (
    recipients !== undefined &&
    !(Array.isArray(recipients) && recipients.length > 0 && recipients.every(isText))
  ) {
    return "recipients: not a list of addresses";
  }
  return undefined;
}
