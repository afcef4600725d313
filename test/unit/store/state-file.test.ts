import { describe, it } from "node:test";
import { execFileSync } from "node:child_process";
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  encodeState,
  parseState,
  type PersistedState,
  readStateFile,
  serializeState,
  writeStateFile,
  writeStateFileAsync,
} from "../../../src/store/state-file.ts";
import type { AlertNotice } from "../../../src/policy/alert-notice.ts";
import { ROOT, runCommand } from "../../helpers/runtime.ts";
import { newCounter } from "../../../src/policy/rate.ts";
import { JsonBytes } from "../../../src/store/json-bytes.ts";
import {
  ALERT_NONE,
  ALERT_PENDING,
  makeCounter,
  type SenderCounter,
  Tally,
} from "../../../src/policy/sender-counter.ts";

const NOTICE: AlertNotice = {
  id: "thresholds|spam@x|1000",
  limit: "thresholds",
  keyKind: "sender",
  key: "spam@x",
  count: 21,
  limitCount: 20,
  windowMs: 300_000,
  firstSeen: 1000,
  lastSeen: 5000,
  topSubjects: [["Buy now", 15], ["Hi", 6]],
  topClientIps: [["192.0.2.7", 21]],
};

function sampleState(): PersistedState {
  const spammer: SenderCounter = {
    ...makeCounter(1000, 21, 5000, ALERT_PENDING),
    subjects: Tally.from([["Buy now", 15], ["Hi", 6]]),
    clientIps: new Tally("192.0.2.7", 21),
  };
  const quiet = makeCounter(2000, 1, 2000, ALERT_NONE);
  return {
    savedAt: 6000,
    tables: new Map([
      ["thresholds", new Map([["spam@x", spammer], ["<>", quiet]])],
      ["other", new Map()],
    ]),
    outbox: [NOTICE],
  };
}

