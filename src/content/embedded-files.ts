// Files written into a text's own lines, as mail carried them before MIME and as old mailers and malware
// still send them: uuencode ("begin 644 invoice.exe", lines of 61 characters, "`", "end"), its base64 form
// (`uuencode -m`: "begin-base64 644 invoice.exe", lines of base64, "====") and yEnc
// ("=ybegin line=128 size=… name=invoice.exe" … "=yend"). Mail readers (Outlook Express, Thunderbird)
// show such a block as an attachment, and Exim's old demime and ClamAV decode it, so each block is a carried
// file: the name its first line gives, its first decoded bytes, and, when the caller wants it (a zip), its
// bytes up to a limit. Pure; never throws: a block ends where its lines stop being its encoding's, and
// nothing is decoded beyond what is asked (the head, or the caller's limit).
import { Buffer } from "node:buffer";
import { SEXTET } from "./transfer-decoding.ts";

export type EmbeddingFormat = "uuencoded" | "uuencoded (base64)" | "yEnc";

export interface EmbeddedFile {
  name: string;
  format: EmbeddingFormat;
  /** The file's first decoded bytes (at most headBytes); empty for a yEnc part other than the first. */
  head: Uint8Array;
  /** The file decoded up to the limit `wholeLimit` gave (cut: there was more); only when it gave one. */
  whole?: { bytes: Uint8Array; cut: boolean };
}

export interface EmbeddedSearch {
  headBytes: number;
  /** How far to decode the whole file, now that its name and head are known; undefined: not at all. */
  wholeLimit(name: string, head: Uint8Array): number | undefined;
}

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const EQUALS = 0x3d;
const UU_BEGIN_WORD = Buffer.from("begin");
const UU_BEGIN = Buffer.from("begin ");
const BASE64_BEGIN = Buffer.from("begin-base64 ");
const BASE64_END = Buffer.from("====");
const YENC_BEGIN = Buffer.from("=ybegin ");
const YENC_PART = Buffer.from("=ypart ");
const YENC_KEYWORD = Buffer.from("=y");
const UU_END = Buffer.from("end");
/** "begin", spaces, the octal file mode, spaces, the name (GNU uudecode and Thunderbird read it so). */
const UU_BEGIN_LINE = /^begin +[0-7]{1,6} +(\S.*)$/s;
const BASE64_BEGIN_LINE = /^begin-base64 +[0-7]{1,6} +(\S.*)$/s;
const YENC_NAME = / name=(.*)$/s;
const YENC_PART_NUMBER = / part=(\d+)/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** One line: its bytes are [start, end) without its CR LF; the next line starts at `next`. */
interface Line {
  start: number;
  end: number;
  next: number;
}

/** Where bytes are decoded to, up to `limit`; grown as they come (a small block takes little). */
interface Output {
  bytes: Uint8Array;
  length: number;
  limit: number;
}

const FIRST_CAPACITY = 64 * 1024;

/** Appends a byte; the caller has checked that the output is below its limit. */
function put(out: Output, byte: number): void {
  if (out.length === out.bytes.length) {
    const grown = new Uint8Array(Math.min(out.limit, 2 * out.bytes.length));
    grown.set(out.bytes);
    out.bytes = grown;
  }
  out.bytes[out.length++] = byte;
}

interface Format {
  format: EmbeddingFormat;
  /** The line ends the block (and is not data). */
  endsBlock(text: Buffer, line: Line): boolean;
  /** Decodes the line's data into `out`; false when the output's limit stopped it before the line's end. */
  decodeLine(text: Buffer, line: Line, out: Output): boolean;
  /** The line is data, but the last of the block. */
  endsAfter?(text: Buffer, line: Line): boolean;
}

/**
 * Each uuencode (either form) or yEnc block of `text`, in order; the caller stops the search by leaving the
 * loop. Begin lines are found with Buffer.indexOf; the search goes on after each begin line, so a block's data
 * lines are read only as far as its head (and `wholeLimit`) needs.
 */
export function* embeddedFiles(text: Uint8Array, search: EmbeddedSearch): Generator<EmbeddedFile> {
  const bytes = Buffer.from(text.buffer, text.byteOffset, text.length);
  let uuAt = -1;
  let yencAt = -1;
  let from = 0;
  while (from < bytes.length) {
    // Each needle's next place is kept until the search passes it: one pass over the text for each ("begin"
    // finds both uuencode forms: a third pass cost 2.5 ms per MB on Deno).
    if (uuAt < from) uuAt = atLineStart(bytes, UU_BEGIN_WORD, from);
    if (yencAt < from) yencAt = atLineStart(bytes, YENC_BEGIN, from);
    const at = Math.min(uuAt, yencAt);
    if (at === Infinity) return;
    const begin = lineAt(bytes, at);
    from = begin.next;
    const file = at === yencAt
      ? yencFile(bytes, begin, search)
      : startsWith(bytes, begin, BASE64_BEGIN)
      ? base64File(bytes, begin, search)
      : startsWith(bytes, begin, UU_BEGIN)
      ? uuencodedFile(bytes, begin, search)
      : undefined;
    if (file !== undefined) yield file;
  }
}

