// What a gzip holds (`.gz`, `.tgz`; RFC 1952): one file, inflated with node:zlib within what is left of the
// message's zip_max_bytes (maxOutputLength: a gzip bomb allocates no more than that), a carried file under
// the name its header gives (FNAME, which `gunzip -N` restores) and the one gunzip gives it (the gzip's name
// without .gz; .tgz is .tar), read as a tar when it is one (a .tar.gz is one archive: its tar is at the
// gzip's level) and opened as an archive one level deeper when it is another. Pure (node:zlib only
// computes).
import { Buffer } from "node:buffer";
import { constants, inflateRawSync } from "node:zlib";
import { archiveKind, chargeEntries, entryLimit, scanArchive } from "./archive-scan.ts";
import type { ContentFacts } from "./carried-file.ts";
import { scanTar } from "./tar-scan.ts";
import type { ZipBudget } from "./zip-scan.ts";

const HEAD_BYTES = 512;
const EMPTY = new Uint8Array(0);
/** Deflate gives at most 1032 bytes for one: this much input cannot inflate past the limit by much. */
const MAX_RATIO = 1032;
const FIRST_INPUT = 64;
const FLAG_HEADER_CRC = 0x02;
const FLAG_EXTRA = 0x04;
const FLAG_NAME = 0x08;
const FLAG_COMMENT = 0x10;
const FIXED_HEADER = 10;
/** A member ends with the CRC-32 and the size of its data, 4 bytes each. */
const TRAILER = 8;
/** The endings gunzip takes off (and .tgz, .taz, which it turns into .tar). */
const GUNZIP_SUFFIX = /(\.gz|-gz|\.z|-z|_z)$/i;
const TAR_SUFFIX = /\.t[ga]z$/i;
const latin1 = new TextDecoder("latin1");

/** Whether the bytes start as a gzip stream does (its magic, deflate as its method). */
export function looksLikeGzip(head: Uint8Array): boolean {
  return head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 8;
}

/**
 * Adds the file inside `bytes` (a gzip named `name`) to `facts`, and what it holds when it is an archive:
 * a tar at this level, another archive `depth` - 1 levels deep. `cut`: the bytes stop at zip_max_bytes, so
 * a stream that ends early is no corruption.
 */
export function scanGzip(
  bytes: Uint8Array,
  name: string,
  depth: number,
  budget: ZipBudget,
  facts: ContentFacts,
  cut = false,
): void {
  const inflated = gunzipWithin(bytes, Math.max(0, budget.bytesLeft), entryLimit(budget));
  budget.bytesLeft -= inflated.bytes.length;
  if (inflated.problem !== undefined && !cut) facts.corruptZips.push(`${name}: ${inflated.problem}`);
  if (inflated.overBudget) {
    facts.skipped.push(`${name}: only its first ${inflated.bytes.length} bytes inflated (zip_max_bytes)`);
  }
  chargeEntries(budget, inflated.members, inflated.membersLeft, { name, units: "members" }, facts);
  const content = inflated.bytes;
  const head = content.subarray(0, HEAD_BYTES);
  const names = contentNames(bytes, name);
  for (const fileName of names) facts.files.push({ name: fileName, where: `in ${name}`, head });
  const kind = names.map((fileName) => archiveKind(fileName, head)).find((found) => found);
  const partial = cut || inflated.problem !== undefined || inflated.overBudget || inflated.membersLeft;
  if (kind === undefined || content.length === 0) return;
  if (kind === "tar") return scanTar(content, name, depth, budget, facts, partial);
  const path = `${name}/${names[0]}`;
  if (depth <= 1) facts.skipped.push(`${path}: archives nested deeper than zip_max_depth`);
  else scanArchive(kind, content, path, depth - 1, budget, facts, partial);
}

/**
 * The names the content is saved under: gunzip's (the gzip's name without its ending, or the name itself
 * when it has none) and the header's FNAME when it has one that differs.
 */
function contentNames(bytes: Uint8Array, name: string): string[] {
  const stripped = TAR_SUFFIX.test(name) ? name.replace(TAR_SUFFIX, ".tar") : name.replace(GUNZIP_SUFFIX, "");
  const original = headerName(bytes);
  return original === undefined || original === stripped ? [stripped] : [stripped, original];
}

