// The tar reader and the tar scan, on archives Debian's tar writes (GNU, pax, ustar and V7 formats): every
// name an extractor saves an entry under (GNU long names, pax paths, ustar's prefix), each entry's first
// bytes, nested archives to the depth, zip_max_entries, and cut or mangled archives (never a throw, what
// could be read still checked, the archive named as a corrupt zip is).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { ContentFacts } from "../../../src/content/carried-file.ts";
import { executableMagic } from "../../../src/content/executables.ts";
import { looksLikeTar, readTar } from "../../../src/content/tar-reader.ts";
import { scanTar } from "../../../src/content/tar-scan.ts";
import { scanZip } from "../../../src/content/zip-scan.ts";
import { windowsExecutable, zip } from "../../helpers/content-corpus.ts";
import { tarListing, tarOf } from "../../helpers/real-archives.ts";

const facts = (): ContentFacts => ({ files: [], corruptZips: [], skipped: [] });
const budget = (maxEntries = 100) => ({
  bytesLeft: 1 << 20,
  headBytesLeft: 1 << 20,
  maxEntries,
  entriesLeft: 100_000,
});
const program = windowsExecutable(3000);
const LONG_NAME = `${"quarterly-report-".repeat(7)}invoice.exe`; // 130 characters: past the header's 100

/** The files found, as "where: name" with " (MZ)" when its first bytes are a program's. */
function found(result: ContentFacts): string[] {
  return result.files.map((file) =>
    `${file.where}: ${file.name}${executableMagic(file.head) === undefined ? "" : " (MZ)"}`
  );
}

