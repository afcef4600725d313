// The journal: every counter change between two snapshots, appended to `state_file.journal-N` a batch at
// a time, so that a kill -9 loses a fraction of a second of counting rather than everything since the last
// snapshot (with a million keys a snapshot takes long enough under load that saves come a minute apart).
//
// The request path only remembers what it touched (three array slots per counter); every FLUSH_MS the
// counters actor encodes each touched counter once, as it is then, and appends the batch with one write.
// Lines are the snapshot's own rows, `["limit",[key,start,count,…]]`, plus `["!reset",key]`,
// `["!alert",notice]` and `["!sent",id]`; each record carries a counter's whole state but its sightings
// (the subjects and client addresses an alert lists), so replaying a generation over a snapshot in order
// leaves every key's count as its last record says. The sightings were most of the journal's cost (a
// tally of up to 50 addresses per row: docs/decisions.md, "The journal's price"); a restore takes them
// from the snapshot's row while the window is the same (actors/state-restore.ts), and loses those seen
// since the snapshot.
//
// Generations tie the journal to the snapshots: a snapshot starts by rotating to generation N+1 and records
// `journalFrom: N+1`; the changes it may have missed (its rows are taken over seconds, a slice at a time)
// are all in N+1 or later. Once it is renamed into place, generations before N+1 are deleted. A restore
// replays the generations from the snapshot's journalFrom on.
import { closeSync, constants, openSync, readdirSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname } from "node:path";
import { setImmediate } from "node:timers";
import type { AlertNotice } from "../policy/alert-notice.ts";
import type { SenderCounter } from "../policy/sender-counter.ts";
import { JsonBytes } from "./json-bytes.ts";
import { writeCounter } from "./state-file.ts";

/** How often the touched counters are written: what a kill -9 loses at most, beside the write itself. */
export const FLUSH_MS = 200;

const RESET = "!reset";
const ALERT = "!alert";
const SENT = "!sent";

export const journalPath = (stateFile: string, generation: number) => `${stateFile}.journal-${generation}`;

/** The journal generations beside the state file, in ascending order. */
export function journalGenerations(stateFile: string): number[] {
  const prefix = `${basename(stateFile)}.journal-`;
  let names: string[];
  try {
    names = readdirSync(dirname(stateFile));
  } catch {
    return [];
  }
  return names.filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)))
    .map((name) => Number(name.slice(prefix.length)))
    .sort((a, b) => a - b);
}

export type JournalRecord =
  | { kind: "counter"; limit: string; row: unknown }
  | { kind: "reset"; key: string }
  | { kind: "alert"; notice: AlertNotice }
  | { kind: "sent"; id: string }
  | { kind: "bad"; reason: string };

/** One line of a journal as a record; a line that is not one is a "bad" record, never an exception. */
export function parseJournalLine(line: string): JournalRecord {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return { kind: "bad", reason: "not JSON" };
  }
  if (!Array.isArray(record) || record.length !== 2 || typeof record[0] !== "string") {
    return { kind: "bad", reason: "not a journal record" };
  }
  const [what, value] = record;
  if (what === RESET) return typeof value === "string" ? { kind: "reset", key: value } : bad("bad reset");
  if (what === SENT) return typeof value === "string" ? { kind: "sent", id: value } : bad("bad sent");
  if (what === ALERT) {
    return value && typeof value === "object" && typeof value.id === "string"
      ? { kind: "alert", notice: value as AlertNotice }
      : bad("bad alert");
  }
  return { kind: "counter", limit: what, row: value };
}

const bad = (reason: string): JournalRecord => ({ kind: "bad", reason });

/**
 * The complete lines of a journal's text, a generator so that a restore can take them a slice at a time.
 * A last line without its newline is a write cut short by the kill: it is left out (see `torn`).
 */
export function* journalLines(text: string): Generator<string> {
  let at = 0;
  for (let end = text.indexOf("\n"); end >= 0; end = text.indexOf("\n", at)) {
    if (end > at) yield text.slice(at, end);
    at = end + 1;
  }
}

/** Whether the journal's text ends inside a line (a write cut short). */
export const torn = (text: string) => text.length > 0 && !text.endsWith("\n");

export interface Journal {
  /** The request path: a counter was changed (or created) under `key` in limit `limit`. */
  touched(limit: string, key: string, counter: SenderCounter): void;
  reset(key: string): void;
  alert(notice: AlertNotice): void;
  sent(id: string): void;
  /** Appends what was touched since the last flush; nothing while held. */
  flush(): void;
  /**
   * While a restore runs: keep what is touched, write nothing. A record of a key not yet restored holds
   * only what was counted since the start, and replayed after a second crash it would replace the saved
   * count; once the restore has added the two, the record is written with the sum.
   */
  hold(held: boolean): void;
  /** The generation to write from (the restore says which: after every one it found). */
  startAt(generation: number): void;
  /** Flushes into the current generation and starts the next; returns the new generation. */
  rotate(): number;
  /** Deletes the files of every generation before `generation` (a snapshot holds their changes). */
  dropBefore(generation: number): void;
  close(): void;
}

const SLICE_BYTES = 8 * 1024;
const WRITE_BYTES = 256 * 1024;
const NEWLINE = 0x0a;
const COMMA = 0x2c;
const OPEN = 0x5b;
const CLOSE = 0x5d;

