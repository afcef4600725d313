import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  JOURNAL_SHARE,
  nextSaveAt,
  SAVE_SHARE,
  type SaveFacts,
  SMALL_SNAPSHOT_BYTES,
  SNAPSHOT_MAX_AGE_MS,
  snapshotDue,
} from "../../../src/store/save-pacing.ts";

const MB = 1024 * 1024;
// A snapshot of 1e5 keys (~19 MB), a few seconds old, with a little journal since: the quiet case.
const quiet: SaveFacts = {
  snapshotBytes: 19 * MB,
  journalBytes: 4096,
  sinceSnapshotMs: 5000,
  journalFailing: false,
};

describe("snapshotDue", () => {
  it("holds a large snapshot back while the journal since it is small and it is young", () => {
    assert.equal(snapshotDue(quiet), false);
    assert.equal(snapshotDue({ ...quiet, journalBytes: 19 * MB * JOURNAL_SHARE - 1 }), false);
  });

  it("is due once the journal since the last snapshot holds its share of the snapshot's bytes", () => {
    assert.equal(snapshotDue({ ...quiet, journalBytes: 19 * MB * JOURNAL_SHARE }), true);
  });

  it("is due when no snapshot was written in this run (at start, after a restore, a new state_file)", () => {
    assert.equal(snapshotDue({ ...quiet, snapshotBytes: undefined, journalBytes: 0 }), true);
  });

  it("saves a small state every time it changed, as before: it costs next to nothing", () => {
    assert.equal(snapshotDue({ ...quiet, snapshotBytes: SMALL_SNAPSHOT_BYTES, journalBytes: 0 }), true);
    assert.equal(snapshotDue({ ...quiet, snapshotBytes: SMALL_SNAPSHOT_BYTES + 1, journalBytes: 0 }), false);
  });

  it("is due when the journal fails: the snapshot is then all that keeps the changes", () => {
    assert.equal(snapshotDue({ ...quiet, journalFailing: true }), true);
  });

  it("bounds the sightings a crash can lose: due once the last snapshot is an hour old", () => {
    assert.equal(snapshotDue({ ...quiet, sinceSnapshotMs: SNAPSHOT_MAX_AGE_MS - 1 }), false);
    assert.equal(snapshotDue({ ...quiet, sinceSnapshotMs: SNAPSHOT_MAX_AGE_MS }), true);
  });
});

describe("nextSaveAt", () => {
  it("keeps saves under way at most 1/SAVE_SHARE of the time", () => {
    assert.equal(nextSaveAt(1000, 500), 1000 + 500 * SAVE_SHARE);
    assert.equal(nextSaveAt(1000, 0), 1000);
  });
});
