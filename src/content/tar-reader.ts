// A small tar reader: each entry's names, type and where its data lies, header after header from the start
// (POSIX ustar and pax, GNU, and V7 tar without a magic). Every name an extractor may save an entry under is
// kept: the header's (with ustar's prefix), a GNU long name (a `././@LongLink` entry of type L before it) and
// a pax `path=` record (an `x` entry before it); GNU tar and bsdtar take the last two over the header's,
// older readers the header's. And every entry an extractor may extract: extractors disagree on whether a
// link, directory or device has the data its size says, so both readings are read (readFrom). Reads only
// what it is given and never throws: a header whose checksum is wrong, or an entry that runs past the
// bytes, ends the listing with a problem. Pure (POSIX.1-2008 pax, "ustar Interchange Format", and GNU
// tar's manual, "Basic Tar Format", are the format).

const BLOCK = 512;
const NAME = 0;
const NAME_LENGTH = 100;
const SIZE = 124;
const SIZE_LENGTH = 12;
const CHECKSUM = 148;
const CHECKSUM_LENGTH = 8;
const TYPE = 156;
const MAGIC = 257;
const PREFIX = 345;
const PREFIX_LENGTH = 155;
/** "ustar\0" (POSIX) or "ustar " (GNU's "ustar  \0"): either says a tar header. */
const USTAR = [0x75, 0x73, 0x74, 0x61, 0x72];
const SPACE = 0x20;
/** Entry types whose data is no file of the archive's, but a name or records for the next entry. */
const GNU_LONG_NAME = "L";
const PAX_HEADER = "x";
/** L and x, GNU's long link name (K) and pax global records (g, whose path GNU tar ignores). */
const META_TYPES = new Set([GNU_LONG_NAME, PAX_HEADER, "K", "g"]);
const DIRECTORY = "5";
/** Types that are no file with data: links, devices, FIFOs, directories, volume labels. */
const NOT_FILES = new Set(["1", "2", "3", "4", "5", "6", "V"]);
/** A pax or long-name entry larger than this is no name: it is not read (a name of 1 MB helps no one). */
const MAX_META_BYTES = 64 * 1024;

export interface TarEntry {
  /** The name GNU tar extracts it under: a pax path, else a GNU long name, else the header's. */
  name: string;
  /** The entry's other names, when they differ: the header's own (older readers and 7-Zip's old versions). */
  otherNames?: string[];
  /** A regular file (or one of a type tar extracts as one); false for links, devices and directories. */
  file: boolean;
  directory: boolean;
  dataStart: number;
  size: number;
}