describe("readTar", () => {
  for (const format of ["gnu", "pax", "ustar", "v7"]) {
    it(`lists a ${format} archive's files with their first bytes`, () => {
      const files = [
        { name: "readme.txt", data: "hello\n" },
        { name: "docs/photo.jpg", data: program },
        { name: "invoice.exe", data: program },
      ];
      const bytes = tarOf(files, format);
      assert.ok(looksLikeTar(bytes));
      const listing = readTar(bytes, 100);
      assert.equal(listing.problem, undefined);
      const names = listing.entries.filter((entry) => !entry.directory).map((entry) => entry.name);
      assert.deepEqual(names, tarListing(bytes).filter((name) => !name.endsWith("/")));
      assert.deepEqual(names, ["readme.txt", "docs/photo.jpg", "invoice.exe"]);
      const photo = listing.entries[1];
      assert.deepEqual(bytes.subarray(photo.dataStart, photo.dataStart + photo.size), program);
    });
  }

  it("a name past the header's 100 bytes: GNU's long name, pax's path, ustar's prefix", () => {
    for (const format of ["gnu", "pax"]) {
      const bytes = tarOf([{ name: LONG_NAME, data: program }], format);
      assert.deepEqual(tarListing(bytes), [LONG_NAME]);
      const [entry] = readTar(bytes, 100).entries;
      assert.equal(entry.name, LONG_NAME, format);
      // The header's own name (cut at 100 bytes, or pax's PaxHeaders path) is kept for older readers.
      assert.equal(entry.otherNames?.length, 1, format);
    }
    const deep = `${"d".repeat(120)}/invoice.exe`;
    const ustar = tarOf([{ name: deep, data: program }], "ustar");
    assert.deepEqual(readTar(ustar, 100).entries.filter((e) => !e.directory).map((e) => e.name), [deep]);
  });

  it("a tar appended to a tar is read on, as tar --ignore-zeros reads it", () => {
    const bytes = Buffer.concat([
      tarOf([{ name: "report.pdf", data: "%PDF-1.4\n" }]),
      tarOf([
        { name: "run.exe", data: program },
      ]),
    ]);
    assert.deepEqual(tarListing(bytes, true), ["report.pdf", "run.exe"]);
    assert.deepEqual(readTar(bytes, 100).entries.map((entry) => entry.name), ["report.pdf", "run.exe"]);
  });

  it("never throws on cut or mangled archives, and says when it could not read on", () => {
    const bytes = tarOf([{ name: "a.txt", data: "hello" }, { name: LONG_NAME, data: program }], "pax");
    for (let length = 0; length <= bytes.length; length += 7) {
      const cut = bytes.subarray(0, length);
      scanTar(cut, "cut.tar", 2, budget(), facts());
    }
    for (let seed = 1; seed < 400; seed++) {
      const mangled = Uint8Array.from(bytes);
      mangled[(seed * 7919) % 4096] ^= seed & 0xff;
      scanTar(mangled, "m.tar", 2, budget(), facts());
    }
    // Cut within the program's data: both entries are still checked, the program by its first bytes.
    const programAt = readTar(bytes, 100).entries[1].dataStart;
    const cut = facts();
    scanTar(bytes.subarray(0, programAt + 100), "cut.tar", 2, budget(), cut);
    assert.deepEqual(found(cut).slice(0, 2), ["in cut.tar: a.txt", `in cut.tar: ${LONG_NAME} (MZ)`]);
    assert.deepEqual(cut.corruptZips, ["cut.tar: entry 2 runs past the end"]);
    const cutAtZip = facts();
    scanTar(bytes.subarray(0, programAt + 100), "cut.tar", 2, budget(), cutAtZip, true);
    assert.deepEqual(cutAtZip.corruptZips, [], "cut at zip_max_bytes: no corruption");
    const lying = Uint8Array.from(bytes);
    lying[100] ^= 1; // the first header's mode: its checksum no longer holds
    const broken = facts();
    scanTar(lying, "broken.tar", 2, budget(), broken);
    assert.deepEqual(broken.corruptZips, ["broken.tar: bad header checksum at byte 0"]);
    assert.equal(looksLikeTar(new Uint8Array(512)), false);
  });

  it("reads both ways past a link's, directory's or device's size (tar -x extracts what it covers)", () => {
    // GNU tar ignores a hard link's or a directory's size (nothing follows them), so a size that covers
    // the next entry hid it from a reader that skips it; GNU tar skips a symbolic link's, Python's tarfile
    // does not. Both readings are read.
    const bytes = tarOf([{ name: "a.txt", data: "hello\n" }, { name: "b", data: "" }, {
      name: "invoice.exe",
      data: program,
    }]);
    const [, link, exe] = readTar(bytes, 100).entries;
    const over = exe.dataStart + Math.ceil(exe.size / 512) * 512 - link.dataStart; // its header and data
    for (const type of ["1", "5", "2", "3", "4", "6"]) {
      const crafted = withHeader(bytes, link.dataStart - 512, type, over);
      if (type === "1" || type === "5") {
        assert.deepEqual(tarListing(crafted).map((name) => name.replace(/\/$/, "")), [
          "a.txt",
          "b",
          "invoice.exe",
        ]);
      }
      const names = readTar(crafted, 100).entries.map((entry) => entry.name);
      assert.deepEqual(names, ["a.txt", "b", "invoice.exe"], `type ${type}`);
      const result = facts();
      scanTar(crafted, "crafted.tar", 2, budget(), result);
      assert.ok(found(result).includes("in crafted.tar: invoice.exe (MZ)"), `type ${type}`);
      assert.deepEqual(result.corruptZips, [], `type ${type}`);
    }
    // A size that covers only a pax header: the file behind is read by both readings, under the pax path
    // too (GNU tar's name for it), not only under its header's name, cut at 100 bytes.
    const pax = tarOf([{ name: "a.txt", data: "hello\n" }, { name: "b", data: "" }, {
      name: LONG_NAME,
      data: program,
    }], "pax");
    const [, paxLink, paxFile] = readTar(pax, 100).entries;
    const paxCrafted = withHeader(
      pax,
      paxLink.dataStart - 512,
      "1",
      paxFile.dataStart - 512 - paxLink.dataStart,
    );
    assert.deepEqual(tarListing(paxCrafted), ["a.txt", "b", LONG_NAME]);
    const paxFound = facts();
    scanTar(paxCrafted, "pax.tar", 2, budget(), paxFound);
    assert.ok(found(paxFound).includes(`in pax.tar: ${LONG_NAME} (MZ)`), found(paxFound).join("\n"));
    // The reading over the size is read too: what it comes to after a symbolic link's size is listed.
    const hidden = tarOf([{ name: "a.txt", data: "hello\n" }, { name: "b", data: "" }, {
      name: "cover.txt",
      data: "x".repeat(600),
    }, { name: "invoice.exe", data: program }]);
    const [, symlink, cover] = readTar(hidden, 100).entries;
    const skipped = withHeader(hidden, symlink.dataStart - 512, "2", 512 + Math.ceil(cover.size / 512) * 512);
    assert.deepEqual(tarListing(skipped), ["a.txt", "b", "invoice.exe"]);
    assert.deepEqual(readTar(skipped, 100).entries.map((entry) => entry.name), [
      "a.txt",
      "b",
      "invoice.exe",
      "cover.txt",
    ]);
  });
});

