// The state file: counters and undelivered alerts, so a restart neither forgets a spammer's count nor
// mails the same alert twice. Written to a temporary file, fsynced, then renamed over the old one.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { mkdir, open, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import type { AlertNotice } from "../policy/alert-notice.ts";
import { type AlertState, type SenderCounter, Tally } from "../policy/sender-counter.ts";

const FORMAT = "mailpolicyd-state";
const VERSION = 1;

// [key, start, count, last, alert, subjects|null, clientIps|null, prev|null, instance|null]; rows from
// before prev and instance were kept simply end after clientIps (or alert).
type CounterRow = [
  string,
  number,
  number,
  number,
  AlertState,
  ([string, number][] | null)?,
  ([string, number][] | null)?,
  (number | null)?,
  (string | null)?,
];

export interface PersistedState {
  savedAt: number;
  tables: Map<string, Map<string, SenderCounter>>;
  outbox: AlertNotice[];
}

const tally = (seen: Tally | undefined) => seen ? JSON.stringify([...seen]) : "[]";

// Written by hand rather than JSON.stringify of an array: one string per counter instead of an array and
// a string, which mattered when a million counters are saved every few seconds.
function counterRow(key: string, c: SenderCounter): string {
  let row = `[${JSON.stringify(key)},${c.start},${c.count},${c.last},${c.alert}`;
  const prev = c.prev ?? 0;
  if (c.seen || prev !== 0 || c.instance !== undefined) {
    row += c.seen ? `,${tally(c.seen.subjects)},${tally(c.seen.clientIps)}` : ",null,null";
    if (prev !== 0 || c.instance !== undefined) {
      row += `,${prev}${c.instance === undefined ? "" : `,${JSON.stringify(c.instance)}`}`;
    }
  }
  return `${row}]`;
}

/** The state file's JSON text in pieces, one per counter, so a writer can pause between them. */
export function* stateFragments(state: PersistedState): Generator<string> {
  yield `{"format":"${FORMAT}","version":${VERSION},"savedAt":${state.savedAt},"limits":{`;
  let firstTable = true;
  for (const [name, table] of state.tables) {
    yield `${firstTable ? "" : ","}${JSON.stringify(name)}:[`;
    firstTable = false;
    let first = true;
    for (const [key, counter] of table) {
      yield first ? counterRow(key, counter) : `,${counterRow(key, counter)}`;
      first = false;
    }
    yield "]";
  }
  yield `},"outbox":${JSON.stringify(state.outbox)}}`;
}

export function serializeState(state: PersistedState): string {
  return [...stateFragments(state)].join("");
}

export function parseState(text: string): PersistedState {
  const data = JSON.parse(text);
  if (data?.format !== FORMAT || data.version !== VERSION) {
    throw new Error(`not a ${FORMAT} v${VERSION} file`);
  }
  const tables = new Map<string, Map<string, SenderCounter>>();
  for (const [name, rows] of Object.entries(data.limits ?? {}) as [string, CounterRow[]][]) {
    const table = new Map<string, SenderCounter>();
    for (const [key, start, count, last, alert, subjects, clientIps, prev, instance] of rows) {
      if (typeof key !== "string" || !Number.isFinite(start) || !Number.isFinite(count)) {
        throw new Error(`bad counter row in limit ${name}`);
      }
      const counter: SenderCounter = { start, count, last, alert };
      if (subjects || clientIps) {
        counter.seen = { subjects: Tally.from(subjects ?? []), clientIps: Tally.from(clientIps ?? []) };
      }
      if (typeof prev === "number" && Number.isFinite(prev) && prev !== 0) counter.prev = prev;
      if (typeof instance === "string") counter.instance = instance;
      table.set(key, counter);
    }
    tables.set(name, table);
  }
  const outbox = Array.isArray(data.outbox) ? data.outbox as AlertNotice[] : [];
  return { savedAt: Number(data.savedAt) || 0, tables, outbox };
}

// About half a millisecond of serialising per slice: the event loop answers requests in between.
const SLICE_BYTES = 128 * 1024;
const encoder = new TextEncoder();

export interface AsyncWriteResult {
  written: boolean; // false: cancelled, the file was left as it was
  busyMs: number; // time spent serialising on the event loop, without the waits for I/O
}

/**
 * Writes the state without holding the event loop: rows are encoded into one reused buffer and each
 * full buffer (128 KB, some 1500 counters) is written with async I/O, then fsync and rename as
 * writeStateFile does. With a million keys a single JSON.stringify and a synchronous write would stall
 * every answer for a large fraction of a second; joining strings per slice made ~60 MB of garbage.
 * `cancelled()` true (the actor stopped meanwhile) abandons the write: the stop wrote a newer state.
 */
export async function writeStateFileAsync(
  path: string,
  fragments: Iterable<string>,
  cancelled: () => boolean,
): Promise<AsyncWriteResult> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.partial`;
  const handle = await open(temporary, "w", 0o640);
  const buffer = new Uint8Array(SLICE_BYTES);
  let complete = false;
  let busyMs = 0;
  try {
    let used = 0;
    let started = performance.now();
    for (const fragment of fragments) {
      // A fragment is encoded whole or not at all: a row must not be split inside a multi-byte character.
      let { read, written } = encoder.encodeInto(fragment, buffer.subarray(used));
      if (read < fragment.length) {
        busyMs += performance.now() - started;
        await handle.write(buffer, 0, used);
        if (cancelled()) return { written: false, busyMs };
        started = performance.now();
        used = 0;
        if (fragment.length * 3 > buffer.length) {
          await handle.write(fragment); // a row bigger than the buffer: rare (huge subjects), write it alone
          continue;
        }
        ({ written } = encoder.encodeInto(fragment, buffer));
      }
      used += written;
    }
    busyMs += performance.now() - started;
    await handle.write(buffer, 0, used);
    await handle.sync();
    complete = true;
  } finally {
    await handle.close();
    if (!complete) await unlink(temporary).catch(() => {});
  }
  if (cancelled()) {
    await unlink(temporary).catch(() => {});
    return { written: false, busyMs };
  }
  await rename(temporary, path);
  const directory = await open(dirname(path), "r");
  await directory.sync().finally(() => directory.close());
  return { written: true, busyMs };
}

export function writeStateFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, "w", 0o640);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
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

/** The file's text, or undefined when there is none yet. Other read errors are thrown. */
export function readStateFile(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}
