// The gzip scan, on streams Debian's gzip and tar write: the file inside under the name gunzip gives it and
// the header's, a .tar.gz read as a tar, archives inside opened to the depth, a gzip bomb inflated no
// further than zip_max_bytes, and cut, mangled or padded streams (never a throw, what could be inflated
// still checked).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { ContentFacts } from "../../../src/content/carried-file.ts";
import { executableMagic } from "../../../src/content/executables.ts";
import { looksLikeGzip, scanGzip } from "../../../src/content/gzip-scan.ts";
import { windowsExecutable, zip } from "../../helpers/content-corpus.ts";
import { gzipBomb, gzipOf, noiseFile, tarGzOf } from "../../helpers/real-archives.ts";

const facts = (): ContentFacts => ({ files: [], corruptZips: [], skipped: [] });
const budget = (bytesLeft = 1 << 20, maxEntries = 100) => ({
  bytesLeft,
  headBytesLeft: bytesLeft,
  maxEntries,
  entriesLeft: 100_000,
});
const program = windowsExecutable(3000);
const MB = 1024 * 1024;

/** The files found, as "where: name" with " (MZ)" when its first bytes are a program's. */
function found(result: ContentFacts): string[] {
  return result.files.map((file) =>
    `${file.where}: ${file.name}${executableMagic(file.head) === undefined ? "" : " (MZ)"}`
  );
}