/** The header's FNAME (zero-terminated, Latin-1 by RFC 1952), or undefined. */
function headerName(bytes: Uint8Array): string | undefined {
  if (!looksLikeGzip(bytes) || bytes.length < FIXED_HEADER || (bytes[3] & FLAG_NAME) === 0) return undefined;
  let at = FIXED_HEADER;
  if (bytes[3] & FLAG_EXTRA) at += 2 + (bytes[at] | (bytes[at + 1] << 8));
  const end = bytes.indexOf(0, at);
  return at >= bytes.length || end < 0 ? undefined : latin1.decode(bytes.subarray(at, end));
}

interface Inflated {
  bytes: Uint8Array;
  /** Why the stream could not be inflated to its end ("ends before its trailer"), when it could not. */
  problem?: string;
  /** It inflates to more than the limit: `bytes` is what a prefix of it gives within the limit. */
  overBudget: boolean;
  /** The members inflated (or tried): a call into zlib each, however little they hold. */
  members: number;
  /** It has more members than `maxMembers`: the rest are not inflated. */
  membersLeft: boolean;
}

/**
 * The stream's members (`cat a.gz b.gz` is one stream to gunzip) inflated one after another, at most
 * `limit` bytes in all and `maxMembers` of them. Each member's deflate data is inflated raw, so its end is
 * known (zlib says how much input it took) and bytes after the last member are ignored, as gunzip ignores
 * them ("trailing garbage ignored"), rather than failing the whole stream.
 */
function gunzipWithin(bytes: Uint8Array, limit: number, maxMembers: number): Inflated {
  const pieces: Uint8Array[] = [];
  let length = 0;
  let at = 0;
  let members = 0;
  const result = (fields: Partial<Inflated>): Inflated => ({
    bytes: pieces.length === 1 ? pieces[0] : Buffer.concat(pieces, length),
    members,
    overBudget: false,
    membersLeft: false,
    ...fields,
  });
  while (at < bytes.length && looksLikeGzip(bytes.subarray(at))) {
    if (members === maxMembers) return result({ membersLeft: true });
    if (length >= limit) return result({ overBudget: true });
    const dataAt = memberDataStart(bytes, at);
    if (dataAt === undefined) return result({ problem: "a member's header runs past the end" });
    const data = bytes.subarray(dataAt);
    members++;
    let inflated: { buffer: Uint8Array; engine: { bytesWritten: number } };
    try {
      inflated = inflateRaw(data, limit - length, true) as unknown as typeof inflated;
    } catch (error) {
      const overBudget = (error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE";
      const prefix = longestPrefix(data, limit - length);
      pieces.push(prefix);
      length += prefix.length;
      return result(overBudget ? { overBudget } : { problem: `cannot be inflated past byte ${length}` });
    }
    pieces.push(inflated.buffer);
    length += inflated.buffer.length;
    at = dataAt + inflated.engine.bytesWritten + TRAILER;
  }
  if (at === 0) return result({ problem: "no gzip header" });
  return at > bytes.length ? result({ problem: "ends before its trailer" }) : result({});
}

/** Where a member's deflate data starts, past its header's optional fields; undefined past the end. */
function memberDataStart(bytes: Uint8Array, member: number): number | undefined {
  if (member + FIXED_HEADER > bytes.length) return undefined;
  const flags = bytes[member + 3];
  let at = member + FIXED_HEADER;
  if (flags & FLAG_EXTRA) at += 2 + (bytes[at] | (bytes[at + 1] << 8));
  for (const flag of [FLAG_NAME, FLAG_COMMENT]) {
    if ((flags & flag) === 0) continue;
    const end = bytes.indexOf(0, at);
    if (end < 0) return undefined;
    at = end + 1;
  }
  if (flags & FLAG_HEADER_CRC) at += 2;
  return at <= bytes.length ? at : undefined;
}

/**
 * What the longest of the prefixes 64, 128, 256… bytes of the deflate data (from limit / 1032: no more
 * than that much output) inflates to within `limit`: zlib's synchronous calls give all or nothing, and what
 * can be read of a big or damaged member is still to be checked. Each step inflates at most `limit` bytes;
 * the last one kept is at least half the input that fits.
 */
function longestPrefix(data: Uint8Array, limit: number): Uint8Array {
  let best: Uint8Array = EMPTY;
  for (let input = Math.max(FIRST_INPUT, Math.floor(limit / MAX_RATIO)); input < data.length; input *= 2) {
    try {
      best = inflateRaw(data.subarray(0, input), limit, false) as Uint8Array;
    } catch {
      break;
    }
  }
  return best;
}

/** Raw inflation within `limit` bytes of output; data cut short gives what it holds. */
function inflateRaw(data: Uint8Array, limit: number, info: boolean): unknown {
  return inflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: limit, info });
}
