// Content-Transfer-Encoding, undone chunk by chunk as the MIME splitter hands a part's body over, so that
// only the bytes a scan keeps are ever decoded (a part's first bytes; a zip up to zip_max_bytes). An
// encoded unit cut between two chunks (a base64 quadruple, a quoted-printable "=4" or soft line break)
// waits for the next one. Pure; never throws: bytes that are not valid in the encoding are skipped.
import { Buffer } from "node:buffer";

export interface ChunkDecoder {
  decode(chunk: Uint8Array): Uint8Array;
  /** What the last chunk left over (base64's last 2 or 3 characters before its padding). */
  end(): Uint8Array;
}

const EMPTY = new Uint8Array(0);
const AS_IS: ChunkDecoder = { decode: (chunk) => chunk, end: () => EMPTY };

/** A decoder for the part's Content-Transfer-Encoding (7bit, 8bit, binary and unknown ones: as is). */
export function chunkDecoder(encoding: string): ChunkDecoder {
  if (encoding === "base64") return base64Decoder();
  if (encoding === "quoted-printable") return quotedPrintableDecoder();
  return AS_IS;
}

const NOT_BASE64 = /[^A-Za-z0-9+/]+/g;

function base64Decoder(): ChunkDecoder {
  let carry = "";
  return {
    decode(chunk) {
      // latin1: one character per byte, so any junk byte stays one character and is dropped below.
      const text = carry + Buffer.prototype.toString.call(chunk, "latin1").replace(NOT_BASE64, "");
      const whole = text.length - (text.length % 4);
      carry = text.slice(whole);
      return Buffer.from(text.slice(0, whole), "base64");
    },
    end: () => carry === "" ? EMPTY : Buffer.from(carry, "base64"),
  };
}

const EQUALS = 0x3d;
const CR = 0x0d;
const LF = 0x0a;

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

function quotedPrintableDecoder(): ChunkDecoder {
  let carry = EMPTY;
  const decode = (chunk: Uint8Array) => {
    const input = carry.length === 0 ? chunk : concat(carry, chunk);
    const out = new Uint8Array(input.length);
    let length = 0;
    let i = 0;
    while (i < input.length) {
      const byte = input[i];
      if (byte !== EQUALS) {
        out[length++] = byte;
        i++;
        continue;
      }
      if (i + 2 >= input.length) break; // "=", "=4" or "=\r" at the end: wait for the next chunk
      const high = hexValue(input[i + 1]);
      const low = hexValue(input[i + 2]);
      if (high >= 0 && low >= 0) {
        out[length++] = (high << 4) | low;
        i += 3;
      } else if (input[i + 1] === LF) i += 2; // soft line break
      else if (input[i + 1] === CR && input[i + 2] === LF) i += 3;
      else {
        out[length++] = byte; // a lone "=": kept, as most readers do
        i++;
      }
    }
    carry = input.slice(i);
    return out.subarray(0, length);
  };
  // A "=" or "=4" left at the very end is no escape: kept as written.
  return { decode, end: () => carry.filter((byte) => byte !== CR && byte !== LF) };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}
