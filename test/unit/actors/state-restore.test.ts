// The restore's merge of snapshot and journal (actors/state-restore.ts): journal rows carry no sightings,
// so a key's subjects and client addresses come from its snapshot row while the window is the same one.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import { restoreState } from "../../../src/actors/state-restore.ts";
import { createLogger } from "../../../src/log.ts";
import { type AlertState, makeCounter, type SenderCounter } from "../../../src/policy/sender-counter.ts";
import { JournalBytes } from "../../../src/store/journal-codec.ts";
import { journalPath } from "../../../src/store/state-journal.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";
import { stateText } from "../../helpers/state-text.ts";

const NOW = 1_780_000_000_000;

type JournalLine = [string, unknown];
type Row = [string, number, number, number, AlertState];

/** A journal as this version writes it, from records in the JSON lines form an older version wrote. */
function binaryJournal(journal: JournalLine[]): Uint8Array {
  const out = new JournalBytes();
  for (const [what, value] of journal) {
    if (what === "!reset") out.reset(value as string);
    else {
      const [key, start, count, last, alert] = value as Row;
      out.counter(what, key, makeCounter(start, count, last, alert));
    }
  }
  return out.bytes();
}

const jsonLines = (journal: JournalLine[]) => journal.map((line) => JSON.stringify(line) + "\n").join("");

/** Restores `snapshotRows` (limit "out") and journal generation 1's `journal` lines; the counters adopted. */
function restore(
  snapshotRows: unknown[],
  journal: JournalLine[],
  form: "binary" | "json",
): Map<string, SenderCounter> {
  const dir = makeTempDir();
  try {
    const stateFile = dir.file("state.json");
    writeFileSync(stateFile, stateText(snapshotRows, NOW, "out"));
    writeFileSync(journalPath(stateFile, 1), form === "binary" ? binaryJournal(journal) : jsonLines(journal));
    const adopted = new Map<string, SenderCounter>();
    const run = restoreState(stateFile, NOW, createLogger("error", () => {}), {
      adopt: (_limit, key, counter) => (adopted.set(key, counter), true),
      notice: () => {},
      keyText: () => "sender",
    });
    while (!run.next().done);
    return adopted;
  } finally {
    dir.remove();
  }
}

const entries = (counter: SenderCounter | undefined, field: "subjects" | "clientIps") => {
  const seen: [string, number][] = [];
  counter?.[field]?.forEach((value, count) => seen.push([value, count]));
  return seen;
};

for (const form of ["binary", "json"] as const) {
  describe(`restoreState: snapshot and journal (${form === "json" ? "an older version's JSON lines" : form})`, () => {
    const start = NOW - 60_000;
    const snapshotRow = ["a@x", start, 5, NOW - 30_000, 0, [["Hello", 5]], [["192.0.2.1", 5]]];

    it("takes the count from the journal and the sightings from the snapshot in the same window", () => {
      const restored = restore([snapshotRow], [["out", ["a@x", start, 9, NOW - 1000, 0]]], form);
      const a = restored.get("a@x");
      assert.equal(a?.count, 9);
      assert.deepEqual(entries(a, "subjects"), [["Hello", 5]]);
      assert.deepEqual(entries(a, "clientIps"), [["192.0.2.1", 5]]);
    });

    it("leaves the snapshot's sightings out once the journal's row is in a new window", () => {
      const restored = restore([snapshotRow], [["out", ["a@x", NOW - 5000, 2, NOW - 1000, 0]]], form);
      const a = restored.get("a@x");
      assert.equal(a?.count, 2);
      assert.deepEqual(entries(a, "subjects"), []);
      assert.deepEqual(entries(a, "clientIps"), []);
    });

    it("restores a key that only the journal knows, and none that the journal reset", () => {
      const restored = restore(
        [snapshotRow],
        [["out", ["b@x", start, 1, NOW - 1000, 0]], ["!reset", "a@x"]],
        form,
      );
      assert.deepEqual([...restored.keys()], ["b@x"]);
      assert.equal(restored.get("b@x")?.count, 1);
    });
  });
}

describe("restoreState: a limit whose key changed since the snapshot", () => {
  const row = (key: string) => [key, NOW - 60_000, 3, NOW - 30_000, 0];

  /** Restores a snapshot of limits "out" (a@x) and "in" (c@x) with `limitKeys`, and a journal of b@x in "out". */
  function restoreKeyed(limitKeys: Record<string, string> | undefined, configured: Record<string, string>) {
    const dir = makeTempDir();
    try {
      const stateFile = dir.file("state.json");
      const text = JSON.parse(stateText([row("a@x")], NOW, "out"));
      text.limits.in = [row("c@x")];
      if (limitKeys !== undefined) text.limitKeys = limitKeys;
      writeFileSync(stateFile, JSON.stringify(text));
      writeFileSync(journalPath(stateFile, 1), binaryJournal([["out", row("b@x")]]));
      const adopted: string[] = [];
      const lines: string[] = [];
      const run = restoreState(stateFile, NOW, createLogger("info", (line) => lines.push(line)), {
        adopt: (limit, key) => (adopted.push(`${limit} ${key}`), true),
        notice: () => {},
        keyText: (limit) => configured[limit],
      });
      while (!run.next().done);
      return { adopted: adopted.sort(), lines };
    } finally {
      dir.remove();
    }
  }

  it("drops its snapshot rows and journal records, one line saying so; the others restore", () => {
    const { adopted, lines } = restoreKeyed({ out: "sender", in: "sender" }, {
      out: "recipient",
      in: "sender",
    });
    assert.deepEqual(adopted, ["in c@x"]);
    assert.equal(lines.filter((line) => /limit key changed/.test(line)).length, 1, lines.join("\n"));
    assert.match(
      lines.join("\n"),
      /warn counters: limit key changed since the state was saved: its counters start afresh rule=out from=sender to=recipient dropped=2/,
    );
  });

  it("restores every limit from a file without limitKeys (an older version's), as before", () => {
    const { adopted, lines } = restoreKeyed(undefined, { out: "recipient", in: "sender" });
    assert.deepEqual(adopted, ["in c@x", "out a@x", "out b@x"]);
    assert.doesNotMatch(lines.join("\n"), /limit key changed/);
  });

  it("leaves a limit the config no longer has to the target (dropped there as not configured)", () => {
    const { adopted } = restoreKeyed({ out: "sender", in: "sender" }, { in: "sender" });
    assert.deepEqual(adopted, ["in c@x", "out a@x", "out b@x"]);
  });
});
