// The journal's records as bytes (store/state-journal.ts writes them, actors/state-restore.ts reads them).
//
// Binary, not the snapshot's JSON: a counter record is written on the request path for every counter a
// request changes, and as a JSON row (two 13-digit timestamps in decimal, a byte at a time) it cost ~200 ns
// warm and ~470 ns in the daemon under load, against ~65 ns with the numbers as float64 (docs/decisions.md,
// "The journal writes a counter when it is touched"). Nothing but the daemon reads a journal.
//
// A record is [kind u8][body length u32][body], little-endian. Bodies:
//   counter  [limit length u32][limit][key length u32][key][start f64][count f64][last f64][prev f64]
//            [alert u8][has instance u8][instance: the rest]
//   reset    the key;  sent  the alert's id;  alert  the notice as JSON   (all UTF-8)
// A record whose body runs past the end of the file is a write cut short by a kill: it and anything after
// it are left out. A journal written by an older version is JSON lines (`["limit",[row]]`,
// `["!reset",key]` …); its first byte is `[`, which no record kind is, and it is read as such.
import type { AlertNotice } from "../policy/alert-notice.ts";
import type { SenderCounter } from "../policy/sender-counter.ts";
import { grown } from "./json-bytes.ts";

export type JournalRecord =
  | { kind: "counter"; limit: string; row: unknown }
  | { kind: "reset"; key: string }
  | { kind: "alert"; notice: AlertNotice }
  | { kind: "sent"; id: string }
  | { kind: "bad"; reason: string };

const COUNTER = 1;
const RESET = 2;
const ALERT = 3;
const SENT = 4;
const HEAD_BYTES = 5;
const NUMBERS_BYTES = 4 * 8 + 2; // a counter's four numbers, its alert state and whether it has an instance
const JSON_OPEN = 0x5b; // `[`: the first byte of an older version's journal

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A growing buffer of journal records. */
export class JournalBytes {
  private buffer: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buffer = new Uint8Array(initialBytes);
    this.view = new DataView(this.buffer.buffer);
  }

  /** What was written so far (a view: copy it before writing more). */
  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  clear(): void {
    this.length = 0;
  }

  counter(limit: string, key: string, counter: SenderCounter): void {
    const instance = counter.instance;
    const texts = limit.length + key.length + (instance?.length ?? 0);
    this.room(HEAD_BYTES + 2 * 4 + 3 * texts + NUMBERS_BYTES);
    const view = this.view;
    const start = this.head(COUNTER);
    this.text(limit);
    this.text(key);
    const at = this.length;
    view.setFloat64(at, counter.start, true);
    view.setFloat64(at + 8, counter.count, true);
    view.setFloat64(at + 16, counter.last, true);
    view.setFloat64(at + 24, counter.prev ?? 0, true);
    this.buffer[at + 32] = counter.alert;
    this.buffer[at + 33] = instance === undefined ? 0 : 1;
    this.length = at + NUMBERS_BYTES;
    if (instance !== undefined) this.utf8(instance);
    this.end(start);
  }

  reset(key: string): void {
    this.whole(RESET, key);
  }

  alert(notice: AlertNotice): void {
    this.whole(ALERT, JSON.stringify(notice));
  }

  sent(id: string): void {
    this.whole(SENT, id);
  }

  private whole(kind: number, text: string): void {
    this.room(HEAD_BYTES + 3 * text.length);
    const start = this.head(kind);
    this.utf8(text);
    this.end(start);
  }

  /** Writes a record's kind and leaves its length to `end`; returns where the body starts. */
  private head(kind: number): number {
    this.buffer[this.length] = kind;
    this.length += HEAD_BYTES;
    return this.length;
  }

  private end(bodyStart: number): void {
    this.view.setUint32(bodyStart - 4, this.length - bodyStart, true);
  }

  /** A string with its length in bytes before it. */
  private text(value: string): void {
    const lengthAt = this.length;
    this.length += 4;
    this.utf8(value);
    this.view.setUint32(lengthAt, this.length - lengthAt - 4, true);
  }

  /** A string's UTF-8 bytes (room made by the caller): ASCII, nearly every key, a byte at a time. */
  private utf8(value: string): void {
    const buffer = this.buffer;
    let at = this.length;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c > 0x7f) {
        at = this.length + encoder.encodeInto(value, buffer.subarray(this.length)).written;
        break;
      }
      buffer[at++] = c;
    }
    this.length = at;
  }

  private room(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    this.buffer = grown(this.bytes(), this.length + bytes);
    this.view = new DataView(this.buffer.buffer);
  }
}

