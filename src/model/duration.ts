// Durations, read and written. Read: the config's durations ("300", "30s", "5m", ...) and a limit window's
// text as written. Written for people: "3d 4h", "2m 5s", "10m", the one formatter of milliseconds: the
// daemon's uptime (control/uptime.ts), the config's range messages (config/values.ts) and the digest
// mail's window (policy/alert-digest.ts). Limit windows are not formatted: they are shown as the config
// wrote them.

export type DurationUnit = "d" | "h" | "m" | "s" | "ms";

/** Milliseconds per unit, largest first; the config's durations are parsed with the same table. */
export const UNIT_MS: Readonly<Record<DurationUnit, number>> = {
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
};
const UNITS = Object.keys(UNIT_MS) as DurationUnit[];

/**
 * `ms` in days, hours, minutes, seconds and milliseconds, largest first, leaving out the parts that are
 * zero: 600_000 → "10m", 90_000 → "1m 30s", 1500 → "1s 500ms". What is below `smallest` is dropped
 * (7_507_000 with "m" → "2h 5m"); when nothing is left (0, or less than one `smallest`) it is "0" in that
 * unit: "0s". Negative and NaN count as 0.
 */
export function formatDuration(ms: number, smallest: DurationUnit = "ms"): string {
  const parts: string[] = [];
  let rest = ms > 0 ? Math.floor(ms / UNIT_MS[smallest]) * UNIT_MS[smallest] : 0;
  for (const unit of UNITS) {
    const n = Math.floor(rest / UNIT_MS[unit]);
    if (n > 0) {
      parts.push(`${n}${unit}`);
      rest -= n * UNIT_MS[unit];
    }
    if (unit === smallest) break;
  }
  return parts.length > 0 ? parts.join(" ") : `0${smallest}`;
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i;

/** "300" (seconds, as the classic sender_warn.conf writes it), "500ms", "30s", "5m", "1h", "1d" → ms. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * UNIT_MS[(match[2] ?? "s").toLowerCase() as DurationUnit];
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/**
 * A duration as the postmaster wrote it, in one spelling: "1H" → "1h", "5 m" → "5m", and a bare number
 * gets the unit it means, "300" → "300s" ("in 300" would read as a count). Windows are shown this way in
 * SMTP replies, logs, alerts and status, rather than recomputed from milliseconds ("1h", not "3600s").
 */
export function durationText(text: string): string | undefined {
  const match = DURATION.exec(text.trim());
  return match ? `${match[1]}${(match[2] ?? "s").toLowerCase()}` : undefined;
}