export interface TarListing {
  entries: TarEntry[];
  /** Why the listing may be incomplete ("entry 3 runs past the end", "bad header checksum at byte 1024"). */
  problem?: string;
  /** Another entry follows the `maxEntries` listed: the archive holds more than were read. */
  entriesLeft?: boolean;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const latin1 = new TextDecoder("latin1");

/** Whether the bytes start with a tar header: "ustar" at its magic, or a V7 header whose checksum holds. */
export function looksLikeTar(head: Uint8Array): boolean {
  if (head.length < BLOCK) return false;
  return hasUstarMagic(head, 0) || checksumHolds(head, 0);
}

export function readTar(bytes: Uint8Array, maxEntries: number): TarListing {
  const entries: TarEntry[] = [];
  const read = new Map<number, TarEntry | undefined>();
  const otherReadings: number[] = [];
  const listing = readFrom(bytes, 0, maxEntries, entries, read, otherReadings);
  // The other readings of a link's, directory's or device's size (below): their entries are the archive's
  // too. A block read already ends one (the rest is read), so each is read once whatever the readings.
  for (let i = 0; i < otherReadings.length && !listing.entriesLeft; i++) {
    const other = readFrom(bytes, otherReadings[i], maxEntries, entries, read, otherReadings);
    if (other.entriesLeft) listing.entriesLeft = true;
  }
  return listing;
}

/**
 * The entries from the header at `start` on, added to `entries`; `read`: the blocks read, each header's
 * entry (one read again ends the reading); `otherReadings`: where another reading starts, pushed.
 */
function readFrom(
  bytes: Uint8Array,
  start: number,
  maxEntries: number,
  entries: TarEntry[],
  read: Map<number, TarEntry | undefined>,
  otherReadings: number[],
): TarListing {
  let longName: string | undefined;
  let paxPath: string | undefined;
  let paxSize: number | undefined;
  let at = start;
  let afterEnd = false;
  for (;;) {
    if (at + BLOCK > bytes.length) {
      const cutShort = at < bytes.length && !afterEnd;
      return cutShort ? { entries, problem: `a header cut short at byte ${at}` } : { entries };
    }
    if (read.has(at)) {
      // Read already (the rest too); a name this reading found for it (a pax path or long name before it
      // that the other reading skipped) is one more name it is extracted under.
      const entry = read.get(at);
      const name = paxPath ?? longName;
      if (entry && name !== undefined && name !== entry.name && !entry.otherNames?.includes(name)) {
        entry.otherNames = [...entry.otherNames ?? [], name];
      }
      return { entries };
    }
    read.set(at, undefined); // zero blocks too: another reading that comes to them does not read them again
    if (isZeroBlock(bytes, at)) {
      // The end of the archive (two zero blocks); `tar --ignore-zeros` reads on past it, so a header that
      // follows is read as well (a tar appended to a tar), and anything else ends it.
      afterEnd = true;
      at += BLOCK;
      continue;
    }
    if (!checksumHolds(bytes, at)) {
      return afterEnd ? { entries } : { entries, problem: `bad header checksum at byte ${at}` };
    }
    afterEnd = false;
    const type = String.fromCharCode(bytes[at + TYPE]);
    const meta = META_TYPES.has(type);
    // A pax size is the next file's, not that of another extended header before it.
    const size = meta ? headerSize(bytes, at) : paxSize ?? headerSize(bytes, at);
    const dataStart = at + BLOCK;
    if (size === undefined) return { entries, problem: `entry ${entries.length + 1}: unreadable size` };
    const dataEnd = dataStart + size;
    if (meta) {
      if (dataEnd > bytes.length) return { entries, problem: `a ${type} header's data runs past the end` };
      const data = bytes.subarray(dataStart, Math.min(dataEnd, dataStart + MAX_META_BYTES));
      if (type === GNU_LONG_NAME) longName = cString(data);
      if (type === PAX_HEADER) ({ path: paxPath, size: paxSize } = paxRecords(data));
    } else {
      if (entries.length === maxEntries) return { entries, entriesLeft: true };
      const headerName = nameOf(bytes, at);
      const name = paxPath ?? longName ?? headerName;
      const entry: TarEntry = {
        name,
        ...(headerName !== name && headerName !== "" ? { otherNames: [headerName] } : {}),
        file: !NOT_FILES.has(type),
        directory: type === DIRECTORY || (type !== "1" && type !== "2" && name.endsWith("/")),
        dataStart,
        size,
      };
      entries.push(entry);
      read.set(at, entry);
      longName = paxPath = paxSize = undefined;
      // Extractors disagree on the size of an entry that has no data: GNU tar reads none after a hard link or
      // a directory whatever the size says, Python's tarfile none after any link, device or directory, while
      // GNU tar skips a symbolic link's or a device's size. A size there hid the files behind it from one
      // reading ("invoice.exe" after a hard link whose size covers it, extracted by tar -x): both are read.
      if (NOT_FILES.has(type) && size > 0) otherReadings.push(dataStart);
      if (dataEnd > bytes.length) return { entries, problem: `entry ${entries.length} runs past the end` };
    }
    at = dataStart + Math.ceil(size / BLOCK) * BLOCK;
  }
}

function isZeroBlock(bytes: Uint8Array, at: number): boolean {
  for (let i = at; i < at + BLOCK; i++) if (bytes[i] !== 0) return false;
  return true;
}

function hasUstarMagic(bytes: Uint8Array, at: number): boolean {
  return USTAR.every((byte, i) => bytes[at + MAGIC + i] === byte);
}

/**
 * The header's checksum field (octal) equals the sum of its bytes with the field taken as spaces, unsigned
 * or, as some old tars wrote it, signed.
 */
function checksumHolds(bytes: Uint8Array, at: number): boolean {
  const stored = octal(bytes, at + CHECKSUM, CHECKSUM_LENGTH);
  if (stored === undefined) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const inField = i >= CHECKSUM && i < CHECKSUM + CHECKSUM_LENGTH;
    const byte = inField ? SPACE : bytes[at + i];
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

/**
 * An octal field: optional leading spaces, digits, then a NUL or space (or the field's end); undefined when
 * it holds no digit or another byte.
 */
function octal(bytes: Uint8Array, at: number, length: number): number | undefined {
  let i = at;
  const end = at + length;
  while (i < end && bytes[i] === SPACE) i++;
  let value = 0;
  let digits = 0;
  for (; i < end && bytes[i] >= 0x30 && bytes[i] <= 0x37; i++, digits++) value = value * 8 + bytes[i] - 0x30;
  if (digits === 0) return undefined;
  for (; i < end; i++) if (bytes[i] !== 0 && bytes[i] !== SPACE) return undefined;
  return value;
}

/** The size field: octal, or GNU's base-256 (its first byte's high bit set) for sizes of 8 GB and more. */
function headerSize(bytes: Uint8Array, at: number): number | undefined {
  const field = at + SIZE;
  if ((bytes[field] & 0x80) === 0) return octal(bytes, field, SIZE_LENGTH);
  if (bytes[field] & 0x40) return undefined; // negative
  let value = bytes[field] & 0x3f;
  for (let i = 1; i < SIZE_LENGTH; i++) value = value * 256 + bytes[field + i];
  // Beyond 2^53 a number is no size within a message: it runs past the end, as a lie should.
  return value;
}

/** The header's name: ustar's prefix, "/", the name; GNU's headers use the prefix's bytes for times. */
function nameOf(bytes: Uint8Array, at: number): string {
  const name = cString(bytes.subarray(at + NAME, at + NAME + NAME_LENGTH));
  const posix = hasUstarMagic(bytes, at) && bytes[at + MAGIC + 5] === 0;
  if (!posix) return name;
  const prefix = cString(bytes.subarray(at + PREFIX, at + PREFIX + PREFIX_LENGTH));
  return prefix === "" ? name : `${prefix}/${name}`;
}

/** The bytes up to their first NUL, as UTF-8 when they are valid UTF-8, else byte for byte (Latin-1). */
function cString(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return utf8OrLatin1(nul < 0 ? bytes : bytes.subarray(0, nul));
}

/**
 * A pax extended header's `path` and `size` ("LENGTH KEY=VALUE\n" records, LENGTH counting the whole
 * record); a record that does not parse ends the reading, as it ends GNU tar's.
 */
function paxRecords(data: Uint8Array): { path?: string; size?: number } {
  const found: { path?: string; size?: number } = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(SPACE, at);
    if (space < 0 || space - at > 20) break;
    const length = Number(latin1.decode(data.subarray(at, space)));
    if (!Number.isInteger(length) || length <= space - at + 1 || at + length > data.length) break;
    const record = data.subarray(space + 1, at + length - 1); // without the newline
    const equals = record.indexOf(0x3d);
    if (equals > 0) {
      const key = latin1.decode(record.subarray(0, equals));
      const value = record.subarray(equals + 1);
      if (key === "path") found.path = utf8OrLatin1(value);
      if (key === "size" && /^\d+$/.test(latin1.decode(value))) found.size = Number(latin1.decode(value));
    }
    at += length;
  }
  return found;
}

function utf8OrLatin1(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return latin1.decode(bytes);
  }
}
