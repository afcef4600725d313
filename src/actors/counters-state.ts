// The counters' state file for the counters actor: the restore at start (in slices while the daemon
// answers), the journal between snapshots, a snapshot in the background when one is due (checked every
// state_interval: store/save-pacing.ts), and the last one at stop. The memory store provides `adopt` and
// `snapshotTables`; the outbox its notices.
import type { Config } from "../config/types.ts";
import type { Logger } from "../log.ts";
import { serializeState, writeStateFile, writeStateFileAsync } from "../store/state-file.ts";
import { createJournal, type Journal, journalGenerations, journalPath } from "../store/state-journal.ts";
import { setAside } from "../store/set-aside.ts";
import { RefusedRows } from "../store/state-rows.ts";
import type { MemoryStore } from "../limits/memory-store.ts";
import type { AlertOutbox } from "./alert-outbox.ts";
import { restoreState, type RestoreSummary } from "./state-restore.ts";
import { setImmediate } from "node:timers";
import { nextSaveAt, snapshotDue } from "../store/save-pacing.ts";

export interface CountersStateOptions {
  config: () => Config;
  log: Logger;
  now: () => number;
  fail: (error: unknown) => void;
  /** The restore is done (the memory store holds what the state file held). */
  restored?: () => void;
}

/** Whether the counters reach the disk: `status` and /metrics show it (a full disk loses them at a restart). */
export interface StateWrites {
  /** A save or a journal write failed, and none of that kind has been written since. */
  failing: boolean;
  /** While failing: when it began (epoch ms), the saves failed since, the last error. */
  since?: number;
  failedSaves: number;
  error?: string;
}

export interface CountersState {
  readonly journal: Journal;
  /** How the last saves and journal writes went. */
  writes(): StateWrites;
  /** While the state file is being restored: the keys back in memory so far (show and top miss the rest). */
  restoring(): { keysSoFar: number } | undefined;
  /** Binds the store and outbox (made with this journal) and starts the restore. */
  start(store: MemoryStore, outbox: AlertOutbox): void;
  /** Something changed that the next snapshot must hold. */
  changed(): void;
  /** The key was reset (in `removed` limits): journalled, and not brought back by a restore under way. */
  keyReset(key: string, removed: number): void;
  /** A snapshot at the next chance (a new state_file). */
  saveSoon(): void;
  /** Every state_interval: a snapshot in the background if something changed and one is due. */
  saveInBackground(): void;
  /** At stop: the last snapshot, synchronous and complete. */
  stop(reason: string): void;
}

// The restore runs this long per turn of the event loop.
const RESTORE_SLICE_MS = 8;

