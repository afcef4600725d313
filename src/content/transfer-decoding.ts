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
/**
 * A byte that is neither base64 nor white space. Buffer.from(…, "base64") skips every byte outside the
 * alphabet but "=" (it stops there) and "-" and "_" (it reads them as base64url), on Bun and on Deno (the
 * unit test holds both to that), but Deno's skips anything but white space by a regex of its own, slower
 * than ours: a chunk with such bytes is stripped here first.
 */
const NOT_BASE64_OR_SPACE = /[^A-Za-z0-9+/\t\n\f\r ]/;
const BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/** Each byte's six bits in the base64 alphabet; -1 for the bytes the encoding ignores. */
export const SEXTET = new Int8Array(256).fill(-1);
for (let i = 0; i < BASE64_ALPHABET.length; i++) SEXTET[BASE64_ALPHABET.charCodeAt(i)] = i;
/** Bytes of output that a quadruple's first 0–3 characters decode to, by how many of them there are. */
const PARTIAL_BYTES = [0, 0, 1, 2];

/**
 * Every byte outside the 64-character alphabet is skipped ("=" too: a part that goes on after padding goes
 * on being decoded); a quadruple cut by the chunk's end waits for the next chunk, 2 or 3 characters left at
 * the very end are decoded as far as they go. A chunk of base64 and white space (line breaks) is decoded by
 * Buffer.from as it is, which skips the white space natively: stripping it by regex first cost 1–7 ms per MB
 * (docs/content.md, "Memory and time per scan").
 */
function base64Decoder(): ChunkDecoder {
  let carry = ""; // the alphabet characters after the last whole quadruple (0–3)
  const stripped = (text: string) => {
    const kept = carry + text.replace(NOT_BASE64, "");
    const whole = kept.length - (kept.length % 4);
    carry = kept.slice(whole);
    return Buffer.from(kept.slice(0, whole), "base64");
  };
  return {
    decode(chunk) {
      // latin1: one character per byte, so any junk byte stays one character, skipped in decoding.
      const text = Buffer.prototype.toString.call(chunk, "latin1");
      let last = lastAlphabetCharacters(text, 5);
      if (last.length < 5) last = (carry + last).slice(-5);
      // Five equal characters at the end (a run of zeros) leave the quadruples' bounds unknown (below).
      if (last.length === 5 && last === last[0].repeat(5)) return stripped(text);
      if (NOT_BASE64_OR_SPACE.test(text)) return stripped(text);
      const decoded = Buffer.from(carry + text, "base64");
      const left = last.length < 5 ? last.length % 4 : charactersAfterQuadruples(decoded, last);
      carry = last.slice(last.length - left);
      return decoded.subarray(0, decoded.length - PARTIAL_BYTES[left]);
    },
    end: () => carry === "" ? EMPTY : Buffer.from(carry, "base64"),
  };
}

/** The text's last `count` alphabet characters (fewer: all it has), in order. */
function lastAlphabetCharacters(text: string, count: number): string {
  let found = "";
  for (let at = text.length - 1; at >= 0 && found.length < count; at--) {
    if (SEXTET[text.charCodeAt(at)] >= 0) found = text[at] + found;
  }
  return found;
}

/**
 * How many alphabet characters follow the last whole quadruple, from what Buffer.from decoded (3 bytes a
 * quadruple, 1 or 2 more for 2 or 3 characters after it) and the last five characters, not all equal: with
 * 0 or 1 after it, the last quadruple is the last four characters or the four before the last one, and only
 * the right one decodes to the last three bytes (four characters are 24 bits, three bytes).
 */
function charactersAfterQuadruples(decoded: Uint8Array, last: string): number {
  const partial = decoded.length % 3;
  if (partial !== 0) return partial + 1;
  const at = decoded.length - 3;
  const bits = (SEXTET[last.charCodeAt(1)] << 18) | (SEXTET[last.charCodeAt(2)] << 12) |
    (SEXTET[last.charCodeAt(3)] << 6) | SEXTET[last.charCodeAt(4)];
  const lastFour = decoded[at] === bits >> 16 && decoded[at + 1] === ((bits >> 8) & 0xff) &&
    decoded[at + 2] === (bits & 0xff);
  return lastFour ? 0 : 1;
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