/** `stateFile` may be a function: a reload may move state_file, and the journal follows it. */
export function createJournal(
  stateFile: string | (() => string),
  firstGeneration: number,
  onError: (error: Error) => void,
): Journal {
  const stateFileNow = typeof stateFile === "string" ? () => stateFile : stateFile;
  let generation = firstGeneration;
  let fd: number | undefined;
  let openPath = "";
  let held = false;
  let failing = false;
  // Flat triples (what, key, counter): no object per request. `what` is a limit name or RESET/ALERT/SENT.
  // Two arrays, swapped at each flush: requests fill one while the other is encoded. Each is filled from
  // slot 0 again, so it keeps its room (no regrowth per batch); slots past the end keep old values until
  // overwritten, a bounded leftover.
  let touched: unknown[] = [];
  let filled = 0;
  let batch: unknown[] = [];
  let batchEnd = 0;
  let batchAt = 0;
  let encoding = false;
  let closed = false;
  const out = new JsonBytes(1024 * 1024);
  // The counters written last: a hot key (or a hot request's few limits) is written once per batch without
  // a Set lookup per entry, which cost ~100 ns each in a batch of distinct keys, where it saves nothing.
  const recent: (SenderCounter | undefined)[] = [undefined, undefined, undefined, undefined];
  let recentAt = 0;

  const note = (what: string, key: unknown, counter: SenderCounter | undefined) => {
    touched[filled] = what;
    touched[filled + 1] = key;
    touched[filled + 2] = counter;
    filled += 3;
  };

  /** Encodes the batch from batchAt on, until `stopAt` bytes are in `out` or the batch is done. */
  const encode = (stopAt: number): void => {
    let i = batchAt;
    for (; i < batchEnd && out.length < stopAt; i += 3) {
      const what = batch[i] as string;
      const value = batch[i + 2];
      if (value !== undefined) {
        // A counter touched again soon after is written once, as it is now (all records are whole states).
        const counter = value as SenderCounter;
        if (
          recent[0] === counter || recent[1] === counter || recent[2] === counter || recent[3] === counter
        ) {
          continue;
        }
        recent[recentAt] = counter;
        recentAt = (recentAt + 1) & 3;
        out.byte(OPEN).string(what).byte(COMMA);
        writeCounter(out, batch[i + 1] as string, counter, false);
      } else {
        out.byte(OPEN).string(what).byte(COMMA).value(batch[i + 1]);
      }
      out.byte(CLOSE).byte(NEWLINE);
    }
    batchAt = i;
  };

  const startBatch = (): boolean => {
    if (filled === 0) return false;
    [batch, touched] = [touched, batch];
    batchEnd = filled;
    batchAt = 0;
    filled = 0;
    recent.fill(undefined);
    return true;
  };

  // 8 KB (some 100 rows) per turn of the event loop, as the snapshot does (store/state-file.ts): a batch
  // of 8 000 counters encoded at once held every answer for 3-4 ms. The disk gets the bytes per 256 KB.
  const encodeSlice = (): void => {
    if (closed) return;
    encode(out.length + SLICE_BYTES);
    if (out.length >= WRITE_BYTES || batchAt >= batchEnd) write();
    if (batchAt < batchEnd) setImmediate(encodeSlice);
    else encoding = false;
  };

  /** The batch under way and everything touched since, at once (rotation, close). */
  const encodeAll = (): void => {
    do encode(Infinity); while (startBatch());
    encoding = false;
    write();
  };

  const write = (): void => {
    if (out.length === 0) return;
    try {
      // O_NONBLOCK: if something not ours sits at the path, a FIFO without a reader fails (ENXIO) instead
      // of blocking; on a regular file the flag changes nothing.
      const path = journalPath(stateFileNow(), generation);
      if (fd !== undefined && path !== openPath) closeFile();
      if (fd === undefined) {
        fd = openSync(
          path,
          constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK,
          0o640,
        );
        openPath = path;
      }
      const bytes = out.bytes();
      for (let offset = 0; offset < bytes.length;) offset += writeSync(fd, bytes, offset);
      failing = false;
    } catch (error) {
      // Logged once per run of failures; what was lost is still in memory for the next snapshot.
      if (!failing) onError(error as Error);
      failing = true;
    } finally {
      out.clear();
    }
  };

  const closeFile = () => {
    if (fd === undefined) return;
    try {
      closeSync(fd);
    } catch { /* nothing left to lose */ }
    fd = undefined;
  };

  return {
    touched: note,
    reset(key) {
      note(RESET, key, undefined);
    },
    alert(notice) {
      note(ALERT, notice, undefined);
    },
    sent(id) {
      note(SENT, id, undefined);
    },
    flush() {
      if (held || encoding || closed || !startBatch()) return;
      encoding = true;
      encodeSlice();
    },
    hold(value) {
      held = value;
    },
    startAt(value) {
      closeFile();
      generation = value;
    },
    rotate() {
      encodeAll();
      closeFile();
      return ++generation;
    },
    dropBefore(first) {
      const stateFile = stateFileNow();
      for (const old of journalGenerations(stateFile)) {
        if (old >= first) break;
        try {
          unlinkSync(journalPath(stateFile, old));
        } catch { /* gone already */ }
      }
    },
    close() {
      closed = true;
      closeFile();
    },
  };
}
