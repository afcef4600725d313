// The zip reader and the zip scan: central directory, local headers when the directory is missing,
// encrypted entries, broken archives (never a throw), nesting and the inflation budget.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { looksLikeZip, readZip } from "../../../src/content/zip-reader.ts";
import { executableMagic } from "../../../src/content/executables.ts";
import { scanZip } from "../../../src/content/zip-scan.ts";
import type { ContentFacts } from "../../../src/content/carried-file.ts";
import { unicodePathExtra, windowsExecutable, zip } from "../../helpers/content-corpus.ts";

const facts = (): ContentFacts => ({ files: [], corruptZips: [], skipped: [] });
const budget = (maxEntries = 100) => ({
  bytesLeft: 1 << 20,
  headBytesLeft: 1 << 20,
  maxEntries,
  entriesLeft: 100_000,
});
const CENTRAL_SIGNATURE = Buffer.from([0x50, 0x4b, 0x01, 0x02]);

describe("readZip", () => {
  it("lists entries from the central directory, with UTF-8 names and flags", () => {
    const bytes = zip([
      { name: "a.txt", data: "hello", deflate: true },
      { name: "ü/b.exe", data: "MZ" },
      { name: "c.doc", data: "x", encrypted: true },
    ]);
    assert.ok(looksLikeZip(bytes));
    const listing = readZip(bytes, 100);
    assert.equal(listing.problem, undefined);
    assert.deepEqual(
      listing.entries.map(({ name, encrypted, method }) => ({ name, encrypted, method })),
      [
        { name: "a.txt", encrypted: false, method: 8 },
        { name: "ü/b.exe", encrypted: false, method: 0 },
        { name: "c.doc", encrypted: true, method: 0 },
      ],
    );
  });

  it("falls back to local headers when the directory is cut off", () => {
    const bytes = zip([{ name: "a.txt", data: "hello" }, { name: "b.exe", data: "MZ" }]);
    const cut = bytes.subarray(0, 30 + 5 + 5 + 30 + 5 + 2);
    const listing = readZip(cut, 100);
    assert.deepEqual(listing.entries.map((entry) => entry.name), ["a.txt", "b.exe"]);
    assert.equal(listing.problem, "no central directory");
  });

  it("never throws on garbage, cut or lying archives", () => {
    const entries = [{ name: "a.txt", data: "hello", deflate: true }, { name: "b.exe", data: "MZ" }];
    for (const bytes of [zip(entries), zip(entries, { zip64: true })]) {
      for (let length = 0; length <= bytes.length; length++) readZip(bytes.subarray(0, length), 100);
      for (let seed = 1; seed < 300; seed++) {
        const mangled = Uint8Array.from(bytes);
        mangled[(seed * 7919) % mangled.length] ^= seed & 0xff;
        const result = facts();
        scanZip(mangled, "m.zip", 2, budget(), result);
      }
    }
    assert.equal(readZip(new Uint8Array(100), 100).entries.length, 0);
  });

  it("reads every directory record when the end record's entry count lies (unzip and Python do)", () => {
    const bytes = Buffer.from(zip([{ name: "readme.txt", data: "hello" }, { name: "evil.exe", data: "MZ" }]));
    for (const count of [0, 1]) {
      const lying = Buffer.from(bytes);
      lying.writeUInt16LE(count, lying.length - 22 + 8);
      lying.writeUInt16LE(count, lying.length - 22 + 10);
      assert.deepEqual(readZip(lying, 100).entries.map((entry) => entry.name), ["readme.txt", "evil.exe"]);
      assert.equal(readZip(lying, 1).entries.length, 1);
    }
  });

  it("gives the local header's name too when it differs from the directory's (streaming extractors use it)", () => {
    const bytes = Buffer.from(zip([{ name: "evil.txt", data: "hello" }, { name: "same.txt", data: "x" }]));
    bytes.write("evil.exe", 30, "latin1"); // the first entry's local header; the directory still says .txt
    const [first, second] = readZip(bytes, 100).entries;
    assert.equal(first.name, "evil.txt");
    assert.equal(first.localName, "evil.exe");
    assert.equal(second.localName, undefined, "the same name: nothing more");
    const result = facts();
    scanZip(bytes, "a.zip", 2, budget(), result);
    assert.deepEqual(result.files.map((file) => file.name), ["evil.txt", "evil.exe", "same.txt"]);
  });

  it("reads Zip64 (zip -fz): counts, offsets and sizes from the zip64 record and extra fields", () => {
    // Explorer, 7-Zip and unzip open it; read by the classic fields alone, the directory offset 0xFFFFFFFF
    // sent the reader to the local headers, whose size 0xFFFFFFFF hid every entry after the first.
    const entries = [
      { name: "readme.txt", data: "hello ".repeat(500), deflate: true },
      { name: "photo.jpg", data: windowsExecutable() },
      { name: "evil.exe", data: "MZ" },
    ];
    const bytes = zip(entries, { zip64: true });
    const listing = readZip(bytes, 100);
    assert.equal(listing.problem, undefined);
    assert.deepEqual(listing.entries.map((entry) => entry.name), ["readme.txt", "photo.jpg", "evil.exe"]);
    const result = facts();
    scanZip(bytes, "z64.zip", 2, budget(), result);
    assert.deepEqual(result.corruptZips, []);
    const photo = result.files.find((file) => file.name === "photo.jpg");
    assert.equal(executableMagic(photo!.head), "a Windows executable (MZ)");
    // Without its directory (cut at zip_max_bytes), the local headers' zip64 sizes step from entry to entry.
    const cut = bytes.subarray(0, bytes.length - 200);
    assert.deepEqual(readZip(cut, 100).entries.map((entry) => entry.name), [
      "readme.txt",
      "photo.jpg",
      "evil.exe",
    ]);
  });

  it("a local header whose size runs past the end is a problem, not a whole listing", () => {
    const bytes = Buffer.from(zip([{ name: "a.txt", data: "hello" }, { name: "evil.exe", data: "MZ" }]));
    bytes.writeUInt32LE(0xfffffff0, 18); // the first entry's size, in its local header
    const local = bytes.subarray(0, 30 + 5 + 5 + 30 + 8 + 2); // no directory: the local headers are read
    assert.deepEqual(readZip(local, 100), {
      entries: [{ name: "a.txt", encrypted: false, method: 0, compressedSize: 0xfffffff0, dataStart: 35 }],
      problem: "entry 1 runs past the end",
    });
  });

  it("gives the names of Unicode Path extra fields too (unzip and 7-Zip save the entry under them)", () => {
    const bytes = zip([
      { name: "invoice.txt", data: "WScript.Echo 1", extra: unicodePathExtra("invoice.txt", "invoice.js") },
      { name: "same.txt", data: "x", extra: unicodePathExtra("same.txt", "same.txt") },
    ]);
    const [first, second] = readZip(bytes, 100).entries;
    assert.deepEqual(first.unicodeNames, ["invoice.js"]);
    assert.equal(second.unicodeNames, undefined, "the same name: nothing more");
    const result = facts();
    scanZip(bytes, "a.zip", 2, budget(), result);
    assert.deepEqual(result.files.map((file) => file.name), ["invoice.txt", "invoice.js", "same.txt"]);
    // From the local headers alone (the directory cut off at zip_max_bytes) as well.
    const cut = bytes.subarray(0, Buffer.from(bytes).indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])));
    assert.deepEqual(readZip(cut, 100).entries[0].unicodeNames, ["invoice.js"]);
  });

  it("a directory entry whose other name is a file's is checked under it", () => {
    // unzip writes `docs/` with the Unicode Path name evil.js as the file evil.js; streaming extractors
    // write one whose local header says evil.js as that file.
    const unicode = zip([{
      name: "docs/",
      data: "WScript.Echo 1",
      extra: unicodePathExtra("docs/", "evil.js"),
    }]);
    const local = Buffer.from(zip([{ name: "docs/aa", data: "WScript.Echo 1" }]));
    local.write("evil.js", 30, "latin1"); // the local header's name; the directory's becomes docs/a/
    local.write("docs/a/", local.indexOf("docs/aa"), "latin1");
    for (const bytes of [unicode, local]) {
      const result = facts();
      scanZip(bytes, "a.zip", 2, budget(), result);
      assert.ok(result.files.some((file) => file.name === "evil.js"), JSON.stringify(result.files));
    }
    const plain = facts();
    scanZip(zip([{ name: "docs/", data: "" }]), "a.zip", 2, budget(), plain);
    assert.deepEqual(plain.files, [], "a directory is no file");
  });

  it("reads both of two zips concatenated: the last (unzip, Explorer) and the first (7-Zip)", () => {
    const report = zip([{ name: "report.pdf", data: "%PDF-1.4 quarterly figures" }]);
    const script = zip([{ name: "run.vbs", data: "WScript.Echo('run')" }]);
    const cases: [Uint8Array, Uint8Array, string][] = [[report, script, "run.vbs"], [
      script,
      report,
      "report.pdf",
    ]];
    for (const [first, last, lastName] of cases) {
      const listing = readZip(Buffer.concat([first, last]), 100);
      assert.equal(listing.problem, undefined);
      assert.deepEqual(listing.entries.map((entry) => entry.name).sort(), ["report.pdf", "run.vbs"]);
      const shifted = listing.entries.find((entry) => entry.name === lastName)!;
      assert.equal(shifted.dataStart, first.length + 30 + lastName.length); // its offset plus what came before
    }
    // A program before the zip (a self-extractor): the zip's entries, at their shifted offsets.
    const program = windowsExecutable(700);
    const sfx = readZip(Buffer.concat([program, script]), 100);
    assert.deepEqual(sfx.entries.map((entry) => [entry.name, entry.dataStart]), [[
      "run.vbs",
      program.length + 30 + "run.vbs".length,
    ]]);
  });

  it("stops at maxEntries", () => {
    const bytes = zip(Array.from({ length: 10 }, (_, i) => ({ name: `${i}.txt`, data: "x" })));
    assert.equal(readZip(bytes, 3).entries.length, 3);
  });

  it("says entries are left only when one follows the maxEntries read: at N - 1, N and N + 1", () => {
    const max = 4;
    for (const count of [max - 1, max, max + 1]) {
      const bytes = zip(Array.from({ length: count }, (_, i) => ({ name: `${i}.txt`, data: "x" })));
      const result = facts();
      scanZip(bytes, "n.zip", 2, budget(max), result);
      const said = count > max ? ["n.zip: entries beyond zip_max_entries"] : [];
      assert.deepEqual(result.skipped, said, `${count} entries`);
      // Cut before its central directory, the zip is listed from its local headers.
      const cut = bytes.subarray(0, Buffer.from(bytes).indexOf(CENTRAL_SIGNATURE));
      for (
        const [how, listing] of [["directory", readZip(bytes, max)], ["local", readZip(cut, max)]] as const
      ) {
        assert.equal(listing.entries.length, Math.min(count, max), `${count} entries, ${how}`);
        assert.equal(listing.entriesLeft === true, count > max, `${count} entries, ${how}`);
      }
    }
  });
});

