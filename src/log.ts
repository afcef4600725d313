import { stderrLines } from "./stderr-lines.ts";
import { UNPRINTABLE_CHARS } from "./policy/unprintable-chars.ts";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = typeof LOG_LEVELS[number];
export type LogFields = Record<string, string | number | boolean | undefined | null>;

export interface Logger {
  debug(source: string, message: string, fields?: LogFields): void;
  info(source: string, message: string, fields?: LogFields): void;
  warn(source: string, message: string, fields?: LogFields): void;
  error(source: string, message: string, fields?: LogFields): void;
  enabled(level: LogLevel): boolean;
  setLevel(level: LogLevel): void;
}

/**
 * A value's characters kept in a line. Values from requests and answers (a 4 000-byte HELO, the symbols of
 * 150 long rule names: 89 KB) would otherwise make lines that syslog cuts at 8 KB (rsyslog's default
 * maxMessageSize) and journald splits at 48 KB; a stack trace fits.
 */
export const MAX_VALUE_CHARS = 4096;

/** `text` within MAX_VALUE_CHARS, saying how much was left out; never half a surrogate pair. */
function boundedValue(text: string): string {
  if (text.length <= MAX_VALUE_CHARS) return text;
  let end = MAX_VALUE_CHARS;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}… (${text.length - end} more characters)`;
}

// What a value may hold and stay bare; and what is written \uNNNN inside quotes (policy/unprintable-chars.ts).
// "u": the set names a Unicode property. Measured on plain ASCII values, the "u" costs nothing on Bun and
// ~1-3 ns a value on Deno (docs/decisions.md, "Invisible format characters written out").
const BARE = new RegExp(`^[^\\s"\\\\${UNPRINTABLE_CHARS}]*$`, "u");
const UNPRINTABLE = new RegExp(`[${UNPRINTABLE_CHARS}]`, "gu");

// Each UTF-16 unit as \uNNNN: a tag character (U+E0041) as its two halves, which JSON.parse reads back.
function escapedUnits(c: string): string {
  let units = "";
  for (let i = 0; i < c.length; i++) units += `\\u${c.charCodeAt(i).toString(16).padStart(4, "0")}`;
  return units;
}

// Values from requests end up here: quote anything with spaces or controls so one event stays one line.
function formatValue(value: string | number | boolean): string {
  const text = boundedValue(String(value));
  if (BARE.test(text) && text !== "") return text;
  // JSON escapes C0 controls; C1 controls and U+2028/9 also break lines in some log viewers, a bidi control
  // (a sender's U+202E) turned the rest of the line round in a terminal that does bidi, and a zero-width
  // one (U+200B) made "admin\u200b@example.org" read as the real account.
  return JSON.stringify(text).replace(UNPRINTABLE, escapedUnits);
}

export function formatLogLine(
  level: LogLevel,
  source: string,
  message: string,
  fields: LogFields = {},
): string {
  let line = `${new Date().toISOString()} ${level} ${source}: ${message}`;
  for (const [name, value] of Object.entries(fields)) {
    if (value !== undefined && value !== null) line += ` ${name}=${formatValue(value)}`;
  }
  return line;
}

/** The daemon's stderr: a line per event, and a bound on what waits for a reader that does not read. */
function stderrWrite(): (line: string) => void {
  return stderrLines({
    droppedLine: (count) =>
      formatLogLine("warn", "log", "log lines dropped: stderr was not read fast enough", { dropped: count }),
    flushAtExit: true,
  });
}

export function createLogger(level: LogLevel, write: (line: string) => void = stderrWrite()): Logger {
  let threshold = LOG_LEVELS.indexOf(level);
  const emit = (at: LogLevel) => (source: string, message: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(at) >= threshold) write(formatLogLine(at, source, message, fields));
  };
  return {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    enabled: (at) => LOG_LEVELS.indexOf(at) >= threshold,
    setLevel: (next) => {
      threshold = LOG_LEVELS.indexOf(next);
    },
  };
}
