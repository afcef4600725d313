// The state file: counters and undelivered alerts, so a restart neither forgets a spammer's count nor
// mails the same alert twice. Written to a temporary file, fsynced, then renamed over the old one.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { type FileHandle, mkdir, open, rename, unlink } from "node:fs/promises";
import { setImmediate } from "node:timers";
import { dirname } from "node:path";
import type { AlertNotice } from "../policy/alert-notice.ts";
import type { AlertState, SenderCounter, Tally } from "../policy/sender-counter.ts";
import { JsonBytes } from "./json-bytes.ts";
import { readRegularFile } from "./regular-file.ts";
import { counterFromRow, MAX_FUTURE_MS, RefusedRows } from "./state-rows.ts";

const FORMAT = "mailpolicyd-state";
const VERSION = 1;

type Sighting = [string, number] | [string, number, number]; // [value, count, older?]: see visitTally

// [key, start, count, last, alert, subjects|null, clientIps|null, prev|null, instance|null]; rows from
// before prev and instance were kept simply end after clientIps (or alert).
type CounterRow = [
  string,
  number,
  number,
  number,
  AlertState,
  (Sighting[] | null)?,
  (Sighting[] | null)?,
  (number | null)?,
  (string | null)?,
];

export interface PersistedState {
  savedAt: number;
  /** The first journal generation whose records are newer than this snapshot (store/state-journal.ts). */
  journalFrom?: number;
  /**
   * Each limit's key as its counters were counted (LimitConfig.keyText): a restart with another key drops
   * them (actors/state-restore.ts). Absent in a file an older version wrote.
   */
  limitKeys?: Map<string, string>;
  tables: Map<string, Map<string, SenderCounter>>;
  outbox: AlertNotice[];
}

const COMMA = 0x2c;
const OPEN = 0x5b; // [
const CLOSE = 0x5d; // ]

// One visitor for every tally rather than a closure per row: the save visits a million of them.
let tallyOut: JsonBytes;
let tallyFirst = true;
// [value, count], or [value, count, older] for a sliding window's tally whose previous sub-window saw the
// value (`older` of the `count`): an older version reads the first two, the sum it would have kept.
const visitTally = (value: string, count: number, older: number) => {
  if (!tallyFirst) tallyOut.byte(COMMA);
  tallyOut.byte(OPEN).string(value).byte(COMMA).number(count);
  if (older !== 0) tallyOut.byte(COMMA).number(older);
  tallyOut.byte(CLOSE);
  tallyFirst = false;
};

function writeTally(out: JsonBytes, tally: Tally | undefined): void {
  out.byte(OPEN);
  tallyOut = out;
  tallyFirst = true;
  tally?.forEach(visitTally);
  out.byte(CLOSE);
}

/**
 * One counter as its row; the journal writes the same rows without the sightings (`sightings` false: the
 * subjects and client addresses are left out, `null` where a later field needs their places).
 */
export function writeCounter(out: JsonBytes, key: string, c: SenderCounter, sightings = true): void {
  out.byte(OPEN).string(key).byte(COMMA).number(c.start).byte(COMMA).number(c.count).byte(COMMA)
    .number(c.last).byte(COMMA).number(c.alert);
  const prev = c.prev ?? 0;
  const tallies = sightings && (c.subjects !== undefined || c.clientIps !== undefined);
  if (tallies || prev !== 0 || c.instance !== undefined) {
    if (tallies) {
      out.byte(COMMA);
      writeTally(out, c.subjects);
      out.byte(COMMA);
      writeTally(out, c.clientIps);
    } else out.raw(",null,null");
    if (prev !== 0 || c.instance !== undefined) {
      out.byte(COMMA).number(prev);
      if (c.instance !== undefined) out.byte(COMMA).string(c.instance);
    }
  }
  out.byte(CLOSE);
}

/**
 * Writes the state file's JSON into `out`, pausing (a yield) after every `sliceBytes` or more written since
 * the last pause, so that a writer can hand the bytes to the disk or let the event loop answer requests.
 */