/**
 * The records of a journal's bytes, a generator so that a restore can take them a slice at a time. A record
 * that is not one is a "bad" record, never an exception; a last record cut short is left out (`torn`).
 */
export function* decodeJournal(bytes: Uint8Array): Generator<JournalRecord> {
  if (bytes[0] === JSON_OPEN) {
    for (const line of journalLines(decoder.decode(bytes))) yield parseJournalLine(line);
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at + HEAD_BYTES <= bytes.length;) {
    const body = at + HEAD_BYTES;
    const end = body + view.getUint32(at + 1, true);
    if (end > bytes.length) return;
    yield decodeRecord(bytes[at], bytes, view, body, end);
    at = end;
  }
}

/** Whether the journal ends inside a record (a write cut short). */
export function torn(bytes: Uint8Array): boolean {
  if (bytes[0] === JSON_OPEN) return bytes[bytes.length - 1] !== 0x0a;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at + HEAD_BYTES <= bytes.length) at += HEAD_BYTES + view.getUint32(at + 1, true);
  return at !== bytes.length;
}

function decodeRecord(
  kind: number,
  bytes: Uint8Array,
  view: DataView,
  body: number,
  end: number,
): JournalRecord {
  const text = () => decoder.decode(bytes.subarray(body, end));
  switch (kind) {
    case COUNTER:
      return decodeCounter(bytes, view, body, end);
    case RESET:
      return { kind: "reset", key: text() };
    case SENT:
      return { kind: "sent", id: text() };
    case ALERT: {
      let notice: unknown;
      try {
        notice = JSON.parse(text());
      } catch {
        return bad("bad alert");
      }
      return isNotice(notice) ? { kind: "alert", notice } : bad("bad alert");
    }
    default:
      return bad("unknown record kind");
  }
}

function decodeCounter(bytes: Uint8Array, view: DataView, body: number, end: number): JournalRecord {
  let at = body;
  const field = (): string | undefined => {
    if (at + 4 > end) return undefined;
    const length = view.getUint32(at, true);
    if (at + 4 + length > end) return undefined;
    const value = decoder.decode(bytes.subarray(at + 4, at + 4 + length));
    at += 4 + length;
    return value;
  };
  const limit = field();
  const key = field();
  if (limit === undefined || key === undefined || at + NUMBERS_BYTES > end) {
    return bad("short counter record");
  }
  const instance = bytes[at + 33] === 1 ? decoder.decode(bytes.subarray(at + NUMBERS_BYTES, end)) : null;
  // The snapshot's row form, checked as those are (store/state-rows.ts).
  const row = [
    key,
    view.getFloat64(at, true),
    view.getFloat64(at + 8, true),
    view.getFloat64(at + 16, true),
    bytes[at + 32],
    null,
    null,
    view.getFloat64(at + 24, true),
    instance,
  ];
  return { kind: "counter", limit, row };
}

const isNotice = (value: unknown): value is AlertNotice =>
  value !== null && typeof value === "object" && typeof (value as AlertNotice).id === "string";

const bad = (reason: string): JournalRecord => ({ kind: "bad", reason });

// An older version's journal: JSON lines.

/** One line of a JSON journal as a record; a line that is not one is a "bad" record, never an exception. */
export function parseJournalLine(line: string): JournalRecord {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return bad("not JSON");
  }
  if (!Array.isArray(record) || record.length !== 2 || typeof record[0] !== "string") {
    return bad("not a journal record");
  }
  const [what, value] = record;
  if (what === "!reset") return typeof value === "string" ? { kind: "reset", key: value } : bad("bad reset");
  if (what === "!sent") return typeof value === "string" ? { kind: "sent", id: value } : bad("bad sent");
  if (what === "!alert") return isNotice(value) ? { kind: "alert", notice: value } : bad("bad alert");
  return { kind: "counter", limit: what, row: value };
}

/** The complete lines of a JSON journal's text; a last line without its newline is left out. */
export function* journalLines(text: string): Generator<string> {
  let at = 0;
  for (let end = text.indexOf("\n"); end >= 0; end = text.indexOf("\n", at)) {
    if (end > at) yield text.slice(at, end);
    at = end + 1;
  }
}
