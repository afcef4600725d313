// Checks one counter row of the state file (or its journal) before it becomes a counter. A row is data
// from disk: an old version, a hand edit or a bug may have put anything there, and a counter restored as
// is decides answers for a whole window (a start in 2100 and a count of -1 000 000 gave a sender a million
// free messages until 2100). A bad row is refused alone, with its reason; the other rows are restored.
import { MESSAGES_REMEMBERED } from "../policy/counted-messages.ts";
import { type AlertState, makeCounter, type SenderCounter, Tally } from "../policy/sender-counter.ts";

// Longer than any key the daemon makes: an address is at most 254 octets (RFC 5321), and a key joins at
// most a few parts (`sasl_username+client_address/24`).
export const MAX_KEY_LENGTH = 1024;
// A level is a count of messages or recipients in one window: the config allows a limit of 1e9 at most;
// a thousand times that is no count any real window reaches.
export const MAX_COUNT = 1e12;
// Clocks move back (NTP); a timestamp up to a day after the file's own time is taken as such a step.
export const MAX_FUTURE_MS = 86_400_000;
// SIGHTING_CAP in policy/sender-counter.ts per generation, and a sliding window's tally has two.
const MAX_SIGHTINGS = 100;
const MAX_TEXT_LENGTH = 4096; // a subject, client address or message instance: no request is longer (MAX_REQUEST_BYTES)
const MAX_INSTANCES_LENGTH = MESSAGES_REMEMBERED * (MAX_TEXT_LENGTH + 1) - 1; // the messages counted lately, "\n" between

const isTime = (value: unknown, latest: number): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0 && value <= latest;

const isLevel = (value: unknown): value is number =>
  typeof value === "number" && Number.isFinite(value) && value >= 0 && value <= MAX_COUNT;

function tallyProblem(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > MAX_SIGHTINGS) return "not a list of sightings";
  for (const entry of value) {
    if (!Array.isArray(entry) || typeof entry[0] !== "string" || entry[0].length > MAX_TEXT_LENGTH) {
      return "bad sighting";
    }
    if (!isLevel(entry[1])) return "bad sighting count";
    if (entry.length > 3 || (entry.length === 3 && !(isLevel(entry[2]) && entry[2] <= entry[1]))) {
      return "bad sighting count";
    }
  }
  return undefined;
}

/**
 * The counter a row describes, or why the row is refused. `latest` is the latest believable timestamp:
 * the time the file was written (or now) plus MAX_FUTURE_MS.
 */
export function counterFromRow(row: unknown, latest: number): SenderCounter | string {
  if (!Array.isArray(row) || row.length < 5 || row.length > 9) return "not a counter row";
  const [key, start, count, last, alert, subjects, clientIps, prev, instance] = row;
  if (typeof key !== "string" || key === "") return "no key";
  if (key.length > MAX_KEY_LENGTH) return "key too long";
  if (!isTime(start, latest)) return "bad window start";
  if (!isTime(last, latest)) return "bad last-seen time";
  if (!isLevel(count)) return "bad count";
  if (alert !== 0 && alert !== 1 && alert !== 2 && alert !== 3) return "bad alert state";
  const problem = tallyProblem(subjects) ?? tallyProblem(clientIps);
  if (problem) return problem;
  if (prev !== null && prev !== undefined && !isLevel(prev)) return "bad previous count";
  if (instance !== null && instance !== undefined) {
    if (typeof instance !== "string" || instance.length > MAX_INSTANCES_LENGTH) return "bad message instance";
  }
  const counter = makeCounter(start, count, last, alert as AlertState);
  if (subjects) counter.subjects = Tally.from(subjects);
  if (clientIps) counter.clientIps = Tally.from(clientIps);
  if (typeof prev === "number" && prev !== 0) counter.prev = prev;
  if (typeof instance === "string") counter.instance = instance;
  return counter;
}

/** Refused rows by reason, for one log line: "bad count: 2, key too long: 1". */
export class RefusedRows {
  readonly reasons = new Map<string, number>();
  total = 0;

  add(reason: string): void {
    this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
    this.total++;
  }

  toString(): string {
    return [...this.reasons].map(([reason, count]) => `${reason}: ${count}`).join(", ");
  }
}
