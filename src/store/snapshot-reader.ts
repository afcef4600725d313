// Reads a snapshot a piece at a time. One JSON.parse of a million-key snapshot (60 MB) held the event loop
// for 0.2-0.5 s on a quiet machine and 4 s on a loaded one, before the restarted daemon's first answer.
// The file as the daemon writes it (store/state-file.ts, encodeState) is scanned instead: its rows are
// found by bracket depth (strings skipped), and parsed 2000 at a time, with a pause between. A file in
// any other layout (an older version, an edit by hand) goes through the one JSON.parse as before. What
// follows the rows is read as JSON reads it, not as the daemon lays it out: a newline at the end (an editor
// saved the file) or a field after the outbox (a newer version's) made the file "malformed", moved aside
// with every count in it.
import { MAX_FUTURE_MS } from "./state-rows.ts";
import { parseSnapshot, readLimitKeys, type Snapshot } from "./state-file.ts";

const ROWS_PER_PIECE = 2000;
// The limit keys (a flat object of strings, limits' names and keys: a few dozen bytes each) are taken whole.
const STRING = String.raw`"(?:[^"\\]|\\.)*"`;
const LIMIT_KEYS = String.raw`(?:"limitKeys":(\{(?:${STRING}:${STRING}(?:,${STRING}:${STRING})*)?\}),)?`;
const HEAD = new RegExp(
  String.raw`^\{"format":"mailpolicyd-state","version":1,"savedAt":(\d{1,16}),"journalFrom":(\d{1,16}),` +
    LIMIT_KEYS + String.raw`"limits":\{`,
);
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const COMMA = 0x2c;

class Malformed extends Error {
  constructor(at: number) {
    super(`malformed state file at byte ${at}`);
  }
}

/** The index just after the string that starts at `at` (a quote). */
function afterString(text: string, at: number): number {
  for (let i = at + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i + 1;
  }
  throw new Malformed(at);
}

/** The index just after the array that starts at `at` (an opening bracket), nested arrays included. */
function afterArray(text: string, at: number): number {
  let depth = 0;
  for (let i = at; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) i = afterString(text, i) - 1;
    else if (c === OPEN) depth++;
    else if (c === CLOSE && --depth === 0) return i + 1;
  }
  throw new Malformed(at);
}

/**
 * The fields after `limits` (the outbox, at most outbox_max notices; any a newer version adds), from `at`,
 * just after the limits' closing brace, to the end: one JSON.parse of the document's rest, not of its rows.
 */
function tailFields(text: string, at: number): Record<string, unknown> | undefined {
  if (text.charCodeAt(at) !== COMMA) throw new Malformed(at);
  try {
    return JSON.parse(`{${text.slice(at + 1)}`);
  } catch {
    throw new Malformed(at);
  }
}

/** Parses the text of a snapshot, pausing (a yield) between pieces of ROWS_PER_PIECE rows. */
export function* parseSnapshotInPieces(text: string, now = Date.now()): Generator<void, Snapshot> {
  const head = HEAD.exec(text);
  if (!head) return parseSnapshot(text, now);
  const savedAt = Number(head[1]);
  const journalFrom = Number(head[2]);
  const limitKeys = head[3] === undefined ? undefined : readLimitKeys(JSON.parse(head[3]));
  const tables: [string, unknown[]][] = [];
  let at = head[0].length;
  const expect = (code: number) => {
    if (text.charCodeAt(at++) !== code) throw new Malformed(at - 1);
  };
  while (text.charCodeAt(at) !== 0x7d) { // } ends the limits
    if (tables.length > 0) expect(COMMA);
    const nameEnd = afterString(text, at);
    const name = JSON.parse(text.slice(at, nameEnd)) as string;
    at = nameEnd;
    expect(0x3a); // :
    expect(OPEN);
    const rows: unknown[] = [];
    tables.push([name, rows]);
    let pieceStart = at;
    let inPiece = 0;
    while (text.charCodeAt(at) !== CLOSE) {
      if (inPiece > 0) expect(COMMA);
      if (text.charCodeAt(at) !== OPEN) throw new Malformed(at);
      at = afterArray(text, at);
      if (++inPiece === ROWS_PER_PIECE) {
        for (const row of JSON.parse(`[${text.slice(pieceStart, at)}]`)) rows.push(row);
        yield;
        if (text.charCodeAt(at) === COMMA) at++;
        pieceStart = at;
        inPiece = 0;
      }
    }
    if (inPiece > 0) { for (const row of JSON.parse(`[${text.slice(pieceStart, at)}]`)) rows.push(row); }
    at++; // ]
  }
  at++; // }
  const outbox = tailFields(text, at)?.outbox;
  return {
    savedAt,
    journalFrom,
    ...(limitKeys && { limitKeys }),
    tables,
    outbox: Array.isArray(outbox) ? outbox : [],
    latest: Math.max(savedAt, now) + MAX_FUTURE_MS,
  };
}
