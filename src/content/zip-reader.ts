// A small zip reader: the entries' names, flags and where their data lies, from the central directory at
// the end of the archive, or, when that is missing (an archive cut at zip_max_bytes) or broken, from the
// local headers read from the start. Reads only what it is given and never throws: a broken archive gives
// the entries read so far and a problem. Zip64 (APPNOTE 4.3.14, 4.5.3) is read too: its sizes and offsets
// stand at 0xFFFFFFFF in the classic fields, the real ones in a zip64 record or extra field; `zip -fz`
// writes it for any archive, and every extractor (Explorer, 7-Zip, unzip) opens it. Pure (APPNOTE.TXT
// 6.3.10 is the format).

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_DIRECTORY = 0x06054b50;
const ZIP64_END_OF_DIRECTORY = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_LOCATOR_LENGTH = 20;
const ZIP64_EXTRA = 0x0001;
/** Info-ZIP's Unicode Path extra field: a UTF-8 name that unzip and 7-Zip save the entry under. */
const UNICODE_PATH_EXTRA = 0x7075;
/** A classic field at this value says "see the zip64 record or extra field". */
const MARK32 = 0xffffffff;
const MARK16 = 0xffff;
const END_LENGTH = 22;
const MAX_COMMENT = 0xffff;
const ENCRYPTED = 0x0001;
const DATA_DESCRIPTOR = 0x0008;
const UTF8_NAMES = 0x0800;
/** Method 99: WinZip's AES encryption (its own flag bit 0 is set too, but not by every writer). */
const AES_METHOD = 99;

export interface ZipEntry {
  name: string;
  encrypted: boolean;
  /** 0 stored, 8 deflated; others are not read. */
  method: number;
  compressedSize: number;
  /** Where the entry's data starts; undefined when its local header is not within the bytes. */
  dataStart?: number;
  /**
   * The name in the entry's own (local) header, when it differs from the directory's: extractors that
   * stream the archive from its start save the entry under it.
   */
  localName?: string;
  /**
   * The names in the entry's Unicode Path extra fields (directory's, then local header's) that differ from
   * `name` and `localName`: unzip and 7-Zip save the entry under it, whatever the header's name says
   * (`invoice.txt` in the header, `invoice.js` on disk).
   */
  unicodeNames?: string[];
}

export interface ZipListing {
  entries: ZipEntry[];
  /** Why the listing may be incomplete ("no central directory", "entry 3: bad local header"). */
  problem?: string;
  /** Another entry follows the `maxEntries` listed: the archive holds more than were read. */
  entriesLeft?: boolean;
}

const utf8 = new TextDecoder("utf-8");
const latin1 = new TextDecoder("latin1");

/** Whether the bytes start as a zip archive does (a local header, or an empty archive's end record). */
export function looksLikeZip(head: Uint8Array): boolean {
  if (head.length < 4) return false;
  const signature = u32(head, 0);
  return signature === LOCAL_HEADER || signature === END_OF_DIRECTORY;
}

export function readZip(bytes: Uint8Array, maxEntries: number): ZipListing {
  const end = findEndOfDirectory(bytes);
  if (end !== undefined) {
    const shift = prependedBytes(bytes, end);
    const listing = readCentralDirectory(bytes, end, maxEntries, shift);
    if (listing.problem === undefined && shift > 0) return withFirstArchive(bytes, listing, maxEntries);
    if (listing.problem === undefined) return listing;
    const local = readLocalHeaders(bytes, maxEntries);
    return local.entries.length > listing.entries.length ? local : listing;
  }
  const local = readLocalHeaders(bytes, maxEntries);
  return { ...local, problem: local.problem ?? "no central directory" };
}

function u16(bytes: Uint8Array, at: number): number {
  return bytes[at] | (bytes[at + 1] << 8);
}

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

/** Beyond 2^53 a number is no offset within a message: it stays out of reach, as a lie should. */
function u64(bytes: Uint8Array, at: number): number {
  return u32(bytes, at + 4) * 0x100000000 + u32(bytes, at);
}

/**
 * The zip64 values a header marks with 0xFFFFFFFF, from its extra field's zip64 block (id 1), in the
 * order APPNOTE gives (uncompressed size, compressed size, local header offset): only the marked ones are
 * there. A value that is missing keeps the mark.
 */
function zip64Values(bytes: Uint8Array, extraAt: number, extraLength: number, values: number[]): number[] {
  const end = Math.min(extraAt + extraLength, bytes.length);
  for (let at = extraAt; at + 4 <= end; at += 4 + u16(bytes, at + 2)) {
    if (u16(bytes, at) !== ZIP64_EXTRA) continue;
    const blockEnd = Math.min(at + 4 + u16(bytes, at + 2), end);
    let field = at + 4;
    return values.map((value) => {
      if (value !== MARK32 || field + 8 > blockEnd) return value;
      const wide = u64(bytes, field);
      field += 8;
      return wide;
    });
  }
  return values;
}