/** The next occurrence of `needle` at a line's start, at or after `from`; Infinity when there is none. */
function atLineStart(bytes: Buffer, needle: Buffer, from: number): number {
  for (let at = bytes.indexOf(needle, from); at >= 0; at = bytes.indexOf(needle, at + 1)) {
    if (at === 0 || bytes[at - 1] === LF) return at;
  }
  return Infinity;
}

function lineAt(bytes: Buffer, start: number): Line {
  const lf = bytes.indexOf(LF, start);
  const next = lf < 0 ? bytes.length : lf + 1;
  let end = lf < 0 ? bytes.length : lf;
  if (end > start && bytes[end - 1] === CR) end--;
  return { start, end, next };
}

/** The line's bytes as a string: UTF-8 when they are valid UTF-8, else Latin-1 byte for byte. */
function lineText(bytes: Buffer, line: Line): string {
  const raw = bytes.subarray(line.start, line.end);
  try {
    return utf8.decode(raw);
  } catch {
    return raw.toString("latin1");
  }
}

function startsWith(bytes: Buffer, line: Line, prefix: Buffer): boolean {
  return line.end - line.start >= prefix.length &&
    bytes.compare(prefix, 0, prefix.length, line.start, line.start + prefix.length) === 0;
}

// ---- uuencode ----

/** A uuencoded character's six bits: readers take any byte so ("`" is 0, as " " is). */
const sixBits = (byte: number) => (byte - SPACE) & 0x3f;

const UUENCODE: Format = {
  format: "uuencoded",
  endsBlock(text, line) {
    if (line.end === line.start || sixBits(text[line.start]) === 0) return true; // "`": the last, empty line
    if ([UU_BEGIN, BASE64_BEGIN, YENC_BEGIN].some((begin) => startsWith(text, line, begin))) return true;
    return line.end - line.start === UU_END.length && startsWith(text, line, UU_END);
  },
  decodeLine(text, line, out) {
    const count = sixBits(text[line.start]);
    // A line cut short (its trailing spaces lost on the way) reads as if they were there.
    const char = (at: number) => at < line.end ? sixBits(text[at]) : 0;
    let written = 0;
    for (let at = line.start + 1; written < count && out.length < out.limit; written++) {
      const a = char(at);
      const b = char(at + 1);
      const phase = written % 3;
      if (phase === 0) put(out, ((a << 2) | (b >> 4)) & 0xff);
      else if (phase === 1) put(out, ((a << 4) | (b >> 2)) & 0xff);
      else {
        put(out, ((a << 6) | b) & 0xff);
        at++; // the group's fourth character is used up
      }
      at++;
    }
    return written === count;
  },
};

/**
 * A data line as uuencode writes one: its first character gives its length (1–63 bytes), every other
 * character is one of the 64 it uses, and there are enough of them. Only the first line after a begin line
 * must be one: it tells a block from prose that happens to start with "begin 644 setup.exe".
 */
function isUuencodedLine(text: Buffer, line: Line): boolean {
  if (line.end === line.start) return false;
  const count = sixBits(text[line.start]);
  if (count === 0 || line.end - line.start - 1 < Math.ceil((4 * count) / 3)) return false;
  for (let at = line.start; at < line.end; at++) {
    if (text[at] < SPACE || text[at] > 0x60) return false;
  }
  return true;
}

function uuencodedFile(text: Buffer, begin: Line, search: EmbeddedSearch): EmbeddedFile | undefined {
  // The data line first: it is bytes to compare, the begin line text to decode.
  if (begin.next >= text.length || !isUuencodedLine(text, lineAt(text, begin.next))) return undefined;
  const header = UU_BEGIN_LINE.exec(lineText(text, begin));
  return header === null ? undefined : decodedFile(text, begin.next, header[1].trim(), UUENCODE, search);
}

// ---- uuencode -m (base64) ----

const isBase64Byte = (byte: number) => SEXTET[byte] >= 0 || byte === EQUALS;

/** A line of base64 as `uuencode -m` writes one: the alphabet and "=" padding, nothing else. */
function isBase64Line(text: Buffer, line: Line): boolean {
  if (line.end === line.start) return false;
  for (let at = line.start; at < line.end; at++) if (!isBase64Byte(text[at])) return false;
  return true;
}

