// The TNEF reader (winmail.dat): each file's names and first bytes, and what a cut, lying or endless
// stream costs: it stops at the end of the bytes, reads at most maxFiles files, and never throws.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { looksLikeTnef, readTnef } from "../../../src/content/tnef-reader.ts";
import { tnef, windowsExecutable } from "../../helpers/content-corpus.ts";

const program = windowsExecutable(3000);

describe("TNEF reader", () => {
  it("gives each file's title and long name and its first bytes", () => {
    const stream = tnef([
      { title: "INVOIC~1.PDF", longName: "invoice.pdf.js", data: "WScript.Echo('run');" },
      { title: "photo.jpg", data: program },
    ]);
    assert.ok(looksLikeTnef(stream));
    const listing = readTnef(stream, 512, 100);
    assert.equal(listing.problem, undefined);
    assert.deepEqual(listing.files.map((file) => file.names), [["INVOIC~1.PDF", "invoice.pdf.js"], [
      "photo.jpg",
    ]]);
    assert.equal(Buffer.from(listing.files[0].head).toString(), "WScript.Echo('run');");
    assert.deepEqual(listing.files[1].head, program.subarray(0, 512));
    assert.equal(listing.files[1].data.length, 3000);
  });

  it("reads a cut stream as far as it goes", () => {
    const stream = tnef([{ title: "a.txt", data: "x" }, { title: "photo.jpg", data: program }]);
    const cut = readTnef(stream.subarray(0, stream.length - 1000), 512, 100);
    assert.equal(cut.problem, "TNEF cut short");
    assert.deepEqual(cut.files.map((file) => file.names), [["a.txt"], ["photo.jpg"]]);
    assert.deepEqual(cut.files[1].head, program.subarray(0, 512));
  });

  it("reads at most maxFiles files", () => {
    const stream = tnef(Array.from({ length: 50 }, (_, i) => ({ title: `f${i}.txt`, data: "x" })));
    const listing = readTnef(stream, 512, 10);
    assert.equal(listing.files.length, 10);
    assert.equal(listing.problem, "more than 10 files");
  });

  it("stops at lengths and counts that point past the data", () => {
    const stream = Buffer.from(tnef([{ title: "a.pdf", longName: "a.pdf", data: "x" }]));
    // The attAttachment attribute is last, its data 28 bytes: the property count, the property's tag, its
    // value count, its length and the name ("a.pdf" and a NUL in UTF-16). Each count or length made huge.
    const properties = stream.length - 2 - 28;
    assert.equal(stream.readUInt32LE(properties + 4), 0x3707001f);
    for (const offset of [properties, properties + 8, properties + 12]) {
      const lying = Buffer.from(stream);
      lying.writeUInt32LE(0xffffffff, offset);
      const listing = readTnef(lying, 512, 100);
      assert.deepEqual(listing.files.map((file) => file.names), [["a.pdf"]]);
    }
    const huge = Buffer.from(stream);
    huge.writeUInt32LE(0xffffffff, 6 + 5); // the first attribute's length
    assert.deepEqual(readTnef(huge, 512, 100), { files: [], problem: "TNEF cut short" });
  });

  it("never throws on any cut or any byte changed", () => {
    const stream = tnef([{ title: "INVOIC~1.PDF", longName: "invoice.pdf.js", data: "WScript" }]);
    for (let length = 0; length <= stream.length; length++) readTnef(stream.subarray(0, length), 512, 100);
    for (let at = 0; at < stream.length; at++) {
      for (const value of [0x00, 0x7f, 0xff]) {
        const changed = Buffer.from(stream);
        changed[at] = value;
        readTnef(changed, 512, 100);
      }
    }
  });

  it("is not TNEF without the signature", () => {
    assert.equal(looksLikeTnef(Buffer.from("%PDF-1.4")), false);
    assert.deepEqual(readTnef(Buffer.from("%PDF-1.4"), 512, 100), {
      files: [],
      problem: "not TNEF (no signature)",
    });
  });
});
