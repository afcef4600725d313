// The journal: every counter change between two snapshots, appended to `state_file.journal-N` a batch at
// a time, so that a kill -9 loses a fraction of a second of counting rather than everything since the last
// snapshot (with a million keys a snapshot takes long enough under load that saves come a minute apart).
//
// The request path writes each counter it changed, as it is then, into a buffer (a counter among the four
// written last is only marked, and written again when it leaves them); every FLUSH_MS the counters actor
// appends the buffer with one write.
// Records (store/journal-codec.ts) are a counter's whole state but its sightings (the subjects and client
// addresses an alert lists), a reset, an alert queued and an alert delivered, so replaying a generation
// over a snapshot in order leaves every key's count as its last record says. The sightings were most of
// the journal's cost (a tally of up to 50 addresses per row: docs/decisions.md, "The journal's price"); a
// restore takes them from the snapshot's row while the window is the same (actors/state-restore.ts), and
// loses those seen since the snapshot.
//
// Generations tie the journal to the snapshots: a snapshot starts by rotating to generation N+1 and records
// `journalFrom: N+1`; the changes it may have missed (its rows are taken over seconds, a slice at a time)
// are all in N+1 or later. Once it is renamed into place, generations before N+1 are deleted. A restore
// replays the generations from the snapshot's journalFrom on. When a reload moves state_file, the journal
// goes on past any generation already beside the new path (followMove), so that one left there by an
// earlier period is older than the next snapshot there and goes with the older ones.
import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  openSync,
  readdirSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname } from "node:path";
import { setImmediate } from "node:timers";
import type { AlertNotice } from "../policy/alert-notice.ts";
import type { SenderCounter } from "../policy/sender-counter.ts";
import { JournalBytes } from "./journal-codec.ts";

/** How often the touched counters are written: what a kill -9 loses at most, beside the write itself. */
export const FLUSH_MS = 200;

// What a noted triple that is not a counter's holds (limit names cannot start with "!").
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

export interface Journal {
  /** The request path: a counter was changed (or created) under `key` in limit `limit`, and is done with. */
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
  /** Bytes appended to the journal's files since it was made (the snapshots' pacing reads it). */
  readonly bytesWritten: number;
  /** The last write failed: what it held is only in memory, for the next snapshot. */
  readonly failing: boolean;
  /**
   * Writes that failed since the journal was made. Their records are lost from the files even once the
   * writes succeed again: only a snapshot begun after the failure holds them.
   */
  readonly failures: number;
}

const SLICE_BYTES = 8 * 1024;
const WRITE_BYTES = 256 * 1024;

