// Content-Transfer-Encoding undone chunk by chunk: any split of the input decodes to the same bytes.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { chunkDecoder } from "../../../src/content/transfer-decoding.ts";

function decodeInPieces(encoding: string, text: string, cut: number): string {
  const decoder = chunkDecoder(encoding);
  const input = Buffer.from(text, "latin1");
  const out: Uint8Array[] = [];
  for (let at = 0; at < input.length; at += cut) out.push(decoder.decode(input.subarray(at, at + cut)));
  out.push(decoder.end());
  return Buffer.concat(out).toString("latin1");
}

describe("chunkDecoder", () => {
  const data = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 31) & 0xff));

  it("base64 in any pieces, with line breaks, junk and the final padding", () => {
    const text = data.toString("base64").replace(/.{76}/g, "$&\r\n") + "\r\n";
    for (const cut of [1, 2, 3, 5, 77, 1000]) {
      assert.equal(decodeInPieces("base64", text, cut), data.toString("latin1"), `cut ${cut}`);
    }
    assert.equal(decodeInPieces("base64", "aGk*=\r\n", 3), "hi");
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