async function withTempDirAsync(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "mailpolicyd-state-"));
  try {
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function withTempDir(body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "mailpolicyd-state-"));
  try {
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("serializeState / parseState", () => {
  it("round-trips counters, seen subjects and IPs, the outbox, savedAt and journalFrom", () => {
    const state = { ...sampleState(), journalFrom: 7 };
    const { refused, ...back } = parseState(serializeState(state), 6000);
    assert.deepEqual(back, state);
    assert.equal(refused.total, 0);
  });

  it("keeps sightings of one kind when the other was never seen", () => {
    const counter: SenderCounter = { ...makeCounter(1, 2, 3, ALERT_NONE), subjects: new Tally("s", 2) };
    const state: PersistedState = {
      savedAt: 0,
      tables: new Map([["t", new Map([["k", counter]])]]),
      outbox: [],
    };
    const back = parseState(serializeState(state)).tables.get("t")!.get("k")!;
    assert.deepEqual([...back.subjects!], [["s", 2]]);
    assert.equal(back.clientIps, undefined);
  });

  it("keeps a sliding window's two generations of sightings apart: [value, count, older part]", () => {
    const counter = makeCounter(1, 2, 3, ALERT_NONE);
    counter.subjects = Tally.from([["Hi", 2], ["Old", 1]])!.aged();
    counter.subjects!.add("Hi");
    counter.subjects!.add("New", 4);
    const state: PersistedState = {
      savedAt: 0,
      tables: new Map([["t", new Map([["k", counter]])]]),
      outbox: [],
    };
    const text = serializeState(state);
    assert.deepEqual(JSON.parse(text).limits.t[0][5], [["Hi", 3, 2], ["New", 4], ["Old", 1, 1]]);
    const back = parseState(text).tables.get("t")!.get("k")!.subjects!;
    assert.deepEqual([...back], [["Hi", 3], ["New", 4], ["Old", 1]]);
    back.aged();
    assert.deepEqual([...back], [["Hi", 1], ["New", 4]], "the older generation is still the older one");
  });

  it("restores every counter with the shape new counters have, so the hit path sees one shape", () => {
    const rows = [["a", 1, 2, 3, 0], ["b", 1, 2, 3, 0, [["s", 1]], null, 4, "m"]];
    const text = JSON.stringify({ format: "mailpolicyd-state", version: 1, savedAt: 1, limits: { t: rows } });
    const table = parseState(text).tables.get("t")!;
    assert.deepEqual(Object.keys(table.get("a")!), Object.keys(newCounter(0)));
    assert.deepEqual(Object.keys(table.get("b")!), Object.keys(newCounter(0)));
  });

  it("writes a tagged JSON document", () => {
    const data = JSON.parse(serializeState(sampleState()));
    assert.equal(data.format, "mailpolicyd-state");
    assert.equal(data.version, 1);
  });

  it("rejects files of another format or version", () => {
    const text = serializeState(sampleState());
    for (
      const bad of [
        text.replace('"mailpolicyd-state"', '"something-else"'),
        text.replace('"version":1', '"version":2'),
        "null",
        "[]",
        "{}",
        "not json",
      ]
    ) {
      assert.throws(() => parseState(bad), Error, bad.slice(0, 40));
    }
  });

  it("refuses bad counter rows one by one, with their reasons, and keeps the others", () => {
    const head = '{"format":"mailpolicyd-state","version":1,"savedAt":1000,"limits":{"t":[';
    const state = parseState(head + '[42,1,1,1,0],["k","x",1,1,0],["ok",1,1,1,0],["k",1,null,1,0]]}}', 1000);
    assert.deepEqual([...state.tables.get("t")!.keys()], ["ok"]);
    assert.equal(state.refused.total, 3);
    assert.equal(state.refused.toString(), "no key: 1, bad window start: 1, bad count: 1");
  });

  it("refuses a file whose limits or tables are not what a state file holds", () => {
    const head = '{"format":"mailpolicyd-state","version":1,"savedAt":1,"limits":';
    assert.throws(() => parseState(head + "[]}"), /limits is not an object/);
    assert.throws(() => parseState(head + '{"t":{"k":1}}}'), /limit t holds no list of rows/);
  });

  it("round-trips each limit's key, and reads a file without them (an older version's) as naming none", () => {
    const limitKeys = new Map([["t", "sender"], ["net", "client_address/24/64+sasl_username"]]);
    const state: PersistedState = { savedAt: 1, limitKeys, tables: new Map([["t", new Map()]]), outbox: [] };
    assert.deepEqual(parseState(serializeState(state)).limitKeys, limitKeys);
    assert.equal(parseState(serializeState({ ...state, limitKeys: undefined })).limitKeys, undefined);
  });

  it("refuses a file whose limitKeys is not an object of strings", () => {
    const head = '{"format":"mailpolicyd-state","version":1,"savedAt":1,"limits":{},"limitKeys":';
    assert.throws(() => parseState(head + "[]}"), /limitKeys is not an object/);
    assert.throws(() => parseState(head + '{"t":1}}'), /limitKeys: the key of t is not a string/);
  });

  it("reads an older file without journalFrom as journal generation 0", () => {
    const state = parseState('{"format":"mailpolicyd-state","version":1,"savedAt":5,"limits":{}}');
    assert.equal(state.journalFrom, 0);
  });

  it("tolerates a file with no limits and no outbox", () => {
    const state = parseState('{"format":"mailpolicyd-state","version":1}');
    assert.equal(state.tables.size, 0);
    assert.deepEqual(state.outbox, []);
    assert.equal(state.savedAt, 0);
  });
});

describe("writeStateFile / readStateFile", () => {
  it("creates missing folders and writes the text, leaving no .tmp behind", () => {
    withTempDir((dir) => {
      const path = join(dir, "a", "b", "state.json");
      writeStateFile(path, "first");
      assert.equal(readFileSync(path, "utf8"), "first");
      assert.deepEqual(readdirSync(join(dir, "a", "b")), ["state.json"]);
    });
  });

  it("replaces the old file by renaming a new one over it, not by rewriting it in place", () => {
    withTempDir((dir) => {
      const path = join(dir, "state.json");
      writeStateFile(path, "old, and longer than the new text");
      const before = statSync(path).ino;
      writeFileSync(`${path}.tmp`, "stale leftover of a crash, longer than the new one");
      writeStateFile(path, "new");
      assert.equal(readFileSync(path, "utf8"), "new");
      assert.notEqual(statSync(path).ino, before);
      assert.deepEqual(readdirSync(dir), ["state.json"]);
    });
  });

  it("does not make the state file readable by others", () => {
    withTempDir((dir) => {
      const path = join(dir, "state.json");
      writeStateFile(path, "{}");
      assert.equal(statSync(path).mode & 0o007, 0);
    });
  });

  it("readStateFile gives the text, or undefined when there is no file yet", () => {
    withTempDir((dir) => {
      const path = join(dir, "state.json");
      assert.equal(readStateFile(path), undefined);
      writeStateFile(path, "saved");
      assert.equal(readStateFile(path), "saved");
    });
  });

  it("readStateFile throws other read errors, and refuses a directory or a FIFO without blocking", () => {
    withTempDir((dir) => {
      mkdirSync(join(dir, "state.json"));
      assert.throws(() => readStateFile(join(dir, "state.json")), /is a directory, not a regular file/);
      execFileSync("mkfifo", [join(dir, "fifo.json")]);
      assert.throws(
        () => readStateFile(join(dir, "fifo.json")),
        /is a FIFO \(named pipe\), not a regular file/,
      );
    });
  });

  it("never opens a leftover temporary file as found: a FIFO there is replaced, not written into", async () => {
    await withTempDirAsync(async (dir) => {
      const path = join(dir, "state.json");
      execFileSync("mkfifo", [`${path}.tmp`, `${path}.partial`]);
      writeStateFile(path, "sync");
      assert.equal(readFileSync(path, "utf8"), "sync");
      const whole = { savedAt: 1, tables: new Map(), outbox: [] };
      assert.equal((await writeStateFileAsync(path, whole, () => false)).written, true);
      assert.equal(parseState(readFileSync(path, "utf8")).savedAt, 1);
    });
  });
  it("keeps the old file when the disk fills during the write (a short write is not the whole file)", () => {
    withTempDir((dir) => {
      // A full disk makes write(2) write part of the buffer and return the count; only the next write
      // fails. The file size limit (ulimit -f, SIGXFSZ ignored) does the same on any filesystem.
      const path = join(dir, "state.json");
      writeFileSync(path, "the last good snapshot");
      const script = join(dir, "write.ts");
      writeFileSync(
        script,
        `import { writeStateFile } from ${JSON.stringify(`${ROOT}src/store/state-file.ts`)};\n` +
          `try { writeStateFile(${JSON.stringify(path)}, "x".repeat(20000)); console.log("written"); }\n` +
          `catch (error) { console.log("error " + error.message); }\n`,
      );
      const argv = runCommand(script).map((word) => `'${word}'`).join(" ");
      const output = execFileSync("bash", ["-c", `ulimit -f 8; trap '' XFSZ; exec ${argv}`], {
        encoding: "utf8",
      });
      assert.match(output, /^error /);
      assert.equal(readFileSync(path, "utf8"), "the last good snapshot");
      // Left there, the part written would hold the space a full disk lacks until the next stop's save.
      assert.equal(existsSync(`${path}.tmp`), false, "the part written is removed");
    });
  });
});

describe("writeStateFileAsync", () => {
  const state = () => {
    const table = new Map<string, SenderCounter>();
    for (let i = 0; i < 12_000; i++) {
      table.set(`k${i}@example.org`, { start: i, count: i % 7, last: i + 1, alert: 0 });
    }
    table.set("seen@example.org", {
      start: 1,
      count: 2,
      last: 3,
      alert: 2,
      subjects: new Tally("Hi", 2),
      clientIps: new Tally("192.0.2.1", 2),
    });
    return { savedAt: 42, tables: new Map([["outbound", table]]), outbox: [] };
  };

  it("writes the same text as serializeState, in slices, then renames over the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mpd-async-"));
    try {
      const file = join(dir, "state.json");
      writeFileSync(file, "old");
      const result = await writeStateFileAsync(file, state(), () => false);
      assert.equal(result.written, true);
      assert.ok(result.busyMs > 0 && result.busyMs < 10_000, `busy time measured: ${result.busyMs}`);
      assert.equal(readFileSync(file, "utf8"), serializeState(state()));
      assert.equal(result.bytes, statSync(file).size, "the size it reports is the file's");
      assert.equal(parseState(readFileSync(file, "utf8")).tables.get("outbound")?.size, 12_001);
      assert.deepEqual(readdirSync(dir), ["state.json"], "no partial file left");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("keeps multi-byte characters whole across buffer boundaries and writes rows bigger than the buffer", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mpd-async-"));
    try {
      const file = join(dir, "state.json");
      const table = new Map<string, SenderCounter>();
      // Rows of 3-byte and 4-byte characters fill the buffer unevenly, so some row meets its end.
      for (let i = 0; i < 4000; i++) {
        table.set(`k${i}@example.org`, {
          start: i,
          count: 1,
          last: i,
          alert: 0,
          subjects: new Tally(`€ 😀 Grüße ${"ä".repeat(i % 37)}`),
        });
      }
      table.set("huge@example.org", {
        start: 1,
        count: 1,
        last: 1,
        alert: 0,
        subjects: new Tally("€".repeat(200_000)),
      });
      const whole = { savedAt: 7, tables: new Map([["outbound", table]]), outbox: [] };
      assert.equal((await writeStateFileAsync(file, whole, () => false)).written, true);
      assert.equal(readFileSync(file, "utf8"), serializeState(whole));
      const read = parseState(readFileSync(file, "utf8"), 7);
      const back = read.tables.get("outbound")!;
      // No request carries a subject that long (4096 bytes at most): the restore refuses the row.
      assert.equal(back.get("huge@example.org"), undefined);
      assert.equal(read.refused.toString(), "bad sighting: 1");
      assert.equal(back.get("k36@example.org")?.subjects?.get(`€ 😀 Grüße ${"ä".repeat(36)}`), 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("encodeState pauses after every slice of new bytes, whether or not the writer empties the buffer", () => {
    for (const clearing of [true, false]) {
      const out = new JsonBytes();
      let pauses = 0;
      let written = 0;
      for (const _ of encodeState(state(), out, 8192)) {
        pauses++;
        if (clearing) {
          written += out.length;
          out.clear();
        }
      }
      written += out.length;
      const whole = new TextEncoder().encode(serializeState(state())).length;
      assert.equal(written, clearing ? whole : out.length);
      if (!clearing) assert.equal(out.length, whole);
      // ~420 KB in 8 KB slices: one pause per slice, not one per row once the buffer passed 8 KB.
      assert.ok(
        pauses >= Math.floor(whole / 8192) - 1 && pauses <= Math.ceil(whole / 8192),
        `${pauses} pauses`,
      );
    }
  });

  it("pairs every key with its own counter when the table changes between slices", () => {
    // Each counter's count is its key's number, so a row that paired a key with a neighbour's counter
    // shows. Between slices, keys ahead and behind are deleted, counters replaced and new keys added.
    const table = new Map<string, SenderCounter>();
    const add = (n: number) => table.set(`k${n}@example.org`, makeCounter(1000, n, 1000, ALERT_NONE));
    for (let n = 0; n < 3000; n++) add(n);
    const out = new JsonBytes();
    let next = 3000;
    let pauses = 0;
    for (const _ of encodeState({ savedAt: 1, tables: new Map([["t", table]]), outbox: [] }, out, 2048)) {
      pauses++;
      const keys = [...table.keys()];
      table.delete(keys[keys.length - 1 - pauses]); // ahead
      table.delete(keys[pauses]); // behind
      add(pauses * 7); // an existing key gets a new counter (same count), or a new key comes
      for (let i = 0; i < 5; i++) add(next++);
    }
    assert.ok(pauses > 10, `${pauses} pauses`);
    const rows = parseState(new TextDecoder().decode(out.bytes())).tables.get("t")!;
    assert.ok(rows.size > 3000, `${rows.size} rows`);
    for (const [key, counter] of rows) assert.equal(key, `k${counter.count}@example.org`);
    for (const [key] of table) if (Number(key.slice(1, -12)) > 3100) assert.ok(rows.has(key), key);
  });

  it("abandons the write when cancelled, leaving the old file and no partial one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mpd-async-"));
    try {
      const file = join(dir, "state.json");
      writeFileSync(file, "newer state written at stop");
      let slices = 0;
      const done = await writeStateFileAsync(file, state(), () => ++slices >= 2);
      assert.equal(done.written, false);
      assert.equal(slices, 2, "stopped at the first check that said cancelled");
      assert.equal(readFileSync(file, "utf8"), "newer state written at stop");
      assert.deepEqual(readdirSync(dir), ["state.json"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("sliding windows and per-message counting across a restart", () => {
  it("keeps the previous sub-window's count and the message last counted", () => {
    const counter: SenderCounter = {
      start: 1000,
      count: 4,
      last: 1500,
      alert: ALERT_NONE,
      prev: 17.5,
      instance: "1700000000.4242",
    };
    const state: PersistedState = {
      savedAt: 2000,
      tables: new Map([["s", new Map([["k", counter]])]]),
      outbox: [],
    };
    const back = parseState(serializeState(state)).tables.get("s")!.get("k")!;
    assert.equal(back.prev, 17.5);
    assert.equal(back.instance, "1700000000.4242");
    assert.equal(back.subjects, undefined);
    assert.equal(back.clientIps, undefined);
  });

  it("reads rows written before prev and instance were kept", () => {
    const text = JSON.stringify({
      format: "mailpolicyd-state",
      version: 1,
      savedAt: 1,
      limits: { t: [["a", 1, 2, 3, 0], ["b", 1, 2, 3, 0, [["s", 1]], [["192.0.2.1", 2]]]] },
      outbox: [],
    });
    const table = parseState(text).tables.get("t")!;
    assert.deepEqual(table.get("a"), makeCounter(1, 2, 3, 0));
    assert.deepEqual([...table.get("b")!.clientIps!], [["192.0.2.1", 2]]);
  });
});