/** The archive with the header at `at` given another type and size (its checksum made to hold again). */
function withHeader(archive: Uint8Array, at: number, type: string, size: number): Uint8Array {
  const bytes = Uint8Array.from(archive);
  bytes[at + 156] = type.charCodeAt(0);
  bytes.set(new TextEncoder().encode(`${size.toString(8).padStart(11, "0")}\0`), at + 124);
  bytes.fill(0x20, at + 148, at + 156);
  const sum = bytes.subarray(at, at + 512).reduce((total, byte) => total + byte, 0);
  bytes.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, "0")}\0 `), at + 148);
  return bytes;
}

describe("scanTar", () => {
  it("checks each entry by its names and first bytes", () => {
    const result = facts();
    scanTar(
      tarOf([{ name: "photo.jpg", data: program }, { name: LONG_NAME, data: "x" }]),
      "a.tar",
      2,
      budget(),
      result,
    );
    assert.deepEqual(found(result).slice(0, 2), ["in a.tar: photo.jpg (MZ)", `in a.tar: ${LONG_NAME}`]);
  });

  it("opens zips and tars inside it to the depth, and a tar inside a zip", () => {
    const innerZip = zip([{ name: "setup.exe", data: program, deflate: true }]);
    const innerTar = tarOf([{ name: "tool.exe", data: program }]);
    const outer = tarOf([{ name: "a.zip", data: innerZip }, { name: "b.tar", data: innerTar }]);
    const opened = facts();
    scanTar(outer, "outer.tar", 2, budget(), opened);
    assert.deepEqual(found(opened), [
      "in outer.tar: a.zip",
      "in outer.tar/a.zip: setup.exe (MZ)",
      "in outer.tar: b.tar",
      "in outer.tar/b.tar: tool.exe (MZ)",
    ]);
    const shallow = facts();
    scanTar(outer, "outer.tar", 1, budget(), shallow);
    assert.deepEqual(shallow.skipped, [
      "outer.tar/a.zip: archives nested deeper than zip_max_depth",
      "outer.tar/b.tar: archives nested deeper than zip_max_depth",
    ]);
    const inZip = facts();
    scanZip(zip([{ name: "docs.tar", data: innerTar, deflate: true }]), "docs.zip", 2, budget(), inZip);
    assert.deepEqual(found(inZip), ["in docs.zip: docs.tar", "in docs.zip/docs.tar: tool.exe (MZ)"]);
  });

  it("reads at most zip_max_entries entries, and says so", () => {
    const files = Array.from({ length: 5 }, (_, i) => ({ name: `f${i}.txt`, data: `${i}` }));
    const result = facts();
    scanTar(tarOf([...files, { name: "late.exe", data: program }]), "many.tar", 2, budget(3), result);
    assert.deepEqual(found(result), ["in many.tar: f0.txt", "in many.tar: f1.txt", "in many.tar: f2.txt"]);
    assert.deepEqual(result.skipped, ["many.tar: entries beyond zip_max_entries"]);
  });

  it("entries of tars in a tar are counted against the message's zip_max_message_entries", () => {
    const inner = tarOf(Array.from({ length: 4 }, (_, i) => ({ name: `f${i}.txt`, data: `${i}` })));
    const outer = tarOf(["a.tar", "b.tar", "c.tar"].map((name) => ({ name, data: inner })));
    const result = facts();
    // The outer tar's three entries, a.tar's four, two of b.tar's: nine.
    const left = { ...budget(), entriesLeft: 9 };
    scanTar(outer, "o.tar", 2, left, result);
    assert.deepEqual(found(result), [
      "in o.tar: a.tar",
      "in o.tar/a.tar: f0.txt",
      "in o.tar/a.tar: f1.txt",
      "in o.tar/a.tar: f2.txt",
      "in o.tar/a.tar: f3.txt",
      "in o.tar: b.tar",
      "in o.tar/b.tar: f0.txt",
      "in o.tar/b.tar: f1.txt",
      "in o.tar: c.tar",
    ]);
    assert.deepEqual(result.skipped, ["o.tar/b.tar: entries beyond zip_max_message_entries"]);
    assert.equal(left.entriesLeft, 0);
  });

  it("says entries are left only when one follows the zip_max_entries read: at N - 1, N and N + 1", () => {
    const max = 4;
    for (const count of [max - 1, max, max + 1]) {
      const archive = tarOf(Array.from({ length: count }, (_, i) => ({ name: `f${i}.txt`, data: `${i}` })));
      const listing = readTar(archive, max);
      assert.equal(listing.entries.length, Math.min(count, max), `${count} entries`);
      assert.equal(listing.entriesLeft === true, count > max, `${count} entries`);
      const result = facts();
      scanTar(archive, "n.tar", 2, budget(max), result);
      const said = count > max ? ["n.tar: entries beyond zip_max_entries"] : [];
      assert.deepEqual(result.skipped, said, `${count} entries`);
    }
  });
});
