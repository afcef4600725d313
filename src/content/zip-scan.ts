// What a zip attachment holds: each entry as a carried file (its name, its first bytes), archives inside it
// to zip_max_depth, encrypted entries flagged. Inflation is bounded: an entry's first bytes come from its
// first 512 compressed bytes, inflated to at most 4 KB free of charge (what an ordinary file's give), and
// beyond that within an allowance of zip_max_bytes of their own; a nested zip is inflated whole only
// within what is left of the message's zip_max_bytes. Pure (node:zlib only computes).
import { constants, inflateRawSync } from "node:zlib";
import { archiveKind, entryLimit, noteListing, scanArchive } from "./archive-scan.ts";
import type { ContentFacts } from "./carried-file.ts";
import { readZip, type ZipEntry } from "./zip-reader.ts";

const STORED = 0;
const DEFLATED = 8;
const HEAD_INPUT_BYTES = 512;
const HEAD_BYTES = 512;
/**
 * What a head's inflation may give without drawing on zip_max_bytes: 512 compressed bytes of text, CSV,
 * programs or images give 0.6–1.5 KB, so an ordinary entry's head costs one call into zlib, like its name.
 */
const FREE_HEAD_OUTPUT = 8 * HEAD_BYTES;
/** A prefix this short gives the head of an entry whose start compresses a thousandfold (zeros, a bomb). */
const SHORT_HEAD_INPUT = 64;
/** Deflate gives at most 1032 bytes for one; a call given this much room per input byte never overflows. */
const ROOM_PER_INPUT_BYTE = 1100;
const OVER_BUDGET = "over zip_max_bytes";

export interface ZipBudget {
  /** Bytes that may still be decoded or inflated, shared by every archive of the message. */
  bytesLeft: number;
  /**
   * Bytes that zip entries' heads may still inflate past the 4 KB each gets free, zip_max_bytes again:
   * apart, so that a zip that fits the budget has every entry's first bytes checked.
   */
  headBytesLeft: number;
  maxEntries: number;
  /**
   * Entries (zip and tar entries, gzip members) that may still be read, shared by every archive of the
   * message: zip_max_message_entries. Each costs a call into zlib or a header's parsing however empty it
   * is, which zip_max_bytes does not see.
   */
  entriesLeft: number;
  /** zip_max_message_entries stopped an archive, and that was said: the archives after it go unsaid. */
  entriesSpent?: boolean;
}

const EMPTY = new Uint8Array(0);
const BROKEN = "cannot be inflated";

/**
 * Adds the files inside `bytes` (a zip named `name`) to `facts`, looking `depth` levels deep (1: this
 * zip only, not the zips it holds). `cut`: the bytes stop at zip_max_bytes, so the central directory is
 * expected to be missing and the entries come from their local headers without calling the zip corrupt.
 */
export function scanZip(
  bytes: Uint8Array,
  name: string,
  depth: number,
  budget: ZipBudget,
  facts: ContentFacts,
  cut = false,
): void {
  const listing = readZip(bytes, entryLimit(budget));
  noteListing(listing, name, budget, facts, cut);
  // Entries whose data is another entry's: no archiver writes them; an overlapping zip bomb is made of them
  // (a thousand names for one stored zip of a thousand entries, opened a thousand times). Their names are
  // still checked; their data is read once, under the first name.
  const dataRead = new Set<number>();
  let overlapping = 0;
  for (const entry of listing.entries) {
    if (isDirectory(entry)) continue;
    const path = `${name}/${entry.name}`;
    if (entry.dataStart !== undefined && dataRead.has(entry.dataStart)) {
      overlapping++;
      carry(facts, entry, name, EMPTY);
      continue;
    }
    if (entry.dataStart !== undefined) dataRead.add(entry.dataStart);
    const read = entry.encrypted ? EMPTY : entryHead(bytes, entry, budget);
    if (read === undefined) facts.corruptZips.push(`${path}: ${BROKEN}`);
    if (read === OVER_BUDGET) facts.skipped.push(`${path}: ${OVER_BUDGET}`);
    const head = typeof read === "string" ? undefined : read;
    carry(facts, entry, name, head ?? EMPTY);
    const kind = head === undefined ? undefined : archiveKind(entry.name, head);
    if (kind === undefined || entry.encrypted) continue;
    if (depth <= 1) {
      facts.skipped.push(`${path}: archives nested deeper than zip_max_depth`);
      continue;
    }
    const inner = entryData(bytes, entry, budget);
    if (inner === BROKEN) facts.corruptZips.push(`${path}: ${inner}`);
    else if (typeof inner === "string") facts.skipped.push(`${path}: ${inner}`);
    else scanArchive(kind, inner, path, depth - 1, budget, facts);
  }
  if (overlapping > 0) facts.corruptZips.push(`${name}: ${overlapping} entries share another entry's data`);
}

/**
 * A directory: every name the entry has ends in "/". One whose local header or Unicode Path name is a
 * file's is extracted as that file (unzip writes `docs/` with Unicode Path `evil.js` as evil.js).
 */
