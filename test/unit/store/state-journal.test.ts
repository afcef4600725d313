import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import {
  createJournal,
  type Journal,
  journalGenerations,
  journalLines,
  journalPath,
  parseJournalLine,
  torn,
} from "../../../src/store/state-journal.ts";
import { makeCounter, Tally } from "../../../src/policy/sender-counter.ts";
import type { AlertNotice } from "../../../src/policy/alert-notice.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

const lines = (path: string) =>
  readFileSync(path, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));

/** A journal over a state file in a fresh folder; errors collected; closed and removed after `body`. */
function withJournal(first: number, body: (journal: Journal, state: string, errors: Error[]) => void): void {
  const dir = makeTempDir();
  const state = dir.file("state.json");
  const errors: Error[] = [];
  const setUp = (journal: Journal) => {
    try {
      body(journal, state, errors);
    } finally {
      journal.close();
    }
  };
  try {
    if (first < 0) { // a FIFO where generation 1 goes
      execFileSync("mkfifo", [journalPath(state, 1)]);
      first = 1;
    }
    setUp(createJournal(state, first, (error) => errors.push(error)));
  } finally {
    dir.remove();
  }
}

describe("createJournal", () => {
  it("writes each counter touched in a batch once, as it is at the flush, in the snapshot's row form", () => {
    withJournal(3, (journal, state, errors) => {
      const a = makeCounter(1000, 1, 1000, 0);
      const b = makeCounter(2000, 1, 2000, 0);
      journal.touched("out", "a@x", a);
      journal.touched("out", "b@x", b);
      a.count = 2;
      journal.touched("out", "a@x", a);
      a.count = 3;
      journal.flush();
      assert.deepEqual(lines(journalPath(state, 3)), [
        ["out", ["a@x", 1000, 3, 1000, 0]],
        ["out", ["b@x", 2000, 1, 2000, 0]],
      ]);
      journal.touched("out", "a@x", a);
      journal.flush();
      assert.equal(lines(journalPath(state, 3)).length, 3, "the next batch writes it again");
      assert.deepEqual(errors, []);
    });
  });

  it("leaves a counter's sightings out of its row, keeping the places of the fields after them", () => {
    withJournal(1, (journal, state) => {
      const seen = makeCounter(1000, 2, 1000, 0);
      seen.subjects = Tally.from([["Hello", 2]]);
      seen.clientIps = Tally.from([["192.0.2.1", 2]]);
      const sliding = makeCounter(1000, 2, 1000, 0);
      sliding.clientIps = seen.clientIps;
      sliding.prev = 4;
      journal.touched("out", "seen@x", seen);
      journal.touched("out", "sliding@x", sliding);
      journal.flush();
      assert.deepEqual(lines(journalPath(state, 1)), [
        ["out", ["seen@x", 1000, 2, 1000, 0]],
        ["out", ["sliding@x", 1000, 2, 1000, 0, null, null, 4]],
      ]);
    });
  });

  it("writes a large batch in slices between turns of the event loop, all of it in the end", async () => {
    const dir = makeTempDir();
    const state = dir.file("state.json");
    const journal = createJournal(state, 1, () => {});
    try {
      for (let i = 0; i < 5000; i++) journal.touched("out", `k${i}@x`, makeCounter(i, 1, i, 0));
      journal.flush();
      // 5000 rows are ~200 KB, 25 slices of 8 KB: the flush returns after the first, nothing written yet.
      assert.equal(existsSync(journalPath(state, 1)), false);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(lines(journalPath(state, 1)).length, 5000);
    } finally {
      journal.close();
      dir.remove();
    }
  });

  it("keeps resets, alerts and deliveries in order with the counters", () => {
    withJournal(1, (journal, state) => {
      const notice = { id: "out|a@x|1000", limit: "out", key: "a@x" } as AlertNotice;
      journal.touched("out", "a@x", makeCounter(1000, 5, 1000, 1));
      journal.alert(notice);
      journal.reset("a@x");
      journal.sent(notice.id);
      journal.flush();
      const kinds = lines(journalPath(state, 1)).map((line) => line[0]);
      assert.deepEqual(kinds, ["out", "!alert", "!reset", "!sent"]);
    });
  });

  it("writes nothing while held, then everything it kept", () => {
    withJournal(1, (journal, state) => {
      journal.hold(true);
      journal.touched("out", "a@x", makeCounter(1, 1, 1, 0));
      journal.flush();
      assert.equal(existsSync(journalPath(state, 1)), false);
      journal.startAt(4);
      journal.hold(false);
      journal.flush();
      assert.equal(lines(journalPath(state, 4)).length, 1);
    });
  });

  it("rotates to the next generation and drops the ones a snapshot holds", () => {
    withJournal(1, (journal, state) => {
      journal.touched("out", "a@x", makeCounter(1, 1, 1, 0));
      assert.equal(journal.rotate(), 2, "the touched counter went into generation 1 first");
      journal.touched("out", "b@x", makeCounter(1, 1, 1, 0));
      assert.equal(journal.rotate(), 3);
      writeFileSync(`${state}.journal-x`, "not ours");
      assert.deepEqual(journalGenerations(state), [1, 2]);
      journal.dropBefore(2);
      assert.deepEqual(journalGenerations(state), [2]);
      assert.equal(existsSync(`${state}.journal-x`), true);
    });
  });

  it("follows the state file when a reload moves it", () => {
    const dir = makeTempDir();
    let state = dir.file("old.json");
    const journal = createJournal(() => state, 1, () => {});
    try {
      journal.touched("out", "a@x", makeCounter(1, 1, 1, 0));
      journal.flush();
      state = dir.file("new.json");
      journal.touched("out", "b@x", makeCounter(1, 1, 1, 0));
      journal.flush();
      assert.deepEqual(lines(journalPath(dir.file("old.json"), 1)).map((line) => line[1][0]), ["a@x"]);
      assert.deepEqual(lines(journalPath(dir.file("new.json"), 1)).map((line) => line[1][0]), ["b@x"]);
    } finally {
      journal.close();
      dir.remove();
    }
  });

  it("reports a journal path it cannot write (a FIFO there) once, without blocking", () => {
    withJournal(-1, (journal, _state, errors) => {
      for (let i = 0; i < 3; i++) {
        journal.touched("out", "a@x", makeCounter(1, 1, 1, 0));
        journal.flush();
      }
      assert.equal(errors.length, 1);
      assert.match(errors[0].message, /ENXIO/);
    });
  });
});