const BASE64: Format = {
  format: "uuencoded (base64)",
  // "====" closes the block; an empty line, or one that does not start as base64, ends it as well.
  endsBlock: (text, line) =>
    line.end === line.start || startsWith(text, line, BASE64_END) || !isBase64Byte(text[line.start]),
  // GNU uudecode decodes a line up to a byte that is no base64 (white space, junk), then stops with an error.
  endsAfter: (text, line) => !isBase64Line(text, line),
  decodeLine(text, line, out) {
    // Each quadruple on its own, as uudecode reads them: "=" or the line's end closes one early, its 2 or 3
    // characters decoding to 1 or 2 bytes; the line's data ends at a byte that is no base64.
    let bits = 0;
    let count = 0;
    for (let at = line.start; at <= line.end; at++) {
      const byte = at < line.end ? text[at] : EQUALS;
      if (!isBase64Byte(byte)) break; // a quadruple cut by junk is no data
      const value = SEXTET[byte];
      if (value >= 0) {
        bits = (bits << 6) | value;
        if (++count < 4) continue;
      }
      for (let made = 1; made < count; made++) {
        if (out.length === out.limit) return false;
        put(out, (bits >> (6 * count - 8 * made)) & 0xff);
      }
      bits = 0;
      count = 0;
    }
    return true;
  },
};

function base64File(text: Buffer, begin: Line, search: EmbeddedSearch): EmbeddedFile | undefined {
  // The first data line must be one uudecode takes (a whole number of quadruples): prose is no block.
  if (begin.next >= text.length) return undefined;
  const first = lineAt(text, begin.next);
  if (!isBase64Line(text, first) || (first.end - first.start) % 4 !== 0) return undefined;
  const header = BASE64_BEGIN_LINE.exec(lineText(text, begin));
  return header === null ? undefined : decodedFile(text, begin.next, header[1].trim(), BASE64, search);
}

// ---- yEnc ----

const YENC: Format = {
  format: "yEnc",
  // "=yend" closes the block; "=ypart" (after "=ybegin") and other keyword lines are no data either.
  endsBlock: (text, line) => startsWith(text, line, YENC_KEYWORD) && !startsWith(text, line, YENC_PART),
  decodeLine(text, line, out) {
    if (startsWith(text, line, YENC_PART)) return true;
    let at = line.start;
    for (; at < line.end && out.length < out.limit; at++) {
      let byte = text[at];
      if (byte === EQUALS) {
        if (++at === line.end) break;
        byte = text[at] - 64;
      }
      put(out, (byte - 42) & 0xff);
    }
    return at >= line.end;
  },
};

function yencFile(text: Buffer, begin: Line, search: EmbeddedSearch): EmbeddedFile | undefined {
  const header = lineText(text, begin);
  const found = YENC_NAME.exec(header);
  const name = found?.[1].trim();
  if (found === null || name === undefined || name === "" || begin.next >= text.length) return undefined;
  // A later part of a file split over several messages: its name is the file's, its bytes are not its start.
  const part = YENC_PART_NUMBER.exec(header.slice(0, found.index))?.[1];
  if (part !== undefined && Number(part) !== 1) return { name, format: "yEnc", head: new Uint8Array(0) };
  return decodedFile(text, begin.next, name, YENC, search);
}

// ---- both ----

/** The file whose data lines start at `dataStart`: its head, then, if the caller asks, the rest. */
function decodedFile(
  text: Buffer,
  dataStart: number,
  name: string,
  format: Format,
  search: EmbeddedSearch,
): EmbeddedFile {
  const head = decodeBlock(text, dataStart, format, search.headBytes).bytes;
  const file: EmbeddedFile = { name, format: format.format, head };
  const limit = search.wholeLimit(name, head);
  if (limit !== undefined) file.whole = decodeBlock(text, dataStart, format, Math.max(0, limit));
  return file;
}

/** The block's data lines decoded up to `limit` bytes; `cut` when data was left. */
function decodeBlock(text: Buffer, at: number, format: Format, limit: number) {
  const out: Output = { bytes: new Uint8Array(Math.min(limit, FIRST_CAPACITY)), length: 0, limit };
  while (at < text.length) {
    const line = lineAt(text, at);
    if (format.endsBlock(text, line)) return { bytes: out.bytes.subarray(0, out.length), cut: false };
    if (out.length === out.limit) return { bytes: out.bytes.subarray(0, out.length), cut: true };
    if (!format.decodeLine(text, line, out)) return { bytes: out.bytes.subarray(0, out.length), cut: true };
    if (format.endsAfter?.(text, line)) return { bytes: out.bytes.subarray(0, out.length), cut: false };
    at = line.next;
  }
  return { bytes: out.bytes.subarray(0, out.length), cut: false };
}
