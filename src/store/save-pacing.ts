// When the counters' state is snapshotted. The journal (store/state-journal.ts) already keeps every change
// within ~200 ms, so a snapshot is not what makes counting durable: it compacts the journal, so that a
// restart replays a bounded amount of it, and keeps the sightings (the journal has none). Rewriting the
// whole table every state_interval whenever anything changed wrote 19 MB every 5 s at 1e5 keys for a few
// requests a minute (docs/decisions.md, "A snapshot when the journal has grown"). A snapshot is due, as
// Redis rewrites its append-only file, once the journal since the last one holds a share of its bytes.
// Pure: the counters actor supplies the facts (actors/counters-state.ts).

/** A save may be under way at most 1/SAVE_SHARE of the time: its writes and fsync cost CPU and disk. */
export const SAVE_SHARE = 20;
/** A snapshot is due once the journal since the last one holds this share of the snapshot's bytes. */
export const JOURNAL_SHARE = 0.5;
/** Below this a snapshot costs next to nothing: saved every state_interval when changed, as before. */
export const SMALL_SNAPSHOT_BYTES = 64 * 1024;
/** The sightings seen since the last snapshot are lost by a crash: at most this old. */
export const SNAPSHOT_MAX_AGE_MS = 60 * 60_000;

export interface SaveFacts {
  /** Bytes of the last snapshot written in this run; undefined before the first. */
  snapshotBytes: number | undefined;
  /** Journal bytes appended since that snapshot began. */
  journalBytes: number;
  /** Milliseconds since that snapshot began. */
  sinceSnapshotMs: number;
  /** The journal's writes fail: the snapshot is then all that keeps the changes. */
  journalFailing: boolean;
}

/** Whether a changed state should be snapshotted now (pacing aside: see `nextSaveAt`). */
export function snapshotDue(facts: SaveFacts): boolean {
  const { snapshotBytes } = facts;
  return snapshotBytes === undefined ||
    facts.journalFailing ||
    snapshotBytes <= SMALL_SNAPSHOT_BYTES ||
    facts.journalBytes >= snapshotBytes * JOURNAL_SHARE ||
    facts.sinceSnapshotMs >= SNAPSHOT_MAX_AGE_MS;
}

/** The earliest time (performance.now() ms) of the next save, after one that ended at `endedAt`. */
export function nextSaveAt(endedAt: number, tookMs: number): number {
  return endedAt + tookMs * SAVE_SHARE;
}