/** `stateFile` may be a function: a reload may move state_file, and the journal follows it. */
export function createJournal(
  stateFile: string | (() => string),
  firstGeneration: number,
  onError: (error: Error) => void,
  onRecovered: (failedWrites: number) => void = () => {},
): Journal {
  const stateFileNow = typeof stateFile === "string" ? () => stateFile : stateFile;
  let generation = firstGeneration;
  let followed = stateFileNow(); // the state file the generations are counted beside
  let fd: number | undefined;
  let openPath = "";
  let held = false;
  let failing = false;
  let failures = 0;
  let failuresAtStart = 0; // `failures` when the current run of them began
  let bytesWritten = 0;
  // A counter is written when it is touched, while the request that touched it has it in the CPU's cache:
  // written 200 ms later, from a table of 1e5 keys, each row cost ~650 ns in cache misses (the counter,
  // its key) against ~200 ns at once (docs/decisions.md, "The journal writes a counter when it is
  // touched"). The bytes wait in `out` for the next flush.
  //
  // While held (a restore) and until what was held is written, touches are only noted, as flat triples
  // (what, key, counter), and written later as the counters are then: the restore may still add the saved
  // count to them. Two arrays, swapped at each batch: requests fill one while the other is encoded. Each is
  // filled from slot 0 again, so it keeps its room (no regrowth per batch); slots past the end keep old
  // values until overwritten, a bounded leftover.
  let touched: unknown[] = [];
  let filled = 0;
  let batch: unknown[] = [];
  let batchEnd = 0;
  let batchAt = 0;
  let encoding = false;
  let closed = false;
  const out = new JournalBytes(1024 * 1024);
  // The counters written last: a hot key (or a hot request's few limits) touched again is only marked
  // `dirty`, and written once more when it leaves these slots or at the flush, rather than once per
  // request. Four slots, compared in turn: a Set lookup per counter cost ~100 ns in a batch of distinct
  // keys, where it saves nothing.
  const recent: (SenderCounter | undefined)[] = [undefined, undefined, undefined, undefined];
  const recentWhat = ["", "", "", ""];
  const recentKey = ["", "", "", ""];
  const dirty = [false, false, false, false];
  let recentAt = 0;

  const writeOther = (what: string, value: unknown) => {
    if (what === RESET) out.reset(value as string);
    else if (what === ALERT) out.alert(value as AlertNotice);
    else out.sent(value as string);
  };

  const slotOf = (counter: SenderCounter) =>
    recent[0] === counter
      ? 0
      : recent[1] === counter
      ? 1
      : recent[2] === counter
      ? 2
      : recent[3] === counter
      ? 3
      : -1;

  /** Takes a slot among the recent counters for `counter` (just written), writing the one it held if dirty. */
  const remember = (what: string, key: string, counter: SenderCounter) => {
    const slot = recentAt;
    if (dirty[slot]) out.counter(recentWhat[slot], recentKey[slot], recent[slot]!);
    recent[slot] = counter;
    recentWhat[slot] = what;
    recentKey[slot] = key;
    dirty[slot] = false;
    recentAt = (slot + 1) & 3;
  };

  /** Writes the recent counters touched since they were written; `forget` empties the slots as well. */
  const settle = (forget: boolean) => {
    for (let slot = 0; slot < 4; slot++) {
      if (dirty[slot]) out.counter(recentWhat[slot], recentKey[slot], recent[slot]!);
      dirty[slot] = false;
      if (forget) recent[slot] = undefined;
    }
  };

  const note = (what: string, key: unknown, counter: SenderCounter | undefined) => {
    touched[filled] = what;
    touched[filled + 1] = key;
    touched[filled + 2] = counter;
    filled += 3;
  };

  /** Writes a record other than a counter's, in order: after every counter touched before it. */
  const other = (what: string, value: unknown) => {
    if (closed) return;
    if (held || encoding || filled !== 0) return note(what, value, undefined);
    settle(false);
    writeOther(what, value);
  };

  const touchedCounter = (what: string, key: string, counter: SenderCounter) => {
    if (closed) return;
    if (held || encoding || filled !== 0) return note(what, key, counter);
    const slot = slotOf(counter);
    if (slot >= 0) dirty[slot] = true;
    else {
      out.counter(what, key, counter);
      remember(what, key, counter);
    }
  };

  /** Encodes the noted batch from batchAt on, until `stopAt` bytes are in `out` or the batch is done. */
  const encode = (stopAt: number): void => {
    let i = batchAt;
    for (; i < batchEnd && out.length < stopAt; i += 3) {
      const what = batch[i] as string;
      const value = batch[i + 2];
      if (value !== undefined) {
        // A counter touched again soon after is written once, as it is now (all records are whole states).
        const counter = value as SenderCounter;
        if (slotOf(counter) >= 0) continue;
        out.counter(what, batch[i + 1] as string, counter);
        remember(what, batch[i + 1] as string, counter);
      } else writeOther(what, batch[i + 1]);
    }
    batchAt = i;
  };

  const startBatch = (): boolean => {
    if (filled === 0) return false;
    [batch, touched] = [touched, batch];
    batchEnd = filled;
    batchAt = 0;
    filled = 0;
    settle(true); // the batch's own encoding skips the counters in these slots
    return true;
  };

  // 8 KB (some 100 rows) per turn of the event loop, as the snapshot does (store/state-file.ts): a batch
  // of 8 000 counters encoded at once held every answer for 3-4 ms. The disk gets the bytes per 256 KB.
  // Touches noted meanwhile make the next batch at once: the batches shrink (a turn encodes more than its
  // requests touch) until none is left, and counters are again written when touched.
  const encodeSlice = (): void => {
    if (closed) return;
    encode(out.length + SLICE_BYTES);
    if (out.length >= WRITE_BYTES || batchAt >= batchEnd) write();
    if (batchAt < batchEnd || (!held && startBatch())) setImmediate(encodeSlice);
    else encoding = false;
  };

  /** The batch under way, everything noted since and the dirty recent counters, at once (rotation). */
  const encodeAll = (): void => {
    do encode(Infinity); while (startBatch());
    settle(false);
    encoding = false;
    write();
  };

  // A reload moved state_file: journals beside the new path that this run did not write there (an earlier
  // period's, from a run or a stay there before) may have generations from the one it writes next on, and
  // a restore would replay them over the next snapshot there, stale counts and reset keys with them.
  // Writing from past the last of them makes them older than that snapshot's journalFrom: not replayed,
  // and deleted once it is in place (dropBefore), as this run's older generations are.
  const followMove = (): void => {
    const now = stateFileNow();
    if (now === followed) return;
    followed = now;
    const last = journalGenerations(now).at(-1);
    if (last !== undefined && last >= generation) generation = last + 1;
  };

  const write = (): void => {
    if (out.length === 0) return;
    followMove();
    let before: number | undefined; // the file's length before this write
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
      before = fstatSync(fd).size;
      for (let offset = 0; offset < bytes.length;) offset += writeSync(fd, bytes, offset);
      bytesWritten += bytes.length;
      if (failing) onRecovered(failures - failuresAtStart);
      failing = false;
    } catch (error) {
      // A full disk takes part of a write before the rest fails: a record cut off there, with the records
      // of later writes appended after it, would make all of those unreadable. Take the part back. A file
      // this write began goes whole: each failed snapshot rotates, and on a full disk every state_interval
      // (5 s) left an empty generation behind, 17 280 files a day for a restart to open.
      if (fd !== undefined && before !== undefined) {
        try {
          if (before === 0) {
            closeFile();
            unlinkSync(openPath);
          } else ftruncateSync(fd, before);
        } catch { /* the restore leaves out a last record cut short */ }
      }
      // Logged once per run of failures, and its end (onRecovered); what was lost is still in memory for
      // the next snapshot.
      if (!failing) {
        onError(error as Error);
        failuresAtStart = failures;
      }
      failing = true;
      failures++;
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
    touched: touchedCounter,
    reset(key) {
      other(RESET, key);
    },
    alert(notice) {
      other(ALERT, notice);
    },
    sent(id) {
      other(SENT, id);
    },
    flush() {
      if (held || encoding || closed) return;
      if (startBatch()) {
        encoding = true;
        encodeSlice();
      } else {
        settle(false);
        write();
      }
    },
    hold(value) {
      if (value) settle(true); // written before anything held
      held = value;
    },
    startAt(value) {
      closeFile();
      generation = value;
    },
    rotate() {
      encodeAll();
      closeFile();
      followMove(); // also when nothing was written since the move
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
    get bytesWritten() {
      return bytesWritten;
    },
    get failing() {
      return failing;
    },
    get failures() {
      return failures;
    },
  };
}