export function createCountersState(options: CountersStateOptions): CountersState {
  const { log, now, fail } = options;
  const stateFile = () => options.config().daemon.stateFile;
  let store: MemoryStore;
  let outbox: AlertOutbox;
  let dirty = false;
  let saving = false;
  let stopped = false;
  let earliestSave = 0; // performance.now() ms
  // The last snapshot this run: its size, when it began, the journal's bytes then. None yet: one is due.
  let snapshotBytes: number | undefined;
  let snapshotBegan = 0;
  let journalAtSnapshot = 0;
  // Journal writes that failed before the last snapshot written began: that snapshot holds what they lost.
  let failuresCovered = 0;
  let soonAsked = 0; // saveSoon calls: one during a save is not undone by that save's end

  // Snapshots that failed since the last one written: one incident, logged when it begins (an error) and
  // when it ends. A full disk fails a save every state_interval, and a line each time said nothing new, and
  // nothing said when the disk had room again.
  let failedSaves = 0;
  let savesFailingSince: number | undefined;
  let journalFailingSince: number | undefined;
  let lastWriteError: string | undefined;

  // Counter changes between snapshots (store/state-journal.ts); the request path only notes what it
  // touched, and a timer writes it every FLUSH_MS.
  const journal = createJournal(
    stateFile,
    1,
    (error) => {
      journalFailingSince = now();
      lastWriteError = error.message;
      log.error("counters", "cannot write the state journal", { file: stateFile(), error: error.message });
    },
    (failedWrites) => {
      journalFailingSince = undefined;
      log.info("counters", "state journal written again", { file: stateFile(), failed_writes: failedWrites });
    },
  );

  // The restore runs in slices while the daemon answers (actors/state-restore.ts); no snapshot until it
  // is done, or the snapshot would miss what is not restored yet.
  let restoring: Generator<void, RestoreSummary> | undefined;
  let restoreDone = false;
  const restoreBegan = performance.now();
  const resetWhileRestoring = new Set<string>(); // a reset must not be undone by the restore
  // Rows of limits the config no longer has (renamed, removed): dropped, and said so, since the next
  // snapshot no longer holds them.
  const notConfigured = new Map<string, number>();

  const restored = (summary: RestoreSummary) => {
    restoring = undefined;
    restoreDone = true;
    resetWhileRestoring.clear();
    journal.startAt(summary.nextGeneration);
    journal.hold(false);
    dirty = true;
    earliestSave = 0; // a snapshot soon, so the journals replayed can go
    snapshotBytes = undefined;
    outbox.bound(options.config().alertQueue.outboxMax);
    log.info("counters", "state restored", {
      keys: summary.keys,
      beyond_max_keys: store.beyondMaxKeys || undefined,
      pending_alerts: outbox.size,
      journal_records: summary.journalRecords,
      refused_rows: summary.refused.total || undefined,
      ms: Math.round(performance.now() - restoreBegan),
    });
    if (notConfigured.size > 0) {
      log.warn("counters", "state rows of limits not in the config dropped (a limit renamed or removed?)", {
        rows: [...notConfigured].map(([name, rows]) => `${name}: ${rows}`).join(", "),
      });
      notConfigured.clear();
    }
    options.restored?.();
  };
  // A restore that throws half way (a row or record its code cannot take) must not take counting down:
  // failing the actor restarted it into the same throw, and without a finished restore no snapshot was ever
  // written, so every count since the start was lost at stop. Instead the files it was reading are set
  // aside as unusable ones are (store/set-aside.ts), for a human, and the daemon counts on with what was
  // restored before the throw; the next snapshot starts a new file. If they cannot be set aside, no
  // snapshot is written over them (nor are their journals deleted): memory holds less than they do.
  let restoringFile = "";
  let keepFiles = false;
  let adoptedKeys = 0; // by the restore so far
  const restoreFailed = (error: unknown) => {
    restoring = undefined;
    const at = now();
    const generations = journalGenerations(restoringFile);
    const movedTo: string[] = [];
    try {
      for (const path of [restoringFile, ...generations.map((n) => journalPath(restoringFile, n))]) {
        const aside = setAside(path, at);
        if (aside) movedTo.push(aside);
      }
    } catch (asideError) {
      keepFiles = true;
      log.error("counters", "cannot move the state file aside: no snapshot is written over it", {
        file: restoringFile,
        error: (asideError as Error).message,
      });
    }
    log.error("counters", "state restore failed, its files moved aside; counting goes on without the rest", {
      file: restoringFile,
      moved_to: movedTo.join(",") || undefined,
      error: error instanceof Error ? error.message : String(error),
    });
    restored({
      keys: adoptedKeys,
      journalRecords: 0,
      refused: new RefusedRows(),
      nextGeneration: Math.max(0, ...generations) + 1,
    });
  };
  /** Runs the restore for up to `budgetMs`; to its end when budgetMs is Infinity (at stop). */
  const restoreSome = (budgetMs: number) => {
    if (!restoring) return;
    const until = performance.now() + budgetMs;
    for (;;) {
      let step: IteratorResult<void, RestoreSummary>;
      try {
        step = restoring.next();
      } catch (error) {
        return restoreFailed(error);
      }
      if (step.done) return restored(step.value);
      if (performance.now() >= until) return;
    }
  };
  const restoreInSlices = () => {
    try {
      restoreSome(RESTORE_SLICE_MS);
    } catch (error) {
      restoring = undefined;
      fail(error); // not the restore's files: what takes its result in (restored)
      return;
    }
    if (restoring) setImmediate(restoreInSlices);
  };

  const snapshot = (journalFrom: number) => ({
    savedAt: now(),
    journalFrom,
    limitKeys: store.limitKeys(), // with the tables, in the same turn: the keys they were counted under
    tables: store.snapshotTables(),
    outbox: [...outbox.values()],
  });

  // At stop: synchronous, complete, last word; the journals it holds are then deleted.
  const persist = () => {
    restoreSome(Infinity);
    // Files that a failed restore could not set aside still hold more than memory does; leave them.
    if (!dirty || !restoreDone || keepFiles) return;
    const journalFrom = journal.rotate();
    writeStateFile(stateFile(), serializeState(snapshot(journalFrom)));
    journal.dropBefore(journalFrom);
    dirty = false;
  };

  return {
    journal,

    writes() {
      const since = Math.min(savesFailingSince ?? Infinity, journalFailingSince ?? Infinity);
      return since === Infinity
        ? { failing: false, failedSaves: 0 }
        : { failing: true, since, failedSaves, error: lastWriteError };
    },

    restoring: () => restoring ? { keysSoFar: adoptedKeys } : undefined,

    start(theStore, theOutbox) {
      store = theStore;
      outbox = theOutbox;
      journal.hold(true);
      restoringFile = stateFile();
      restoring = restoreState(restoringFile, now(), log, {
        adopt: (name, key, counter) => {
          if (resetWhileRestoring.has(key)) return false;
          if (store.adopt(name, key, counter)) {
            adoptedKeys++;
            return true;
          }
          if (!options.config().limits.some((limit) => limit.name === name)) {
            notConfigured.set(name, (notConfigured.get(name) ?? 0) + 1);
          }
          return false;
        },
        notice: (notice) => outbox.restore(notice),
        keyText: (name) => options.config().limits.find((limit) => limit.name === name)?.keyText,
      });
      setImmediate(restoreInSlices);
    },

    changed() {
      dirty = true;
    },

    keyReset(key, removed) {
      if (restoring) resetWhileRestoring.add(key);
      // During a restore the key may be in the files and not in memory yet (removed 0): the record keeps a
      // crash before the next snapshot from bringing it back.
      if (removed > 0 || restoring) journal.reset(key);
    },

    saveSoon() {
      earliestSave = 0;
      snapshotBytes = undefined;
      soonAsked++;
    },

    // In slices with async I/O, one save at a time, so answers are not held up.
    saveInBackground() {
      const began = performance.now();
      if (!dirty || saving || !restoreDone || keepFiles || began < earliestSave) return;
      const due = snapshotDue({
        snapshotBytes,
        journalBytes: journal.bytesWritten - journalAtSnapshot,
        sinceSnapshotMs: began - snapshotBegan,
        // A failed write's records are in no file, even once the journal writes again (space freed on a
        // full disk): a snapshot is due until one begun after the failure is written.
        journalFailing: journal.failures !== failuresCovered,
      });
      if (!due) return;
      saving = true;
      dirty = false;
      const journalFrom = journal.rotate();
      const journalThen = journal.bytesWritten;
      const failuresThen = journal.failures;
      const path = stateFile();
      const soonThen = soonAsked;
      writeStateFileAsync(path, snapshot(journalFrom), () => stopped)
        .then(({ written, busyMs, bytes }) => {
          const ended = performance.now();
          // A reload moved state_file meanwhile (saveSoon): this snapshot must not stand for the new file's,
          // or the new file waits for its journal to grow (a kill -9 meanwhile restores only what was
          // counted since the reload), and the new file's journals are not this snapshot's to drop.
          const moved = path !== stateFile();
          // saveSoon meanwhile for another reason too (counters brought in from Redis, not journalled):
          // this snapshot may have missed them, so it must not put the asked one off either.
          const superseded = moved || soonAsked !== soonThen;
          if (!superseded) earliestSave = nextSaveAt(ended, ended - began);
          if (!written) return;
          if (failedSaves > 0) {
            log.info("counters", "state file written again", { file: path, failed_saves: failedSaves });
            failedSaves = 0;
            savesFailingSince = undefined;
          }
          if (!moved) {
            journal.dropBefore(journalFrom);
            snapshotBytes = superseded ? undefined : bytes;
            snapshotBegan = began;
            journalAtSnapshot = journalThen;
            failuresCovered = failuresThen;
          }
          log.debug("counters", "state saved", {
            file: path,
            bytes,
            ms: Math.round(ended - began),
            busy_ms: Math.round(busyMs),
          });
        })
        .catch((error) => {
          dirty = true;
          // Paced as a save that succeeds: a full disk fails a save after most of its work (a million
          // keys: seconds of serialising), and retried every state_interval it would take the event loop
          // from the answers a large share of the time.
          const ended = performance.now();
          earliestSave = nextSaveAt(ended, ended - began);
          const fields = { file: path, error: (error as Error).message, ms: Math.round(ended - began) };
          lastWriteError = fields.error;
          savesFailingSince ??= now();
          if (failedSaves++ === 0) log.error("counters", "cannot write state file", fields);
          else {log.debug("counters", "state file still not written", {
              ...fields,
              failed_saves: failedSaves,
            });}
        })
        .finally(() => saving = false);
    },

    stop(reason) {
      stopped = true;
      try {
        dirty = true;
        persist();
        log.info("counters", "state written", { file: stateFile(), reason });
      } catch (error) {
        log.error("counters", "cannot write state file", {
          file: stateFile(),
          error: (error as Error).message,
        });
        journal.rotate(); // the journal then keeps what the snapshot could not
      }
      journal.close();
    },
  };
}
