// Restoring the counters at start: the snapshot (state_file), then the journal generations written since
// (store/state-journal.ts), into a staging table, then into the live tables. A generator: the counters
// actor runs it a few milliseconds per turn of the event loop while the daemon already answers (with a
// million keys the restore takes seconds; Exim falls back after two). A key counted before it is restored
// gets both counts added (policy/restored-counter.ts).
//
// Files that cannot be used are never overwritten: an unreadable or unparsable snapshot or journal is
// renamed aside (store/set-aside.ts) and the daemon starts without it; a snapshot with refused rows is
// restored without them and a copy of it is kept aside; a restore that throws has its files set aside by
// the counters actor (actors/counters-state.ts, restoreFailed). (A state file that is not a regular file or
// cannot be read at all stops `run` before this: store/regular-file.ts, statePathProblem.)
import { copyFileSync } from "node:fs";
import type { Logger } from "../log.ts";
import type { AlertNotice } from "../policy/alert-notice.ts";
import type { SenderCounter } from "../policy/sender-counter.ts";
import { readRegularBytes } from "../store/regular-file.ts";
import { asideName, setAside } from "../store/set-aside.ts";
import { readStateFile, type Snapshot } from "../store/state-file.ts";
import { parseSnapshotInPieces } from "../store/snapshot-reader.ts";
import { decodeJournal, torn } from "../store/journal-codec.ts";
import { journalGenerations, journalPath } from "../store/state-journal.ts";
import { counterFromRow, MAX_FUTURE_MS, RefusedRows } from "../store/state-rows.ts";

/** Rows converted between two pauses: ~1-2 ms of work. */
const SLICE_ROWS = 2000;

export interface RestoreTarget {
  /** Takes a restored counter into the live table; false when it is not kept (no such limit, expired). */
  adopt(limit: string, key: string, counter: SenderCounter): boolean;
  notice(notice: AlertNotice): void;
  /** The key the config counts `limit` by now (LimitConfig.keyText); undefined: no such limit. */
  keyText(limit: string): string | undefined;
}

export interface RestoreSummary {
  keys: number;
  journalRecords: number;
  refused: RefusedRows;
  /** The generation the journal continues with: after every one found. */
  nextGeneration: number;
}

function* readSnapshot(stateFile: string, at: number, log: Logger): Generator<void, Snapshot | undefined> {
  try {
    const text = readStateFile(stateFile);
    if (text === undefined) return undefined;
    return yield* parseSnapshotInPieces(text, at);
  } catch (error) {
    const aside = setAside(stateFile, at);
    log.error("counters", "state file unusable, moved aside; starting without it", {
      file: stateFile,
      moved_to: aside,
      error: (error as Error).message,
    });
    return undefined;
  }
}

