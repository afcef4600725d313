import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import {
  createJournal,
  type Journal,
  journalGenerations,
  journalPath,
} from "../../../src/store/state-journal.ts";
import {
  decodeJournal,
  JournalBytes,
  journalLines,
  type JournalRecord,
  parseJournalLine,
  torn,
} from "../../../src/store/journal-codec.ts";
import { makeCounter, Tally } from "../../../src/policy/sender-counter.ts";
import type { AlertNotice } from "../../../src/policy/alert-notice.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";
import { ROOT, runCommand } from "../../helpers/runtime.ts";

// deno-lint-ignore no-explicit-any
type Line = [string, any];

/** A record in the JSON lines form, a counter's row without the fields it leaves at their defaults. */
function asLine(record: JournalRecord): Line {
  switch (record.kind) {
    case "counter": {
      const row = record.row as unknown[];
      const [prev, instance] = [row[7], row[8]];
      return [record.limit, instance !== null ? row : prev !== 0 ? row.slice(0, 8) : row.slice(0, 5)];
    }
    case "reset":
      return ["!reset", record.key];
    case "alert":
      return ["!alert", record.notice];
    case "sent":
      return ["!sent", record.id];
    case "bad":
      return ["bad", record.reason];
  }
}

const lines = (path: string) => [...decodeJournal(readFileSync(path))].map(asLine);

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
  it("writes a counter as it is when touched; touched again while recent, once more at the flush", () => {
    withJournal(3, (journal, state, errors) => {
      const a = makeCounter(1000, 1, 1000, 0);
      const b = makeCounter(2000, 1, 2000, 0);
      journal.touched("out", "a@x", a);
      journal.touched("out", "b@x", b);
      a.count = 2;
      journal.touched("out", "a@x", a);
      a.count = 3;
      journal.touched("out", "a@x", a);
      journal.flush();
      assert.deepEqual(lines(journalPath(state, 3)), [
        ["out", ["a@x", 1000, 1, 1000, 0]],
        ["out", ["b@x", 2000, 1, 2000, 0]],
        ["out", ["a@x", 1000, 3, 1000, 0]],
      ]);
      journal.flush();
      assert.equal(lines(journalPath(state, 3)).length, 3, "untouched since: nothing more");
      a.count = 4;
      journal.touched("out", "a@x", a);
      journal.flush();
      assert.deepEqual(lines(journalPath(state, 3))[3], ["out", ["a@x", 1000, 4, 1000, 0]]);
      assert.equal(journal.bytesWritten, statSync(journalPath(state, 3)).size, "counts what it appended");
      assert.equal(journal.failing, false);
      assert.deepEqual(errors, []);
    });
  });

  it("writes a hot counter once per flush, and a dirty one as it is when it leaves the recent slots", () => {
    withJournal(1, (journal, state) => {
      const hot = makeCounter(1000, 0, 1000, 0);
      for (let i = 1; i <= 1000; i++) {
        hot.count = i;
        journal.touched("out", "hot@x", hot);
      }
      journal.flush();
      assert.deepEqual(lines(journalPath(state, 1)).map((line) => line[1][2]), [1, 1000]);
      hot.count = 1001;
      journal.touched("out", "hot@x", hot);
      hot.count = 1002;
      journal.touched("out", "hot@x", hot);
      // Four others take the four slots: the fourth pushes the hot counter out, written as it is then.
      for (let i = 0; i < 4; i++) journal.touched("out", `k${i}@x`, makeCounter(1, 1, 1, 0));
      const written = lines(journalPath(state, 1)).length;
      journal.flush();
      const rows = lines(journalPath(state, 1)).slice(written).map((line) => line[1]);
      assert.deepEqual(rows.map((row) => row[0]), ["k0@x", "k1@x", "k2@x", "k3@x", "hot@x"]);
      assert.equal(rows[4][2], 1002);
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

  it("writes a large held batch in slices between turns of the event loop, then counters when touched", async () => {
    const dir = makeTempDir();
    const state = dir.file("state.json");
    const journal = createJournal(state, 1, () => {});
    try {
      journal.hold(true);
      for (let i = 0; i < 5000; i++) journal.touched("out", `k${i}@x`, makeCounter(i, 1, i, 0));
      journal.hold(false);
      journal.flush();
      // 5000 rows are ~200 KB, 25 slices of 8 KB: the flush returns after the first, nothing written yet.
      assert.equal(existsSync(journalPath(state, 1)), false);
      journal.touched("out", "later@x", makeCounter(1, 1, 1, 0)); // noted: after the held ones
      await new Promise((resolve) => setTimeout(resolve, 200));
      const written = lines(journalPath(state, 1));
      assert.equal(written.length, 5001);
      assert.equal(written[5000][1][0], "later@x");
      journal.touched("out", "now@x", makeCounter(1, 1, 1, 0));
      journal.flush();
      assert.equal(lines(journalPath(state, 1))[5001][1][0], "now@x", "written at once, flushed at once");
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
      assert.equal(journal.failing, true, "a snapshot is then all that keeps the changes");
      assert.equal(journal.bytesWritten, 0);
    });
  });
  /**
   * Runs `body` (after `const journal = createJournal(state, 1, …)`, `errors` its messages) in a child
   * under a file size limit of `limitBlocks` KB with SIGXFSZ ignored: its writes fail as on a full disk.
   * Returns what the body prints and the state file's path.
   */
  function underFileLimit(dir: ReturnType<typeof makeTempDir>, limitBlocks: number, body: string) {
    const state = dir.file("state.json");
    const script = dir.file("journal.ts");
    const module = (name: string) => JSON.stringify(`${ROOT}src/${name}`);
    writeFileSync(
      script,
      `import { createJournal } from ${module("store/state-journal.ts")};\n` +
        `import { makeCounter } from ${module("policy/sender-counter.ts")};\n` +
        `const errors = [];\n` +
        `const journal = createJournal(${
          JSON.stringify(state)
        }, 1, (error) => errors.push(error.message));\n` +
        body,
    );
    const argv = runCommand(script).map((word) => `'${word}'`).join(" ");
    const output = execFileSync("bash", ["-c", `ulimit -f ${limitBlocks}; trap '' XFSZ; exec ${argv}`], {
      encoding: "utf8",
    });
    return { output, state };
  }

  it("takes back the part of a write the disk had room for, so that later records stay readable", () => {
    // A full disk writes part of the bytes and fails at the next write; a cut-off record left in the
    // middle of the journal would make every record appended after it unreadable. The file size limit
    // (ulimit -f, SIGXFSZ ignored) cuts a write short the same way; a small record then still fits.
    const dir = makeTempDir();
    try {
      const { output, state } = underFileLimit(
        dir,
        8,
        `journal.touched("out", "a@x", makeCounter(1, 1, 1, 0)); journal.flush();\n` +
          `journal.alert({ id: "out|big|1", limit: "out", key: "k".repeat(20000) }); journal.flush();\n` +
          `journal.touched("out", "b@x", makeCounter(1, 2, 1, 0)); journal.flush();\n` +
          `journal.close();\n` +
          `console.log(JSON.stringify(errors));\n`,
      );
      assert.equal(JSON.parse(output).length, 1, "the failed write is reported");
      const bytes = readFileSync(journalPath(state, 1));
      assert.equal(torn(bytes), false);
      assert.deepEqual(lines(journalPath(state, 1)).map((line) => [line[0], line[1][0]]), [
        ["out", "a@x"],
        ["out", "b@x"],
      ]);
    } finally {
      dir.remove();
    }
  });
  it("leaves no empty generation behind when a file's first write fails, as on a full disk", () => {
    // Each failed snapshot rotates to a new generation; on a full disk each got a file whose first write
    // failed, one every state_interval. A file size limit of 0 fails every write so, after the open has
    // made the file.
    const dir = makeTempDir();
    try {
      const { output } = underFileLimit(
        dir,
        0,
        `for (let i = 0; i < 3; i++) {\n` +
          `  journal.touched("out", "a@x", makeCounter(1, i + 1, 1, 0)); journal.flush(); journal.rotate();\n` +
          `}\n` +
          `journal.close();\n` +
          `console.log(JSON.stringify({ errors: errors.length, failures: journal.failures }));\n`,
      );
      assert.deepEqual(JSON.parse(output), { errors: 1, failures: 3 }, "every write failed, said once");
      assert.deepEqual(readdirSync(dir.path).filter((name) => name.includes(".journal-")), []);
    } finally {
      dir.remove();
    }
  });
});

describe("reading a journal", () => {
  const counter = makeCounter(1_780_000_000_123, 2.5, 1_780_000_000_456, 1);
  counter.prev = 7;
  counter.instance = "1abc-\u00e9t\u00e9";

  it("reads back every kind of record as written, UTF-8 keys and fractional levels included", () => {
    const out = new JournalBytes(16); // grows
    out.counter("out", "a@x", makeCounter(1, 2, 3, 0));
    out.counter("out", "\u00fcber@b\u00fccher.example", counter);
    out.reset("a@x");
    out.alert({ id: "out|a@x|1", limit: "out" } as AlertNotice);
    out.sent("out|a@x|1");
    assert.deepEqual([...decodeJournal(out.bytes())], [
      { kind: "counter", limit: "out", row: ["a@x", 1, 2, 3, 0, null, null, 0, null] },
      {
        kind: "counter",
        limit: "out",
        row: [
          "\u00fcber@b\u00fccher.example",
          1_780_000_000_123,
          2.5,
          1_780_000_000_456,
          1,
          null,
          null,
          7,
          "1abc-\u00e9t\u00e9",
        ],
      },
      { kind: "reset", key: "a@x" },
      { kind: "alert", notice: { id: "out|a@x|1", limit: "out" } },
      { kind: "sent", id: "out|a@x|1" },
    ]);
    assert.equal(torn(out.bytes()), false);
  });

  it("leaves out a last record cut short by a kill, and says the journal is torn", () => {
    const out = new JournalBytes();
    out.counter("out", "a@x", makeCounter(1, 2, 3, 0));
    const whole = out.length;
    out.counter("out", "b@x", counter);
    for (const cut of [whole + 1, whole + 5, out.length - 1]) {
      const bytes = out.bytes().slice(0, cut);
      assert.deepEqual([...decodeJournal(bytes)].map((record) => (record as { row: string[] }).row[0]), [
        "a@x",
      ]);
      assert.equal(torn(bytes), true, `cut at ${cut}`);
    }
    assert.equal(torn(new Uint8Array(0)), false);
  });

  it("turns a record it cannot read into a bad one and goes on with the next", () => {
    const out = new JournalBytes();
    out.sent("before");
    const unknown = out.length;
    out.sent("xx");
    out.alert({ id: "i" } as AlertNotice);
    out.counter("out", "a@x", makeCounter(1, 2, 3, 0));
    const bytes = out.bytes().slice();
    bytes[unknown] = 9; // a kind no version writes
    const alertBody = unknown + 7 + 5; // past the 7 bytes of sent("xx") and the alert's head
    bytes.set(new TextEncoder().encode("{{{{{{{{{{"), alertBody); // the notice's 10 bytes of JSON, broken
    assert.deepEqual([...decodeJournal(bytes)].map((record) => record.kind), [
      "sent",
      "bad",
      "bad",
      "counter",
    ]);
    const short = new JournalBytes();
    short.counter("out", "a@x", makeCounter(1, 2, 3, 0));
    const shortBytes = short.bytes().slice();
    new DataView(shortBytes.buffer).setUint32(1, 12, true); // a body too short for its fields
    assert.deepEqual([...decodeJournal(shortBytes.subarray(0, 17))], [{
      kind: "bad",
      reason: "short counter record",
    }]);
  });

  it("reads an older version's JSON lines, and turns anything else in them into a bad record", () => {
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
    const text = new TextEncoder().encode('["out",["a@x",1,2,3,0]]\n["!reset","a@x"]\n["!sent"');
    assert.deepEqual([...decodeJournal(text)].map((record) => record.kind), ["counter", "reset"]);
    assert.equal(torn(text), true);
  });

  it("takes complete JSON lines only: a last write cut short by a kill is left out", () => {
    assert.deepEqual([...journalLines('["a"]\n["b"]\n["c"')], ['["a"]', '["b"]']);
    assert.deepEqual([...journalLines('["a"]\n\n["b"]\n')], ['["a"]', '["b"]']);
  });
});