describe("reading a journal", () => {
  it("parses every kind of record and turns anything else into a bad one", () => {
    assert.deepEqual(parseJournalLine('["out",["a@x",1,2,3,0]]'), {
      kind: "counter",
      limit: "out",
      row: ["a@x", 1, 2, 3, 0],
    });
    assert.deepEqual(parseJournalLine('["!reset","a@x"]'), { kind: "reset", key: "a@x" });
    assert.deepEqual(parseJournalLine('["!sent","id"]'), { kind: "sent", id: "id" });
    assert.equal(parseJournalLine('["!alert",{"id":"i"}]').kind, "alert");
    for (const bad of ['["out"', "{}", "[1,2]", '["!reset",5]', '["!alert",{}]', '["!sent"]', ""]) {
      assert.equal(parseJournalLine(bad).kind, "bad", bad);
    }
  });

  it("takes complete lines only: a last write cut short by a kill is left out", () => {
    assert.deepEqual([...journalLines('["a"]\n["b"]\n["c"')], ['["a"]', '["b"]']);
    assert.deepEqual([...journalLines('["a"]\n\n["b"]\n')], ['["a"]', '["b"]']);
    assert.equal(torn('["a"]\n["c"'), true);
    assert.equal(torn('["a"]\n'), false);
    assert.equal(torn(""), false);
  });
});