/**
 * The name in an extra field's Unicode Path block (id 0x7075: version 1, the CRC-32 of the header's name,
 * the UTF-8 name), or undefined. The CRC is not checked: an extractor that skipped the check would use a
 * name the scan had not looked at; one that checks it uses the header's name, looked at anyway.
 */
function unicodePath(bytes: Uint8Array, extraAt: number, extraLength: number): string | undefined {
  const end = Math.min(extraAt + extraLength, bytes.length);
  for (let at = extraAt; at + 4 <= end; at += 4 + u16(bytes, at + 2)) {
    const size = u16(bytes, at + 2);
    if (u16(bytes, at) !== UNICODE_PATH_EXTRA || size < 5 || bytes[at + 4] !== 1) continue;
    return utf8.decode(bytes.subarray(at + 9, Math.min(at + 4 + size, end)));
  }
  return undefined;
}

/** The Unicode Path names that are not already among the entry's names; undefined when none is new. */
function newNames(known: (string | undefined)[], found: (string | undefined)[]): string[] | undefined {
  const names: string[] = [];
  for (const name of found) {
    if (name !== undefined && name !== "" && !known.includes(name) && !names.includes(name)) names.push(name);
  }
  return names.length > 0 ? names : undefined;
}

/**
 * The central directory's entry count and offset: from the end record, or from the zip64 end record its
 * locator (just before the end record) points at when the end record holds the 0xFFFF/0xFFFFFFFF marks.
 */
function directoryOf(bytes: Uint8Array, end: number): { count: number; at: number } {
  const count = u16(bytes, end + 10);
  const at = u32(bytes, end + 16);
  if (count !== MARK16 && at !== MARK32) return { count, at };
  const locator = end - ZIP64_LOCATOR_LENGTH;
  if (locator < 0 || u32(bytes, locator) !== ZIP64_LOCATOR) return { count, at };
  const record = u64(bytes, locator + 8);
  if (record + 56 > locator || u32(bytes, record) !== ZIP64_END_OF_DIRECTORY) return { count, at };
  return { count: u64(bytes, record + 32), at: u64(bytes, record + 48) };
}

/** The end-of-central-directory record: the last 22 bytes, unless a comment of up to 64 KB follows it. */
function findEndOfDirectory(bytes: Uint8Array): number | undefined {
  const lowest = Math.max(0, bytes.length - END_LENGTH - MAX_COMMENT);
  for (let at = bytes.length - END_LENGTH; at >= lowest; at--) {
    if (bytes[at] === 0x50 && u32(bytes, at) === END_OF_DIRECTORY) return at;
  }
  return undefined;
}

function entryName(bytes: Uint8Array, at: number, length: number, flags: number): string {
  const raw = bytes.subarray(at, Math.min(at + length, bytes.length));
  // Without the UTF-8 flag names are in the DOS code page: an extension reads the same in latin1.
  return (flags & UTF8_NAMES ? utf8 : latin1).decode(raw);
}

/**
 * Bytes before the archive its offsets do not count (a self-extractor's program, or another zip: two zips
 * concatenated): its directory ends where the end record starts, so it starts `size` bytes before, past
 * where its offset says. unzip and Explorer read it there, adding the difference to every offset; 0 when
 * the offset holds the directory or the end record's size says nothing (zip64's marks).
 */
function prependedBytes(bytes: Uint8Array, end: number): number {
  const { at } = directoryOf(bytes, end);
  const size = u32(bytes, end + 12);
  const start = end - size;
  if (size === 0 || size === MARK32 || start <= at || u32(bytes, start) !== CENTRAL_HEADER) return 0;
  return at + 4 <= bytes.length && u32(bytes, at) === CENTRAL_HEADER ? 0 : start - at;
}

/**
 * A shifted archive's entries and those of the archive the bytes start with, when they start with one: 7-Zip
 * shows the first of two concatenated zips, unzip and Explorer the last, so both are looked at.
 */
function withFirstArchive(bytes: Uint8Array, last: ZipListing, maxEntries: number): ZipListing {
  const first = readLocalHeaders(bytes, maxEntries);
  const known = new Set(last.entries.map((entry) => entry.dataStart));
  const entries = [...last.entries, ...first.entries.filter((entry) => !known.has(entry.dataStart))];
  const entriesLeft = entries.length > maxEntries || last.entriesLeft || first.entriesLeft;
  return { entries: entries.slice(0, maxEntries), ...(entriesLeft ? { entriesLeft } : {}) };
}