describe("scanGzip", () => {
  it("the file inside: under gunzip's name and the header's, with its first bytes", () => {
    const named = gzipOf({ name: "invoice.exe", data: program });
    assert.ok(looksLikeGzip(named));
    const result = facts();
    scanGzip(named, "invoice.gz", 2, budget(), result);
    assert.deepEqual(found(result), ["in invoice.gz: invoice (MZ)", "in invoice.gz: invoice.exe (MZ)"]);
    const nameless = facts();
    scanGzip(gzipOf({ name: "photo.jpg", data: program }, false), "report.pdf.gz", 2, budget(), nameless);
    assert.deepEqual(found(nameless), ["in report.pdf.gz: report.pdf (MZ)"]);
    assert.deepEqual([...nameless.corruptZips, ...nameless.skipped], []);
  });

  it("a .tar.gz and a .tgz are read as the tar they hold, and what the tar holds to the depth", () => {
    const inner = zip([{ name: "setup.exe", data: program, deflate: true }]);
    const bytes = tarGzOf([{ name: "invoice.exe", data: "x" }, { name: "docs/a.zip", data: inner }]);
    for (const name of ["docs.tar.gz", "docs.tgz"]) {
      const result = facts();
      scanGzip(bytes, name, 2, budget(), result);
      assert.deepEqual(found(result), [
        `in ${name}: docs.tar`,
        `in ${name}: invoice.exe`,
        `in ${name}: docs/a.zip`,
        `in ${name}/docs/a.zip: setup.exe (MZ)`,
      ]);
    }
    const shallow = facts();
    scanGzip(bytes, "docs.tgz", 1, budget(), shallow);
    assert.deepEqual(shallow.skipped, ["docs.tgz/docs/a.zip: archives nested deeper than zip_max_depth"]);
  });

  it("a gzip bomb (1 GB of zeros) inflates no further than the budget", () => {
    const bomb = gzipBomb();
    assert.ok(bomb.length < 2 * MB, `${bomb.length} bytes`);
    const before = process.memoryUsage().rss;
    const result = facts();
    const left = budget(4 * MB);
    scanGzip(bomb, "bomb.gz", 2, left, result);
    const grown = process.memoryUsage().rss - before;
    assert.ok(left.bytesLeft >= 0 && left.bytesLeft < 2 * MB, `${left.bytesLeft} bytes left`);
    assert.match(result.skipped.join(), /^bomb\.gz: only its first \d+ bytes inflated \(zip_max_bytes\)$/);
    assert.deepEqual(result.corruptZips, []);
    // 1 GB inflated whole would be 1 GB here; the budget's 4 MB and a few tries within it are not.
    assert.ok(grown < 256 * MB, `RSS grew by ${Math.round(grown / MB)} MB`);
  });

  it("a .tar.gz over the budget: its tar read as far as the budget goes, and said", () => {
    const bytes = tarGzOf([{ name: "early.exe", data: "x" }, noiseFile("big.bin", 200_000), {
      name: "late.exe",
      data: "x",
    }]);
    const result = facts();
    scanGzip(bytes, "big.tar.gz", 2, budget(100_000), result);
    assert.deepEqual(found(result), [
      "in big.tar.gz: big.tar",
      "in big.tar.gz: early.exe",
      "in big.tar.gz: big.bin",
    ]);
    assert.match(result.skipped.join(), /big\.tar\.gz: only its first \d+ bytes inflated \(zip_max_bytes\)/);
    assert.deepEqual(result.corruptZips, [], "a tar cut by the budget is not corrupt");
  });

  it("junk after the stream is ignored as gunzip ignores it; a cut or broken stream is read as far as it goes", () => {
    const bytes = tarGzOf([{ name: "a.txt", data: "hello" }, { name: "run.exe", data: program }]);
    const padded = facts();
    scanGzip(Buffer.concat([bytes, Buffer.from("trailing junk")]), "a.tgz", 2, budget(), padded);
    assert.deepEqual(found(padded), ["in a.tgz: a.tar", "in a.tgz: a.txt", "in a.tgz: run.exe (MZ)"]);
    assert.deepEqual(padded.corruptZips, []);
    const cut = facts();
    scanGzip(bytes.subarray(0, bytes.length - 8), "cut.tgz", 2, budget(), cut);
    assert.deepEqual(found(cut), ["in cut.tgz: cut.tar", "in cut.tgz: a.txt", "in cut.tgz: run.exe (MZ)"]);
    assert.deepEqual(cut.corruptZips, ["cut.tgz: ends before its trailer"]);
    for (let length = 0; length <= bytes.length; length += 5) {
      scanGzip(bytes.subarray(0, length), "c.tgz", 2, budget(), facts());
    }
    for (let seed = 1; seed < 300; seed++) {
      const mangled = Uint8Array.from(bytes);
      mangled[(seed * 7919) % mangled.length] ^= seed & 0xff;
      scanGzip(mangled, "m.tgz", 2, budget(), facts());
    }
    const notGzip = facts();
    scanGzip(Buffer.from("plain text"), "notes.gz", 2, budget(), notGzip);
    assert.deepEqual(notGzip.corruptZips, ["notes.gz: no gzip header"]);
  });

  it("members beyond zip_max_entries are not inflated, and said", () => {
    const member = gzipOf({ name: "a.txt", data: "hello\n" }, false);
    const result = facts();
    scanGzip(Buffer.concat(Array.from({ length: 5 }, () => member)), "many.gz", 2, budget(MB, 3), result);
    assert.deepEqual(result.skipped, ["many.gz: members beyond zip_max_entries"]);
    assert.equal(Buffer.from(result.files[0].head).toString(), "hello\n".repeat(3));
  });

  it("members of gzips in a .tar.gz are counted against the message's zip_max_message_entries", () => {
    const member = gzipOf({ name: "a.txt", data: "hello\n" }, false);
    const fourMembers = Buffer.concat(Array.from({ length: 4 }, () => member));
    const names = ["a.gz", "b.gz", "c.gz"];
    const bytes = tarGzOf(names.map((name) => ({ name, data: fourMembers })));
    const result = facts();
    // The .tar.gz's one member, its tar's three entries, a.gz's four members, two of b.gz's: ten.
    const left = { ...budget(), entriesLeft: 10 };
    scanGzip(bytes, "x.tar.gz", 2, left, result);
    const heads = result.files.filter((file) => file.where !== "in x.tar.gz");
    assert.deepEqual(heads.map((file) => `${file.where}: ${Buffer.from(file.head).toString()}`), [
      `in x.tar.gz/a.gz: ${"hello\n".repeat(4)}`,
      `in x.tar.gz/b.gz: ${"hello\n".repeat(2)}`,
      "in x.tar.gz/c.gz: ",
    ]);
    assert.deepEqual(result.skipped, ["x.tar.gz/b.gz: members beyond zip_max_message_entries"]);
    assert.equal(left.entriesLeft, 0);
  });

  it("says members are left only when one follows the zip_max_entries read: at N - 1, N and N + 1", () => {
    const member = gzipOf({ name: "a.txt", data: "hello\n" }, false);
    const max = 4;
    for (const count of [max - 1, max, max + 1]) {
      const result = facts();
      const stream = Buffer.concat(Array.from({ length: count }, () => member));
      scanGzip(stream, "n.gz", 2, budget(MB, max), result);
      const said = count > max ? ["n.gz: members beyond zip_max_entries"] : [];
      assert.deepEqual(result.skipped, said, `${count} members`);
      assert.equal(Buffer.from(result.files[0].head).toString(), "hello\n".repeat(Math.min(count, max)));
    }
  });
});