describe("scanZip", () => {
  it("reads an entry's first bytes (stored or deflated) for its magic", () => {
    const exe = windowsExecutable(100_000);
    const result = facts();
    scanZip(
      zip([{ name: "a.jpg", data: exe, deflate: true }, { name: "b.jpg", data: exe }]),
      "z.zip",
      1,
      budget(),
      result,
    );
    assert.deepEqual(result.files.map((file) => [file.name, file.head[0], file.head[1], file.head.length]), [
      ["a.jpg", 0x4d, 0x5a, 512],
      ["b.jpg", 0x4d, 0x5a, 512],
    ]);
  });

  it("opens nested zips within the budget, and says when it does not", () => {
    const inner = zip([{ name: "x.exe", data: "MZ".repeat(5000), deflate: true }]);
    const outer = zip([{ name: "inner.zip", data: inner, deflate: true }]);
    const opened = facts();
    scanZip(outer, "outer.zip", 2, budget(), opened);
    assert.deepEqual(opened.files.map((file) => `${file.where}: ${file.name}`), [
      "in outer.zip: inner.zip",
      "in outer.zip/inner.zip: x.exe",
    ]);
    const poor = facts();
    scanZip(outer, "outer.zip", 2, {
      bytesLeft: 10,
      headBytesLeft: 10,
      maxEntries: 100,
      entriesLeft: 100_000,
    }, poor);
    assert.deepEqual(poor.skipped, ["outer.zip/inner.zip: over zip_max_bytes"]);
  });

  it("entries of zips in a zip are counted against the message's zip_max_message_entries", () => {
    const inner = zip(Array.from({ length: 4 }, (_, i) => ({ name: `f${i}.txt`, data: "", deflate: true })));
    const outer = zip(["a.zip", "b.zip", "c.zip"].map((name) => ({ name, data: inner, deflate: true })));
    const result = facts();
    // The outer zip's three entries, a.zip's four, two of b.zip's: nine.
    const left = { ...budget(), entriesLeft: 9 };
    scanZip(outer, "o.zip", 2, left, result);
    assert.deepEqual(result.files.map((file) => `${file.where}: ${file.name}`), [
      "in o.zip: a.zip",
      "in o.zip/a.zip: f0.txt",
      "in o.zip/a.zip: f1.txt",
      "in o.zip/a.zip: f2.txt",
      "in o.zip/a.zip: f3.txt",
      "in o.zip: b.zip",
      "in o.zip/b.zip: f0.txt",
      "in o.zip/b.zip: f1.txt",
      "in o.zip: c.zip",
    ]);
    assert.deepEqual(result.skipped, ["o.zip/b.zip: entries beyond zip_max_message_entries"]);
    assert.equal(left.entriesLeft, 0);
  });

  it("a zip bomb inflates no further than the budget", () => {
    const bomb = zip([{ name: "big.zip", data: new Uint8Array(5_000_000), deflate: true }]);
    const result = facts();
    scanZip(bomb, "bomb.zip", 2, budget(), result);
    assert.deepEqual(result.skipped, ["bomb.zip/big.zip: over zip_max_bytes"]);
  });
  it("stored nested zips count against zip_max_bytes", () => {
    // Distinct stored copies of a zip of 1000 entries, more than the budget holds: each one read is charged.
    const inner = overlappingZip(1000, Buffer.from("hello"), (i) => `f${i}.txt`);
    const copies = Array.from({ length: 100 }, (_, i) => ({ name: `z${i}.zip`, data: inner }));
    const outer = zip(copies);
    const result = facts();
    scanZip(
      outer,
      "copies.zip",
      2,
      { bytesLeft: 1024 * 1024, headBytesLeft: 1024 * 1024, maxEntries: 1000, entriesLeft: 100_000 },
      result,
    );
    const opened = Math.floor(1024 * 1024 / inner.length);
    assert.equal(result.files.length, 100 + opened * 1000);
    assert.ok(
      result.skipped.includes("copies.zip/z99.zip: over zip_max_bytes"),
      result.skipped.slice(-2).join("; "),
    );
  });

  it("an overlapping zip bomb: entries that share data are read once", () => {
    // 1000 directory entries all pointing at one stored zip of 1000 entries: 146 KB of mail that made a
    // million carried files, 3.5 s of CPU and half a GB when each entry was opened in turn.
    const inner = overlappingZip(1000, Buffer.from("hello"), (i) => `f${i}.txt`);
    const outer = overlappingZip(1000, inner, (i) => `z${i}.zip`);
    const result = facts();
    scanZip(outer, "bomb.zip", 2, {
      bytesLeft: 4 * 1024 * 1024,
      headBytesLeft: 4 * 1024 * 1024,
      maxEntries: 1000,
      entriesLeft: 100_000,
    }, result);
    assert.equal(result.files.length, 1000 + 1000, "every name checked, the inner zip opened once");
    assert.ok(
      result.corruptZips.includes("bomb.zip: 999 entries share another entry's data"),
      result.corruptZips.join("; "),
    );
    assert.ok(result.corruptZips.includes("bomb.zip/z0.zip: 999 entries share another entry's data"));
  });
});

/** A zip whose directory has `count` entries, every one pointing at the same stored `data`. */
function overlappingZip(count: number, data: Uint8Array, entryName: (i: number) => string): Buffer {
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  const centrals: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const name = Buffer.from(entryName(i));
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    centrals.push(central, name);
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(count, 8);
  end.writeUInt16LE(count, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(30 + data.length, 16);
  return Buffer.concat([local, data, directory, end]);
}
