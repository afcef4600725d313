import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseSnapshotInPieces } from "../../../src/store/snapshot-reader.ts";
import { parseSnapshot, type PersistedState, serializeState } from "../../../src/store/state-file.ts";
import { makeCounter, type SenderCounter, Tally } from "../../../src/policy/sender-counter.ts";
import type { AlertNotice } from "../../../src/policy/alert-notice.ts";

const NOW = 1_780_000_000_000;

function read(text: string): { snapshot: ReturnType<typeof parseSnapshot>; pauses: number } {
  const pieces = parseSnapshotInPieces(text, NOW);
  let pauses = 0;
  for (;;) {
    const step = pieces.next();
    if (step.done) return { snapshot: step.value, pauses };
    pauses++;
  }
}

// Keys and sightings with every character that could confuse a scan by brackets: brackets and quotes
// inside strings, escaped quotes and backslashes, a string ending in a backslash, non-ASCII, controls.
const TRICKY = ['a]"b@x', "[[x]]@y", 'q\\"]z', "end\\", "Grüße ] 😀", "tab\tnl\n", "", ",[", "],["];

function state(rows: number): PersistedState {
  const out = new Map<string, SenderCounter>();
  for (let i = 0; i < rows; i++) {
    const counter = makeCounter(NOW - i, i % 9, NOW - i + 5, (i % 3) as 0 | 1 | 2);
    const tricky = TRICKY[i % TRICKY.length];
    if (i % 2) counter.subjects = Tally.from([[tricky, 2], ["plain", 1]]);
    if (i % 5 === 0) counter.clientIps = new Tally("192.0.2.7", 3);
    if (i % 7 === 0) counter.prev = 4.5;
    if (i % 11 === 0) counter.instance = `m${tricky}`;
    out.set(`k${i}${tricky}`, counter);
  }
  const notice = { id: "out|a]@x|1", limit: "out", key: "a]@x" } as AlertNotice;
  return {
    savedAt: NOW,
    journalFrom: 4,
    // Taken whole by the head's pattern: quotes, backslashes and braces inside its strings too.
    limitKeys: new Map([["out", "sender"], ["empty", 'client_address/24/64+q\\"}z']]),
    tables: new Map([["out", out], ["empty", new Map()]]),
    outbox: [notice],
  };
}

describe("parseSnapshotInPieces", () => {
  it("reads what the daemon writes as one JSON.parse does, pausing between pieces of 2000 rows", () => {
    for (const rows of [0, 1, 1999, 2000, 2001, 4000, 4500]) {
      const text = serializeState(state(rows));
      const { snapshot, pauses } = read(text);
      assert.deepEqual(snapshot, parseSnapshot(text, NOW), `${rows} rows`);
      assert.equal(pauses, Math.floor(rows / 2000), `${rows} rows`);
      assert.deepEqual(snapshot.limitKeys, state(0).limitKeys, `${rows} rows`);
    }
  });

  it("reads a file in another layout (older, or edited by hand) with one JSON.parse", () => {
    const older = '{"format":"mailpolicyd-state","version":1,"savedAt":5,"limits":{"t":[["k",1,1,1,0]]}}';
    assert.deepEqual(read(older).snapshot, parseSnapshot(older, NOW));
    assert.equal(read(older).snapshot.limitKeys, undefined, "no keys recorded: restored as configured");
    const spaced = JSON.stringify(JSON.parse(serializeState(state(3))), null, 2);
    assert.deepEqual(read(spaced).snapshot, parseSnapshot(spaced, NOW));
  });

  it("refuses a file cut short or damaged inside the rows", () => {
    const text = serializeState(state(50));
    for (const cut of [text.length - 1, text.length - 20, Math.floor(text.length / 2), 120]) {
      assert.throws(() => read(text.slice(0, cut)), /malformed state file|JSON/, `cut at ${cut}`);
    }
    assert.throws(() => read(text.replace('],["k1', ']#["k1')), /malformed state file at byte/);
    assert.throws(() => read(`${text.slice(0, -1)},}`), /malformed state file at byte/);
  });

  it("reads what follows the rows as one JSON.parse does, not only as the daemon lays it out", () => {
    const text = serializeState(state(2500));
    const departures = [
      `${text}\n`, // saved again by an editor (vim adds the last line's newline)
      `${text.slice(0, -1)},"future":{"rows":[[1]]}}`, // a field after the outbox, from a newer version
      text.replace('"outbox":', '"outbax":'), // no outbox: none, as JSON.parse's reading has it
      `${text.slice(0, -1)}\t}\r\n`, // white space JSON allows
    ];
    for (const departed of departures) {
      assert.deepEqual(read(departed).snapshot, parseSnapshot(departed, NOW), departed.slice(-40));
    }
    assert.equal(read(`${text}\n`).snapshot.tables[0][1].length, 2500);
  });
});