function readCentralDirectory(bytes: Uint8Array, end: number, maxEntries: number, shift: number): ZipListing {
  const directory = directoryOf(bytes, end);
  const count = directory.count;
  let at = directory.at + shift;
  const entries: ZipEntry[] = [];
  // Records past the end record's count are read too: unzip and Python's zipfile list them (they read
  // the directory by its records), so a count of 0 must not hide an archive's entries.
  for (let i = 0;; i++) {
    const record = at + 46 <= bytes.length && u32(bytes, at) === CENTRAL_HEADER;
    if (!record && i >= count) break;
    if (!record) return { entries, problem: `central directory entry ${i + 1} is broken` };
    if (entries.length === maxEntries) return { entries, entriesLeft: true };
    const flags = u16(bytes, at + 8);
    const method = u16(bytes, at + 10);
    const nameLength = u16(bytes, at + 28);
    const extraLength = u16(bytes, at + 30);
    const [, compressedSize, offset] = zip64Values(bytes, at + 46 + nameLength, extraLength, [
      u32(bytes, at + 24),
      u32(bytes, at + 20),
      u32(bytes, at + 42),
    ]);
    const localAt = offset + shift;
    const name = entryName(bytes, at + 46, nameLength, flags);
    const localName = localNameOf(bytes, localAt);
    const unicodeNames = newNames([name, localName], [
      unicodePath(bytes, at + 46 + nameLength, extraLength),
      localUnicodePath(bytes, localAt),
    ]);
    entries.push({
      name,
      encrypted: (flags & ENCRYPTED) !== 0 || method === AES_METHOD,
      method,
      compressedSize,
      dataStart: localDataStart(bytes, localAt),
      ...(localName && localName !== name ? { localName } : {}),
      ...(unicodeNames ? { unicodeNames } : {}),
    });
    at += 46 + nameLength + extraLength + u16(bytes, at + 32);
  }
  return { entries };
}

/** The name in the local header at `at`, or undefined when no local header is there ("" when it has none). */
function localNameOf(bytes: Uint8Array, at: number): string | undefined {
  if (at + 30 > bytes.length || u32(bytes, at) !== LOCAL_HEADER) return undefined;
  return entryName(bytes, at + 30, u16(bytes, at + 26), u16(bytes, at + 6));
}

/** The Unicode Path name in the local header at `at`, or undefined. */
function localUnicodePath(bytes: Uint8Array, at: number): string | undefined {
  if (at + 30 > bytes.length || u32(bytes, at) !== LOCAL_HEADER) return undefined;
  return unicodePath(bytes, at + 30 + u16(bytes, at + 26), u16(bytes, at + 28));
}

/** Where the data after the local header at `at` starts (its name and extra field differ from the directory's). */
function localDataStart(bytes: Uint8Array, at: number): number | undefined {
  if (at + 30 > bytes.length || u32(bytes, at) !== LOCAL_HEADER) return undefined;
  const start = at + 30 + u16(bytes, at + 26) + u16(bytes, at + 28);
  return start <= bytes.length ? start : undefined;
}

/**
 * Entry after entry from the start. An entry whose size is only in a data descriptor after its data
 * (flag 3, sizes zero here) cannot be stepped over without inflating it: the walk stops there.
 */
function readLocalHeaders(bytes: Uint8Array, maxEntries: number): ZipListing {
  const entries: ZipEntry[] = [];
  let at = 0;
  while (at + 30 <= bytes.length && u32(bytes, at) === LOCAL_HEADER) {
    if (entries.length === maxEntries) return { entries, entriesLeft: true };
    const flags = u16(bytes, at + 6);
    const method = u16(bytes, at + 8);
    const nameLength = u16(bytes, at + 26);
    const extraLength = u16(bytes, at + 28);
    const dataStart = at + 30 + nameLength + extraLength;
    // A local header's zip64 block holds both sizes whenever either is marked (APPNOTE 4.5.3).
    const marked = u32(bytes, at + 18) === MARK32 || u32(bytes, at + 22) === MARK32;
    const [, compressedSize] = zip64Values(
      bytes,
      at + 30 + nameLength,
      extraLength,
      marked ? [MARK32, MARK32] : [u32(bytes, at + 22), u32(bytes, at + 18)],
    );
    const name = entryName(bytes, at + 30, nameLength, flags);
    const unicodeNames = newNames([name], [unicodePath(bytes, at + 30 + nameLength, extraLength)]);
    entries.push({
      name,
      encrypted: (flags & ENCRYPTED) !== 0 || method === AES_METHOD,
      method,
      compressedSize,
      dataStart: dataStart <= bytes.length ? dataStart : undefined,
      ...(unicodeNames ? { unicodeNames } : {}),
    });
    if (flags & DATA_DESCRIPTOR && compressedSize === 0) {
      return { entries, problem: `entry ${entries.length} has its size after its data` };
    }
    at = dataStart + compressedSize;
  }
  // An entry whose data would run past the archive's end (a size that lies, or one still marked zip64):
  // what follows it is not read, and the listing must not pass for whole.
  if (at > bytes.length) return { entries, problem: `entry ${entries.length} runs past the end` };
  const truncated = at < bytes.length && at + 4 <= bytes.length && u32(bytes, at) !== CENTRAL_HEADER;
  return truncated ? { entries, problem: `no entry header at byte ${at}` } : { entries };
}
