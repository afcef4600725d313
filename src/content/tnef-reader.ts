// The files in a TNEF attachment (winmail.dat, application/ms-tnef): Outlook wraps a message's attachments
// in it, and Outlook and Exchange show each as an attachment of its own, saved under its long file name. Each
// file's names (attAttachTitle, the 8.3 or full name; the MAPI properties PR_ATTACH_LONG_FILENAME,
// PR_ATTACH_FILENAME and PR_DISPLAY_NAME) and its first bytes (attAttachData, else PR_ATTACH_DATA_BIN). One
// pass over the attributes (MS-OXTNEF 2.1.3), each length checked against what is left, so a cut or lying
// stream stops the reading there; at most `maxFiles` files; attached messages inside (PR_ATTACH_DATA_OBJ)
// are not opened. Pure.

/** The stream's first four bytes (0x223E9F78, little-endian). */
const SIGNATURE = 0x223e9f78;
const ATTRIBUTES_START = 6; // signature, then a 2-byte key
const ATTRIBUTE_HEADER = 9; // level (1), id (4), length (4)
const CHECKSUM = 2;
/** attAttachRenddata: the first attribute of each attachment. */
const ATT_ATTACH_RENDDATA = 0x00069002;
const ATT_ATTACH_TITLE = 0x00018010;
const ATT_ATTACH_DATA = 0x0006800f;
/** attAttachment: the attachment's MAPI properties. */
const ATT_ATTACHMENT = 0x00069005;
const NAME_PROPERTIES = new Set([0x3707, 0x3704, 0x3001]); // long file name, file name, display name
const PR_ATTACH_DATA_BIN = 0x3701;
const PT_STRING8 = 0x001e;
const PT_UNICODE = 0x001f;
const PT_BINARY = 0x0102;
const PT_OBJECT = 0x000d;
const MULTIPLE = 0x1000;
/** Sizes of the fixed-length property types; each value is padded to 4 bytes in TNEF. */
const FIXED_SIZES = new Map([
  [0x0002, 4], // PtypInteger16, padded
  [0x0003, 4],
  [0x0004, 4],
  [0x0005, 8],
  [0x0006, 8],
  [0x0007, 8],
  [0x000a, 4],
  [0x000b, 4],
  [0x0014, 8],
  [0x0040, 8],
  [0x0048, 16],
]);

export interface TnefFile {
  /** Every name the attachment gives, first the one Outlook saves it under when it has one. */
  names: string[];
  head: Uint8Array;
  /** The file's bytes as far as the stream holds them: a view of it, not a copy. */
  data: Uint8Array;
}

export interface TnefListing {
  files: TnefFile[];
  /** Why the stream could not be read to its end, when it could not. */
  problem?: string;
}

export function looksLikeTnef(head: Uint8Array): boolean {
  return head.length >= 4 && u32(head, 0) === SIGNATURE;
}

/** The files of a TNEF stream, each with its first `headBytes` bytes; at most `maxFiles` of them. */
export function readTnef(bytes: Uint8Array, headBytes: number, maxFiles: number): TnefListing {
  const files: TnefFile[] = [];
  if (!looksLikeTnef(bytes)) return { files, problem: "not TNEF (no signature)" };
  let current: TnefFile | undefined;
  const attachment = () => current ?? startFile();
  const startFile = (): TnefFile | undefined => {
    if (files.length >= maxFiles) return undefined;
    current = { names: [], head: new Uint8Array(0), data: new Uint8Array(0) };
    files.push(current);
    return current;
  };
  let at = ATTRIBUTES_START;
  while (at + ATTRIBUTE_HEADER <= bytes.length) {
    const id = u32(bytes, at + 1);
    const length = u32(bytes, at + 5);
    const start = at + ATTRIBUTE_HEADER;
    const end = Math.min(bytes.length, start + length);
    const data = bytes.subarray(start, end);
    if (id === ATT_ATTACH_RENDDATA) {
      if (startFile() === undefined) return { files, problem: `more than ${maxFiles} files` };
    } else if (id === ATT_ATTACH_TITLE) {
      addName(attachment(), latin1(data));
    } else if (id === ATT_ATTACH_DATA) {
      const file = attachment();
      if (file !== undefined) {
        file.head = new Uint8Array(data.subarray(0, headBytes)); // a copy: the stream can go
        file.data = data;
      }
    } else if (id === ATT_ATTACHMENT) {
      const file = attachment();
      if (file !== undefined) readProperties(data, file, headBytes);
    }
    if (start + length > bytes.length) return { files, problem: "TNEF cut short" };
    at = start + length + CHECKSUM;
  }
  return at < bytes.length ? { files, problem: "TNEF cut short" } : { files };
}

function addName(file: TnefFile | undefined, name: string): void {
  if (file !== undefined && name !== "" && !file.names.includes(name)) file.names.push(name);
}

/**
 * The names (and, when attAttachData gave none, the first bytes) in an attachment's MAPI properties
 * (MS-OXTNEF 2.1.3.4): each property its type and id, a name for named ones, its value or values. Stops at
 * a type it does not know or at the end of the data, each step checked against it.
 */
function readProperties(data: Uint8Array, file: TnefFile, headBytes: number): void {
  if (data.length < 4) return;
  const count = u32(data, 0);
  let at = 4;
  for (let property = 0; property < count && at + 4 <= data.length; property++) {
    const type = data[at] | (data[at + 1] << 8);
    const id = data[at + 2] | (data[at + 3] << 8);
    at += 4;
    if (id >= 0x8000) {
      // A named property: its GUID, its kind, then a number or a name.
      if (at + 20 > data.length) return;
      const kind = u32(data, at + 16);
      at += 20;
      if (kind === 1) {
        if (at + 4 > data.length) return;
        at += 4 + padded(u32(data, at));
      } else {
        at += 4;
      }
    }
    const base = type & ~MULTIPLE;
    const fixed = FIXED_SIZES.get(base);
    const variable = base === PT_STRING8 || base === PT_UNICODE || base === PT_BINARY || base === PT_OBJECT;
    if (fixed === undefined && !variable) return;
    let values = 1;
    if ((type & MULTIPLE) !== 0 || variable) {
      if (at + 4 > data.length) return;
      values = u32(data, at);
      at += 4;
    }
    if (fixed !== undefined) {
      at += fixed * values;
      continue;
    }
    for (let value = 0; value < values; value++) {
      if (at + 4 > data.length) return;
      const length = u32(data, at);
      const start = at + 4;
      const text = data.subarray(start, Math.min(data.length, start + length));
      if (NAME_PROPERTIES.has(id) && base === PT_STRING8) addName(file, latin1(text));
      if (NAME_PROPERTIES.has(id) && base === PT_UNICODE) addName(file, utf16(text));
      if (id === PR_ATTACH_DATA_BIN && base === PT_BINARY && file.head.length === 0) {
        file.head = new Uint8Array(text.subarray(0, headBytes));
        file.data = text;
      }
      at = start + padded(length);
      if (at > data.length) return;
    }
  }
}

/** A length rounded up to TNEF's 4-byte padding (lengths near 2^32 round past any data: the caller stops). */
function padded(length: number): number {
  return Math.ceil(length / 4) * 4;
}

/** A string up to its first NUL, a byte a character. */
function latin1(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return new TextDecoder("latin1").decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

/** A UTF-16LE string up to its first NUL. */
function utf16(bytes: Uint8Array): string {
  const text = new TextDecoder("utf-16le").decode(bytes.subarray(0, bytes.length & ~1));
  const nul = text.indexOf("\0");
  return nul < 0 ? text : text.slice(0, nul);
}

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}