function isDirectory(entry: ZipEntry): boolean {
  return [entry.name, entry.localName ?? "/", ...(entry.unicodeNames ?? [])].every((name) =>
    name.endsWith("/")
  );
}

/**
 * The entry as carried files: under its name, and under each other name an extractor may save it under
 * (its local header's, its Unicode Path fields') when that differs.
 */
function carry(facts: ContentFacts, entry: ZipEntry, zipName: string, head: Uint8Array): void {
  const where = `in ${zipName}`;
  facts.files.push({ name: entry.name, where, head, encrypted: entry.encrypted });
  if (entry.localName !== undefined) {
    facts.files.push({ name: entry.localName, where, head, encrypted: entry.encrypted });
  }
  for (const name of entry.unicodeNames ?? []) {
    facts.files.push({ name, where, head, encrypted: entry.encrypted });
  }
}

function storedData(bytes: Uint8Array, entry: ZipEntry): Uint8Array | undefined {
  if (entry.dataStart === undefined) return undefined;
  return bytes.subarray(entry.dataStart, Math.min(entry.dataStart + entry.compressedSize, bytes.length));
}

/**
 * The entry's first bytes, for their magic; undefined when it cannot be inflated. Its first 512
 * compressed bytes (a dynamic block's code tables alone may take a few hundred) are inflated to at most
 * FREE_HEAD_OUTPUT, uncharged: zlib stops there, so an entry costs at most that however it was made.
 * More means a start that compresses beyond 8:1 (zeros, a bomb): then the 64-byte prefix (at most ~66 KB
 * out), and only when that gives fewer than 512 bytes the whole 512 (at most ~530 KB), charged to the
 * heads' own allowance: the refused call what it was allowed, each other what it gave, so such a head
 * costs at least 4 KB of it. Once it is spent no head is inflated at all, as no archive is once
 * zip_max_bytes is. The head is a copy: a view would hold the rest.
 */
function entryHead(bytes: Uint8Array, entry: ZipEntry, budget: ZipBudget): Uint8Array | undefined | string {
  const data = storedData(bytes, entry);
  if (data === undefined) return undefined;
  if (entry.method === STORED) return data.subarray(0, HEAD_BYTES);
  if (entry.method !== DEFLATED) return EMPTY; // bzip2, lzma…: names only
  if (budget.headBytesLeft <= 0) return OVER_BUDGET;
  const start = data.subarray(0, HEAD_INPUT_BYTES);
  const free = inflateWithin(start, FREE_HEAD_OUTPUT);
  if (free !== OVER_BUDGET) return free?.slice(0, HEAD_BYTES);
  budget.headBytesLeft -= FREE_HEAD_OUTPUT;
  for (const input of [SHORT_HEAD_INPUT, HEAD_INPUT_BYTES]) {
    if (budget.headBytesLeft <= 0) return OVER_BUDGET;
    const inflated = inflateWithin(start.subarray(0, input), input * ROOM_PER_INPUT_BYTE);
    if (typeof inflated !== "object") return undefined;
    budget.headBytesLeft -= inflated.length;
    if (inflated.length >= HEAD_BYTES || input >= start.length) return inflated.slice(0, HEAD_BYTES);
  }
  return undefined; // not reached: the last prefix is the whole start
}

/**
 * Raw deflate data inflated as far as it goes, within `limit` bytes out; undefined when broken. zlib
 * stops at the limit by throwing; the error's stack is not captured (only its code is read), or it would
 * cost Deno three times the call (measured: 90–140 µs against 20–45) for every head past its free part.
 */
function inflateWithin(data: Uint8Array, limit: number): Uint8Array | undefined | typeof OVER_BUDGET {
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return inflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: limit });
  } catch (error) {
    return (error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE" ? OVER_BUDGET : undefined;
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

/** The whole entry, within the budget (which it then uses up, stored or inflated); or why not. */
function entryData(bytes: Uint8Array, entry: ZipEntry, budget: ZipBudget): Uint8Array | string {
  const data = storedData(bytes, entry);
  if (data === undefined) return "its data is not within the bytes read";
  if (entry.method === STORED) {
    // Not copied, but read whole: charged like an inflated one, or a directory of entries all pointing
    // at one stored zip would have it read once per entry, unbounded (an overlapping zip bomb).
    if (data.length > budget.bytesLeft) return OVER_BUDGET;
    budget.bytesLeft -= data.length;
    return data;
  }
  if (entry.method !== DEFLATED) return `compression method ${entry.method} is not read`;
  if (budget.bytesLeft <= 0) return OVER_BUDGET;
  try {
    const inflated = inflateRawSync(data, {
      maxOutputLength: budget.bytesLeft,
      finishFlush: constants.Z_SYNC_FLUSH,
    });
    budget.bytesLeft -= inflated.length;
    return inflated;
  } catch (error) {
    return (error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE" ? OVER_BUDGET : BROKEN;
  }
}