export function* restoreState(
  stateFile: string,
  at: number,
  log: Logger,
  target: RestoreTarget,
): Generator<void, RestoreSummary> {
  yield; // let the listeners start first
  const snapshot = yield* readSnapshot(stateFile, at, log);
  // Outbox entries in their order, by id; an entry without one gets a key of its own, so that the target
  // sees it (and refuses it, logged) where it stood.
  const notices = new Map<unknown, AlertNotice>();
  for (const entry of snapshot?.outbox ?? [] as unknown[]) {
    const id = (entry as AlertNotice | null)?.id;
    notices.set(typeof id === "string" ? id : Symbol(), entry as AlertNotice);
  }

  // The journals first, into a table per limit of each key's last record (null: reset since), so that a
  // snapshot row is skipped when the journal has newer news of its key and no row is stored twice.
  // Journals from the snapshot's generation on; all of them when there is no usable snapshot.
  const generations = journalGenerations(stateFile);
  const from = snapshot?.journalFrom ?? 0;
  const latest = Math.max(at, snapshot?.savedAt ?? 0) + MAX_FUTURE_MS;
  const journaled = new Map<string, Map<string, SenderCounter | null>>();
  for (const [name] of snapshot?.tables ?? []) journaled.set(name, new Map());
  const rekeyed = rekeyedLimits(snapshot?.limitKeys, target);
  const journalRefused = new RefusedRows();
  let journalRecords = 0;
  for (const generation of generations) {
    if (generation < from) continue;
    const path = journalPath(stateFile, generation);
    let bytes: Uint8Array;
    try {
      bytes = readRegularBytes(path);
    } catch (error) {
      log.error("counters", "journal unusable, moved aside", {
        file: path,
        moved_to: setAside(path, at),
        error: (error as Error).message,
      });
      continue;
    }
    if (torn(bytes)) {
      log.info("counters", "journal ends in a cut-off write (kill): its last record is left out");
    }
    for (const record of decodeJournal(bytes)) {
      journalRecords++;
      switch (record.kind) {
        case "counter": {
          const counter = counterFromRow(record.row, latest);
          if (typeof counter === "string") journalRefused.add(counter);
          else {
            let table = journaled.get(record.limit);
            if (!table) journaled.set(record.limit, table = new Map());
            table.set((record.row as [string])[0], counter);
          }
          break;
        }
        case "reset":
          for (const table of journaled.values()) table.set(record.key, null);
          break;
        case "alert":
          notices.set(record.notice.id, record.notice);
          break;
        case "sent":
          notices.delete(record.id);
          break;
        case "bad":
          journalRefused.add(record.reason);
      }
      if (journalRecords % SLICE_ROWS === 0) yield;
    }
  }
  if (journalRefused.total > 0) {
    log.warn("counters", "journal records refused, the others replayed", {
      refused: journalRefused.total,
      reasons: journalRefused.toString(),
    });
  }

  const refused = new RefusedRows();
  let keys = 0;
  let converted = 0;
  for (const [name, rows] of snapshot?.tables ?? []) {
    const newer = journaled.get(name)!;
    const change = rekeyed.get(name);
    if (change !== undefined) {
      dropRekeyed(name, change, rows, newer, log);
      journaled.delete(name);
      continue;
    }
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      rows[i] = null; // done with: the collector may take it while the restore goes on
      if (++converted % SLICE_ROWS === 0) yield;
      const counter = counterFromRow(row, snapshot!.latest);
      if (typeof counter === "string") {
        refused.add(counter);
        continue;
      }
      const key = (row as [string])[0];
      const journaledCounter = newer.get(key);
      if (journaledCounter === undefined) {
        if (target.adopt(name, key, counter)) keys++;
      } else if (journaledCounter !== null) keepSightings(journaledCounter, counter);
    }
  }
  if (refused.total > 0) keepCopy(stateFile, at, refused, log);
  for (const [name, table] of journaled) {
    for (const [key, counter] of table) {
      if (counter && target.adopt(name, key, counter)) keys++;
      if (++converted % SLICE_ROWS === 0) yield;
    }
  }
  for (const notice of notices.values()) target.notice(notice);
  for (const [reason, count] of journalRefused.reasons) for (let i = 0; i < count; i++) refused.add(reason);
  const last = Math.max(from - 1, generations.at(-1) ?? 0);
  return { keys, journalRecords, refused, nextGeneration: last + 1 };
}

/**
 * The limits whose key the config changed since the snapshot was saved (a restart with another `key`), each
 * with its key then and now. Their counters were counted under the old key, and the same text under the
 * new one is someone else: they start afresh, as at a reload (limits/memory-store.ts, configure). A snapshot
 * without limitKeys (an older version's) names none: its limits are taken to count as configured.
 */
function rekeyedLimits(
  saved: Map<string, string> | undefined,
  target: RestoreTarget,
): Map<string, { from: string; to: string }> {
  const rekeyed = new Map<string, { from: string; to: string }>();
  for (const [name, from] of saved ?? []) {
    const to = target.keyText(name);
    if (to !== undefined && to !== from) rekeyed.set(name, { from, to });
  }
  return rekeyed;
}

/**
 * Leaves out a rekeyed limit's snapshot rows and journal records (the journal written since the snapshot
 * was counted under the same key: a reload that changes it asks for a snapshot soon), one line saying so.
 */
function dropRekeyed(
  name: string,
  change: { from: string; to: string },
  rows: unknown[],
  journaled: Map<string, SenderCounter | null>,
  log: Logger,
): void {
  const keys = new Set<unknown>();
  for (const row of rows) keys.add(Array.isArray(row) ? row[0] : row);
  for (const [key, counter] of journaled) if (counter !== null) keys.add(key);
  rows.length = 0;
  log.warn("counters", "limit key changed since the state was saved: its counters start afresh", {
    rule: name,
    from: change.from,
    to: change.to,
    dropped: keys.size,
  });
}

/**
 * The journal's rows carry no sightings (store/state-journal.ts): the snapshot's stand while the window (or
 * alert period) is the one the snapshot saw.
 */
function keepSightings(journaled: SenderCounter, snapshotted: SenderCounter): void {
  if (journaled.start !== snapshotted.start) return;
  journaled.subjects ??= snapshotted.subjects;
  journaled.clientIps ??= snapshotted.clientIps;
}

/** Bad rows were refused: a copy of the file as it was, for a human (the next save replaces it). */
function keepCopy(stateFile: string, at: number, refused: RefusedRows, log: Logger): void {
  let copy: string | undefined = asideName(stateFile, at);
  try {
    copyFileSync(stateFile, copy);
  } catch (error) {
    log.error("counters", "cannot keep a copy of the state file", { error: (error as Error).message });
    copy = undefined;
  }
  log.warn("counters", "state rows refused, the others restored; a copy of the file is kept", {
    file: stateFile,
    copy,
    refused: refused.total,
    reasons: refused.toString(),
  });
}
