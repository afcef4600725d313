// Content-Transfer-Encoding undone chunk by chunk: any split of the input decodes to the same bytes, and
// base64 to exactly what the decoder before Buffer.from's own skipping was used gave: every byte outside the
// alphabet dropped ("=" included), then the rest decoded.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import fc from "fast-check";
import { chunkDecoder } from "../../../src/content/transfer-decoding.ts";

function decodeInPieces(encoding: string, text: string, cut: number): string {
  return decodeCut(encoding, Buffer.from(text, "latin1"), [cut]).toString("latin1");
}

/** The input decoded in pieces of the given lengths, taken in turn. */
function decodeCut(encoding: string, input: Buffer, cuts: number[]): Buffer {
  const decoder = chunkDecoder(encoding);
  const out: Uint8Array[] = [];
  for (let at = 0, i = 0; at < input.length; i++) {
    const cut = cuts[i % cuts.length];
    out.push(decoder.decode(input.subarray(at, at + cut)));
    at += cut;
  }
  out.push(decoder.end());
  return Buffer.concat(out);
}

/** The base64 decoder's meaning, as it was written before: strip every non-alphabet byte, then decode. */
function base64Reference(input: Buffer): Buffer {
  return Buffer.from(input.toString("latin1").replace(/[^A-Za-z0-9+/]+/g, ""), "base64");
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/** Bytes of `pieces`: mostly the alphabet, with runs of one character and line breaks among them. */
const bytesOf = (...others: fc.Arbitrary<string>[]) =>
  fc.array(
    fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...ALPHABET) },
      { weight: 1, arbitrary: fc.constantFrom("AAAAA", "\r\n", "=\r\n", "//////", "A", " ", "\t") },
      ...others.map((arbitrary) => ({ weight: 2, arbitrary })),
    ),
    { maxLength: 400 },
  ).map((pieces) => Buffer.from(pieces.join(""), "latin1"));
/** Base64 with white space only (Buffer.from decodes it as it is) and with padding, base64url and junk. */
const base64ish = fc.oneof(
  bytesOf(fc.constantFrom("\r\n", "\n", " ")),
  bytesOf(
    fc.constantFrom(..."\r\n\r\n \t\f\v=-_.!*\x00\x80\xa0\xff"),
    fc.integer({ min: 0, max: 255 }).map((byte) => String.fromCharCode(byte)),
  ),
);

describe("chunkDecoder", () => {
  const data = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 31) & 0xff));

  it("base64 in any pieces, with line breaks, junk and the final padding", () => {
    const text = data.toString("base64").replace(/.{76}/g, "$&\r\n") + "\r\n";
    for (const cut of [1, 2, 3, 5, 77, 1000]) {
      assert.equal(decodeInPieces("base64", text, cut), data.toString("latin1"), `cut ${cut}`);
    }
    assert.equal(decodeInPieces("base64", "aGk*=\r\n", 3), "hi");
  });

  it("base64: Buffer.from skips every byte but the alphabet, '=', '-' and '_', as the decoder relies on", () => {
    const special = [];
    for (let byte = 0; byte < 256; byte++) {
      const junk = String.fromCharCode(byte);
      const text = `QU${junk}JD${junk}QQ`;
      if (Buffer.from(text, "base64").toString("hex") !== "41424341") special.push(junk);
    }
    assert.deepEqual(special.filter((c) => !ALPHABET.includes(c)), ["-", "=", "_"]);
  });

  it("base64 decodes as before, in any pieces, for any bytes (differential)", () => {
    fc.assert(
      fc.property(
        base64ish,
        fc.array(fc.integer({ min: 1, max: 90 }), { minLength: 1, maxLength: 6 }),
        (input, cuts) => {
          assert.equal(
            decodeCut("base64", input, cuts).toString("hex"),
            base64Reference(input).toString("hex"),
          );
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("base64 decodes as before at every cut of chunks that end in runs, junk or padding", () => {
    const data = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i % 700 < 200 ? 0 : (i * 131) & 0xff)));
    const wrapped = data.toString("base64").replace(/.{76}/g, "$&\r\n");
    const inputs = [
      wrapped,
      wrapped.replace(/.{10}/g, "$&\x80 "),
      wrapped.replace(/\r\n/g, "=\r\n"),
      "QUJDAAAAA\r\nAAAA",
      "AAAAAB",
      "BAAAAA",
      "QUJD\r\nQ",
      "Q\r\nUJ\r\nD\r\nQUJ",
    ];
    for (const text of inputs) {
      const input = Buffer.from(text, "latin1");
      const want = base64Reference(input).toString("hex");
      for (let cut = 1; cut <= Math.min(input.length, 90); cut++) {
        assert.equal(
          decodeCut("base64", input, [cut]).toString("hex"),
          want,
          `cut ${cut} of ${text.slice(0, 20)}`,
        );
      }
      for (const cut of [997, 4096, 65536]) {
        assert.equal(decodeCut("base64", input, [cut]).toString("hex"), want);
      }
    }
  });

  it("quoted-printable in any pieces, soft breaks and a lone '='", () => {
    const text = "caf=C3=A9 =\r\nna=\nive = x=ZZ\r\n";
    const expected = Buffer.from("café naive = x=ZZ\r\n").toString("latin1");
    for (const cut of [1, 2, 3, 4, 100]) {
      assert.equal(decodeInPieces("quoted-printable", text, cut), expected);
    }
  });

  it("7bit, 8bit, binary and unknown encodings as they are", () => {
    for (const encoding of ["7bit", "8bit", "binary", "x-uuencode", ""]) {
      assert.equal(decodeInPieces(encoding, "MZ\x90\x00", 1), "MZ\x90\x00");
    }
  });
});