export function* encodeState(state: PersistedState, out: JsonBytes, sliceBytes = Infinity): Generator<void> {
  out.raw(`{"format":"${FORMAT}","version":${VERSION},"savedAt":`).number(state.savedAt)
    .raw(`,"journalFrom":`).number(state.journalFrom ?? 0);
  // Before the rows, and the version unchanged: an older version reading this file takes it whole with
  // JSON.parse (its piecewise reader's head does not match) and ignores the field.
  if (state.limitKeys !== undefined) out.raw(`,"limitKeys":`).value(Object.fromEntries(state.limitKeys));
  out.raw(`,"limits":{`);
  let mark = out.length;
  let firstTable = true;
  for (const [name, table] of state.tables) {
    if (!firstTable) out.byte(COMMA);
    out.string(name).raw(":[");
    firstTable = false;
    let first = true;
    // Keys and counters from two iterators in step, not [key, counter] pairs: a pair is an array per entry,
    // and with a million keys that garbage (~90 MB, measured) lifted the daemon's RSS by a fifth at every
    // save. Both walk the same entry list (as the language defines Map iteration), so they stay in step
    // even when the table changes between slices; a lookup per key instead doubled the time of a save.
    const counters = table.values();
    for (const key of table.keys()) {
      if (!first) out.byte(COMMA);
      writeCounter(out, key, counters.next().value!);
      first = false;
      if (out.length - mark >= sliceBytes) {
        yield;
        mark = out.length; // the writer may have emptied `out` meanwhile
      }
    }
    out.byte(CLOSE);
  }
  out.raw(`},"outbox":`).value(state.outbox).raw("}");
}

export function serializeState(state: PersistedState): string {
  const out = new JsonBytes();
  for (const _ of encodeState(state, out)) { /* one slice: no pause */ }
  return new TextDecoder().decode(out.bytes());
}

/** A snapshot as read, its rows not yet made counters: the restore converts them a slice at a time. */
export interface Snapshot {
  savedAt: number;
  journalFrom: number;
  /** Each limit's key when saved; undefined for a file written before the state file held them. */
  limitKeys?: Map<string, string>;
  tables: [string, unknown[]][];
  outbox: AlertNotice[];
  /** The latest believable timestamp in its rows (store/state-rows.ts). */
  latest: number;
}

/**
 * The limitKeys object as read; undefined when the file has none. One that is not an object of strings makes
 * the file unusable, as limits that is not an object does: which rows to trust would be a guess.
 */
export function readLimitKeys(value: unknown): Map<string, string> | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error("limitKeys is not an object");
  }
  const keys = new Map<string, string>();
  for (const [name, key] of Object.entries(value)) {
    if (typeof key !== "string") throw new Error(`limitKeys: the key of ${name} is not a string`);
    keys.set(name, key);
  }
  return keys;
}

/** Parses the document and checks its shape; a file that fails here is unusable as a whole. */
export function parseSnapshot(text: string, now = Date.now()): Snapshot {
  const data = JSON.parse(text);
  if (data?.format !== FORMAT || data.version !== VERSION) {
    throw new Error(`not a ${FORMAT} v${VERSION} file`);
  }
  const limits = data.limits ?? {};
  if (typeof limits !== "object" || Array.isArray(limits)) throw new Error("limits is not an object");
  const tables = Object.entries(limits) as [string, unknown[]][];
  for (const [name, rows] of tables) {
    if (!Array.isArray(rows)) throw new Error(`limit ${name} holds no list of rows`);
  }
  const savedAt = Number.isSafeInteger(data.savedAt) && data.savedAt > 0 ? data.savedAt as number : 0;
  const journalFrom = Number.isSafeInteger(data.journalFrom) && data.journalFrom > 0 ? data.journalFrom : 0;
  const outbox = Array.isArray(data.outbox) ? data.outbox as AlertNotice[] : [];
  const limitKeys = readLimitKeys(data.limitKeys);
  const latest = Math.max(savedAt, now) + MAX_FUTURE_MS;
  return { savedAt, journalFrom, ...(limitKeys && { limitKeys }), tables, outbox, latest };
}

/** The whole state at once (tests, tools); the daemon restores through parseSnapshot in slices. */
export function parseState(text: string, now = Date.now()): PersistedState & { refused: RefusedRows } {
  const snapshot = parseSnapshot(text, now);
  const refused = new RefusedRows();
  const tables = new Map<string, Map<string, SenderCounter>>();
  for (const [name, rows] of snapshot.tables) {
    const table = new Map<string, SenderCounter>();
    for (const row of rows) {
      const counter = counterFromRow(row, snapshot.latest);
      if (typeof counter === "string") refused.add(counter);
      else table.set((row as CounterRow)[0], counter);
    }
    tables.set(name, table);
  }
  const { savedAt, journalFrom, limitKeys, outbox } = snapshot;
  return { savedAt, journalFrom, ...(limitKeys && { limitKeys }), tables, outbox, refused };
}

// 8 KB of serialising per slice (some 100 counters, ~30 µs even with 1e5 keys out of the CPU cache): the
// event loop answers requests in between. 32 KB slices put the p99 of a loaded daemon at ~0.8 ms, 8 KB at
// ~0.55 ms, as good as with no save at all (~0.55 ms).
const SLICE_BYTES = 8 * 1024;
// The disk gets the bytes in larger pieces: an async write per 8 KB slice cost more CPU than encoding it.
const FLUSH_BYTES = 256 * 1024;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) {
    offset += (await handle.write(bytes, offset, bytes.length - offset)).bytesWritten;
  }
}

export interface AsyncWriteResult {
  written: boolean; // false: cancelled, the file was left as it was
  busyMs: number; // time spent serialising on the event loop, without the waits for I/O
  bytes: number; // the file's size when written
}

/**
 * Writes the state without holding the event loop: rows are encoded into one reused buffer, a slice of
 * 8 KB (some 100 counters) per turn of the event loop, and written with async I/O every 256 KB, then
 * fsync and rename as writeStateFile does. With a million keys a single JSON.stringify and a synchronous
 * write would stall every answer for a large fraction of a second. `cancelled()` true (the actor stopped
 * meanwhile) abandons the write: the stop wrote a newer state.
 */
export async function writeStateFileAsync(
  path: string,
  state: PersistedState,
  cancelled: () => boolean,
): Promise<AsyncWriteResult> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.partial`;
  // Created anew ("wx" after removing a leftover), never opened as found: a FIFO there would block.
  await unlink(temporary).catch(() => {});
  const handle = await open(temporary, "wx", 0o640);
  const out = new JsonBytes(FLUSH_BYTES + SLICE_BYTES * 2);
  let complete = false;
  let busyMs = 0;
  let bytes = 0;
  try {
    let started = performance.now();
    for (const _ of encodeState(state, out, SLICE_BYTES)) {
      busyMs += performance.now() - started;
      if (out.length >= FLUSH_BYTES) {
        bytes += out.length;
        await writeAll(handle, out.bytes());
        out.clear();
      } else await nextTurn();
      if (cancelled()) return { written: false, busyMs, bytes };
      started = performance.now();
    }
    busyMs += performance.now() - started;
    bytes += out.length;
    await writeAll(handle, out.bytes());
    await handle.sync();
    complete = true;
  } finally {
    await handle.close();
    if (!complete) await unlink(temporary).catch(() => {});
  }
  if (cancelled()) {
    await unlink(temporary).catch(() => {});
    return { written: false, busyMs, bytes };
  }
  await rename(temporary, path);
  const directory = await open(dirname(path), "r");
  await directory.sync().finally(() => directory.close());
  return { written: true, busyMs, bytes };
}

export function writeStateFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.tmp`;
  removeLeftover(temporary);
  const fd = openSync(temporary, "wx", 0o640);
  let complete = false;
  try {
    // A full disk writes part of the bytes and says how many; only the next write fails (ENOSPC). One
    // writeSync would have renamed the cut-off file over the last good snapshot.
    const bytes = new TextEncoder().encode(text);
    for (let offset = 0; offset < bytes.length;) {
      offset += writeSync(fd, bytes, offset, bytes.length - offset);
    }
    fsyncSync(fd);
    complete = true;
  } finally {
    closeSync(fd);
    // The part written would hold the space a full disk lacks until the next save at stop.
    if (!complete) {
      try {
        unlinkSync(temporary);
      } catch { /* the write's own error is the one to report */ }
    }
  }
  renameSync(temporary, path);
  // The rename itself lives in the directory: sync it too, or a power cut can bring the old file back.
  const directory = openSync(dirname(path), "r");
  try {
    fsyncSync(directory);
  } finally {
    closeSync(directory);
  }
}

/** A temporary file left by a killed save; anything else there (a directory) makes the save fail. */
function removeLeftover(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

/**
 * The file's text, or undefined when there is none yet. Other read errors are thrown, and so is
 * NotRegularFileError for a FIFO, a directory or a device (store/regular-file.ts). A leading byte order mark
 * is dropped, as the config's is (config/ini.ts): an editor that saves one (Notepad, through a share) left a
 * file JSON.parse refuses, moved aside with every count in it.
 */
export function readStateFile(path: string): string | undefined {
  try {
    return readRegularFile(path).replace(/^\uFEFF/, "");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}
