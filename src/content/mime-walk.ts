// The MIME walk: every part of the message, nested multiparts and attached messages (message/rfc822)
// included, reduced to a carried file (its declared type, its decoded name, its first decoded bytes); zip
// parts read up to zip_max_bytes (zip-scan.ts). Each part's header block goes through
// @zone-eu/mailsplit's MimeNode, which decodes it with libmime (Content-Type, RFC 2231/2047 file names,
// raw 8-bit), exactly as its Splitter does; the boundaries are found with Buffer.indexOf over the message,
// which is in memory already (the request holds it): mailsplit's streaming Splitter looks at every line
// and alone took 5.6 ms of CPU for the 1 MB benchmark message, over the 5 ms a whole scan may take
// (docs/content.md, "Performance"). Parts are views of the message: nothing is copied but each part's
// first bytes, decoded zips within zip_max_bytes and the decoded text of an encoded attached message.
// Pure and synchronous.
import { Buffer } from "node:buffer";
import { MimeNode } from "@zone-eu/mailsplit";
import libmime from "libmime";
import type { ContentPolicy } from "../model/content.ts";
import { decodeSubject } from "../protocols/subject.ts";
import { type ArchiveKind, archiveKind, scanArchive } from "./archive-scan.ts";
import type { ContentFacts } from "./carried-file.ts";
import { embeddedFiles } from "./embedded-files.ts";
import { looksLikeTnef, readTnef } from "./tnef-reader.ts";
import { chunkDecoder } from "./transfer-decoding.ts";
import type { ZipBudget } from "./zip-scan.ts";

/** A part's first bytes kept for their magic: an MZ header's PE offset is within them. */
export const HEAD_BYTES = 512;
/** Encoded bytes decoded first for the head (base64 or quoted-printable of 512 bytes, with line breaks). */
const HEAD_INPUT = 4 * HEAD_BYTES;
/** Encoded bytes decoded at a time when a zip is collected. */
const DECODE_SLICE = 64 * 1024;
/** A part's header block is looked for within this many bytes; beyond, the part is all header. */
export const MAX_HEADER_BYTES = 256 * 1024;
/** Outlook's TNEF wrapper around a message's attachments (winmail.dat). */
const TNEF_TYPES = new Set(["application/ms-tnef", "application/vnd.ms-tnef"]);
/**
 * Where a part's file names are: each header's parameter, and its RFC 2231 form (`name*`, `name*0*`, …) as a
 * parameter starts (after ";" and white space: a linear match, each run of white space tried once).
 */
const NAME_PARAMETERS = [
  ["content-disposition", "filename", /;(\s*)filename\*/gi],
  ["content-type", "name", /;(\s*)name\*/gi],
] as const;
/** What an RFC 2231 name parameter is renamed to, beside the plain one (otherNames). */
const EXTENDED_PREFIX = "x-mailpolicyd-extended-";
/**
 * The part's declared type without comments: `application/x-msdownload (setup)` is that type to a mail
 * reader, and would otherwise pass for one that is not an executable's.
 */
function declaredType(node: MimeNode): string {
  const type = node.contentType || "";
  return type.includes("(") ? withoutComments(type) : type;
}

/**
 * The value without its RFC 2045 comments (which libmime keeps in a Content-Type's value): each "(…)" that
 * holds no parenthesis, with the white space before it, then the ends trimmed. By hand in one pass: the
 * regex `/\s*\([^()]*\)/g` retried from every character of a run of white space not followed by a comment
 * that closes, quadratic in it: 40 KB of tabs before an unclosed "(" took 1.7 s, a header block's 256 KB
 * over a minute.
 */
function withoutComments(value: string): string {
  let kept = "";
  let from = 0;
  let open = value.indexOf("(");
  while (open >= 0) {
    let next = open + 1;
    while (next < value.length && value[next] !== "(" && value[next] !== ")") next++;
    if (next === value.length) break;
    if (value[next] === "(") {
      open = next; // what is before it stays: the comment, if any, starts here
      continue;
    }
    kept += value.slice(from, open).trimEnd();
    from = next + 1;
    open = value.indexOf("(", from);
  }
  return (kept + value.slice(from)).trim();
}

/** An attached message: RFC 6532's message/global is message/rfc822 with UTF-8 headers. */
const ATTACHED_MESSAGE = "message/rfc822";
const ATTACHED_MESSAGE_TYPES = new Set([ATTACHED_MESSAGE, "message/global"]);
const IDENTITY_ENCODINGS = new Set(["", "7bit", "8bit", "binary"]);
/**
 * Transfer encodings that are a uuencode or yEnc block in the body (Thunderbird's names for them): the part's
 * bytes are the encoded text, so its files are the blocks (embedded-files.ts), not its raw bytes.
 */
const EMBEDDING_ENCODINGS = new Set(["x-uuencode", "uuencode", "x-uue", "uue", "x-yencode"]);
/** The text parts mail readers look for uuencode and yEnc blocks in (a part without a type is one). */
const EMBEDDING_TYPE = "text/plain";
const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;

export interface WalkedMessage extends ContentFacts {
  /** The top-level Subject, RFC 2047 decoded; undefined when the message has none. */
  subject?: string;
}

interface Walk {
  policy: ContentPolicy;
  facts: WalkedMessage;
  parts: number;
  zipBudget: ZipBudget;
}

/** One entity (a message, or a part of one): its bytes are bytes[start, end). */
interface Entity {
  bytes: Buffer;
  start: number;
  end: number;
  parent: MimeNode | false;
  /** Multipart levels and attached messages above it. */
  depth: number;
  /** For the report: "attachment", "in attached message". */
  where: string;
}

export function walkMessage(message: Uint8Array, policy: ContentPolicy): WalkedMessage {
  const facts: WalkedMessage = { files: [], corruptZips: [], skipped: [] };
  const walk: Walk = {
    policy,
    facts,
    parts: 0,
    zipBudget: {
      bytesLeft: policy.zipMaxBytes,
      headBytesLeft: policy.zipMaxBytes,
      maxEntries: policy.zipMaxEntries,
      entriesLeft: policy.zipMaxMessageEntries,
    },
  };
  const bytes = Buffer.from(message.buffer, message.byteOffset, message.length);
  const message0 = wholeMessage(bytes);
  admitPart(walk, 0);
  const root = readHeaders(message0);
  const subject = root.node.headers ? root.node.headers.getFirst("subject") : "";
  if (subject !== "") facts.subject = decodeSubject(subject);
  walkEntity(walk, root.node, root.bodyStart, message0);
  return facts;
}

/** The message itself as an entity. */
function wholeMessage(bytes: Buffer): Entity {
  return { bytes, start: 0, end: bytes.length, parent: false, depth: 0, where: "attachment" };
}

/** The entity's header block through MimeNode, and where its body starts. */
function readHeaders(entity: Entity): { node: MimeNode; bodyStart: number } {
  const { bytes, start, end } = entity;
  const bodyStart = bodyStartOf(bytes, start, Math.min(end, start + MAX_HEADER_BYTES));
  const node = new MimeNode(entity.parent);
  node.addHeaderChunk(bytes.subarray(start, bodyStart));
  node.parseHeaders();
  if (isDigestDefault(node, entity.parent)) node.contentType = ATTACHED_MESSAGE;
  return { node, bodyStart: Math.min(bodyStart, end) };
}

/**
 * A part of a multipart/digest without a Content-Type is an attached message (RFC 2046 5.1.5), as mutt
 * and Thunderbird show it; MimeNode makes it text/plain (or guesses from its file name), so the message
 * inside, and its attachments, would not be walked.
 */
function isDigestDefault(node: MimeNode, parent: MimeNode | false): boolean {
  return parent !== false && parent.multipart === "digest" && node.headers !== false &&
    node.headers.get("content-type").length === 0;
}

/** Where the body starts: after the first empty line; `limit` when there is none before it. */
function bodyStartOf(bytes: Buffer, start: number, limit: number): number {
  if (bytes[start] === LF) return start + 1;
  if (bytes[start] === CR && bytes[start + 1] === LF) return start + 2;
  let at = start;
  while (at < limit) {
    const lf = bytes.indexOf(LF, at);
    if (lf < 0 || lf >= limit) return limit;
    if (bytes[lf + 1] === LF) return lf + 2;
    if (bytes[lf + 1] === CR && bytes[lf + 2] === LF) return lf + 3;
    at = lf + 1;
  }
  return limit;
}

/** An admitted entity (admitPart) whose headers are read: its parts, or itself as a file. */
function walkEntity(walk: Walk, node: MimeNode, bodyStart: number, entity: Entity): void {
  const body = entity.bytes.subarray(bodyStart, entity.end);
  if (node.multipart && node._boundary) return walkMultipart(walk, node, node._boundary, body, entity);
  readLeaf(walk, node, body, entity);
  if (ATTACHED_MESSAGE_TYPES.has(declaredType(node))) walkAttachedMessage(walk, node, body, entity);
}

/**
 * Counts the part against max_parts and max_depth, before its headers are read; false (noted once) when
 * it is beyond one of them.
 */
function admitPart(walk: Walk, depth: number): boolean {
  const { policy, facts } = walk;
  if (++walk.parts > policy.maxParts) {
    if (walk.parts === policy.maxParts + 1) facts.skipped.push(`parts beyond max_parts (${policy.maxParts})`);
    return false;
  }
  if (depth > policy.maxDepth) {
    const note = `MIME nesting deeper than max_depth (${policy.maxDepth})`;
    if (!facts.skipped.includes(note)) facts.skipped.push(note);
    return false;
  }
  return true;
}

/** Each body part between the delimiter lines ("--boundary", "--boundary--" closes). */
function walkMultipart(walk: Walk, node: MimeNode, boundary: Buffer, body: Buffer, entity: Entity): void {
  const delimiter = Buffer.concat([Buffer.from("--"), boundary]);
  let partStart = -1;
  let from = 0;
  for (;;) {
    const found = findDelimiter(body, delimiter, from);
    if (found === undefined) break;
    if (partStart >= 0 && !walkPart(walk, node, body, partStart, lineEndBefore(body, found.at), entity)) {
      return;
    }
    if (found.closing) return;
    partStart = found.next;
    from = found.next;
  }
  // No closing delimiter: the last part runs to the end, as mail readers show it.
  if (partStart >= 0 && partStart < body.length) walkPart(walk, node, body, partStart, body.length, entity);
}

/** One body part; false once max_parts is reached (the rest of the multipart is left). */
function walkPart(
  walk: Walk,
  parent: MimeNode,
  body: Buffer,
  start: number,
  end: number,
  entity: Entity,
): boolean {
  const child: Entity = { bytes: body, start, end, parent, depth: entity.depth + 1, where: entity.where };
  if (!admitPart(walk, child.depth)) return walk.parts <= walk.policy.maxParts;
  const { node, bodyStart } = readHeaders(child);
  walkEntity(walk, node, bodyStart, child);
  return true;
}

/**
 * The next delimiter line at or after `from`: at a line start, "--boundary", optionally "--", then only
 * spaces or tabs to the line end. `next`: where the line after it starts.
 */
function findDelimiter(body: Buffer, delimiter: Buffer, from: number) {
  for (let at = body.indexOf(delimiter, from); at >= 0; at = body.indexOf(delimiter, at + 1)) {
    if (at > 0 && body[at - 1] !== LF) continue;
    let end = at + delimiter.length;
    const closing = body[end] === DASH && body[end + 1] === DASH;
    if (closing) end += 2;
    while (body[end] === 0x20 || body[end] === 0x09) end++;
    if (end < body.length && body[end] !== LF && !(body[end] === CR && body[end + 1] === LF)) continue;
    const next = end >= body.length ? end : body[end] === LF ? end + 1 : end + 2;
    return { at, closing, next };
  }
  return undefined;
}

/** The line break before a delimiter belongs to the delimiter (RFC 2046 5.1.1), not to the part. */
function lineEndBefore(body: Buffer, at: number): number {
  if (at > 0 && body[at - 1] === LF) at--;
  if (at > 0 && body[at - 1] === CR) at--;
  return at;
}

/** A leaf part: a carried file with its head; a zip is read; the rest is not decoded. */
function readLeaf(walk: Walk, node: MimeNode, body: Buffer, entity: Entity): void {
  const name = typeof node.filename === "string" ? node.filename : "";
  const contentType = declaredType(node) || "text/plain";
  const encoding = node.encoding || "";
  const head = decodedHead(encoding, body);
  walk.facts.files.push({ name, contentType, head, where: entity.where });
  for (const other of otherNames(node, name)) {
    walk.facts.files.push({ name: other, contentType, head, where: entity.where });
  }
  const embedding = EMBEDDING_ENCODINGS.has(encoding);
  const kind = walk.policy.zip && !embedding ? archiveKind(name, head, contentType) : undefined;
  if (kind !== undefined) readArchivePart(walk, kind, name || `(${kind} attachment)`, encoding, body);
  if (embedding || contentType === EMBEDDING_TYPE) readEmbeddedFiles(walk, encoding, body, entity);
  const tnefDeclared = TNEF_TYPES.has(contentType) || name.toLowerCase() === "winmail.dat";
  if (!embedding && (tnefDeclared || looksLikeTnef(head))) {
    readTnefPart(walk, name || "winmail.dat", encoding, body, entity);
  }
}

/**
 * The files in a TNEF part (winmail.dat), decoded up to what is left of zip_max_bytes: each a carried file
 * under each of its names, counted against max_parts; a zip among them is read as a zip attachment is.
 */
function readTnefPart(walk: Walk, name: string, encoding: string, body: Buffer, entity: Entity): void {
  const { facts, policy, zipBudget } = walk;
  const { bytes, cut } = decodeUpTo(encoding, body, zipBudget.bytesLeft);
  zipBudget.bytesLeft -= bytes.length;
  if (cut) facts.skipped.push(`${name}: only its first ${bytes.length} bytes read (zip_max_bytes)`);
  const listing = readTnef(bytes, HEAD_BYTES, policy.zipMaxEntries);
  if (listing.problem?.startsWith("more than")) {
    facts.skipped.push(`${name}: files beyond zip_max_entries (${policy.zipMaxEntries})`);
  } else if (listing.problem !== undefined && !cut) {
    facts.skipped.push(`${name}: ${listing.problem}`); // what it held past that is not known
  }
  const where = `in ${name}`;
  for (const file of listing.files) {
    if (!admitPart(walk, entity.depth)) return;
    const names = file.names.length === 0 ? [""] : file.names;
    for (const fileName of names) facts.files.push({ name: fileName, head: file.head, where });
    const kind = names.map((fileName) => archiveKind(fileName, file.head)).find((found) => found);
    if (policy.zip && kind !== undefined && file.data.length > 0) {
      const path = `${name}/${names[0] || `(${kind})`}`;
      scanArchive(kind, file.data, path, policy.zipMaxDepth, zipBudget, facts, cut);
    }
  }
}

/**
 * The uuencode (either form) and yEnc blocks of a text part (decoded whole first when it is base64 or quoted-printable),
 * each a carried file counted against max_parts; a zip among them is read within zip_max_bytes.
 */
function readEmbeddedFiles(walk: Walk, encoding: string, body: Buffer, entity: Entity): void {
  const text = encoding === "base64" || encoding === "quoted-printable"
    ? decodeUpTo(encoding, body, body.length).bytes
    : body;
  const { policy, zipBudget } = walk;
  const search = {
    headBytes: HEAD_BYTES,
    wholeLimit: (name: string, head: Uint8Array) =>
      policy.zip && archiveKind(name, head) !== undefined ? zipBudget.bytesLeft : undefined,
  };
  for (const file of embeddedFiles(text, search)) {
    if (!admitPart(walk, entity.depth)) return;
    walk.facts.files.push({ name: file.name, head: file.head, where: `${entity.where}, ${file.format}` });
    const kind = archiveKind(file.name, file.head);
    if (file.whole && kind) readArchiveBytes(walk, kind, file.name, file.whole.bytes, file.whole.cut);
  }
}

/**
 * The part's other file names: mail readers differ on which header they take a name from (the first or the
 * last Content-Disposition's filename=, the Content-Type's name=), so each one that differs from MimeNode's
 * choice is a file as well: `filename="a.pdf"` with `name="a.exe"`, or a second Content-Disposition.
 */
function otherNames(node: MimeNode, chosen: string): string[] {
  const names: string[] = [];
  if (!node.headers) return names;
  for (const [header, parameter, extendedForm] of NAME_PARAMETERS) {
    for (const { value } of node.headers.getDecoded(header)) {
      if (!/name/i.test(value)) continue;
      // RFC 2231's form (`filename*=`, `filename*0=`) renamed, so that libmime, which lets it override the
      // plain `filename=` beside it (RFC 6266 4.3), keeps both: readers that do not know RFC 2231 take the
      // plain one, and a sender can make it `invoice.exe` behind an extended `invoice.pdf`.
      const params =
        libmime.parseHeaderValue(value.replace(extendedForm, `;$1${EXTENDED_PREFIX}${parameter}*`))
          .params;
      for (const name of [params[parameter], params[EXTENDED_PREFIX + parameter]]) {
        if (!name) continue;
        let decoded = name;
        try {
          decoded = libmime.decodeWords(name);
        } catch {
          // an undecodable name is checked as written
        }
        if (decoded !== chosen && !names.includes(decoded)) names.push(decoded);
      }
    }
  }
  return names;
}

/**
 * The part's first HEAD_BYTES decoded bytes. Encoded input is decoded until they are there, not only its
 * first HEAD_INPUT bytes: line breaks, blank lines and junk in base64, or soft line breaks in
 * quoted-printable, decode to nothing (readers skip them), so a program behind 2 KB of them would otherwise
 * have had an empty head and passed its magic check. The slices grow, so a body of padding is decoded
 * once, in a few steps.
 */
function decodedHead(encoding: string, body: Buffer): Uint8Array {
  const decoder = chunkDecoder(encoding);
  const pieces: Uint8Array[] = [];
  let length = 0;
  let at = 0;
  for (
    let slice = HEAD_INPUT;
    at < body.length && length < HEAD_BYTES;
    slice = Math.min(2 * slice, DECODE_SLICE)
  ) {
    const piece = decoder.decode(body.subarray(at, at + slice));
    at += slice;
    pieces.push(piece);
    length += piece.length;
  }
  if (at >= body.length && length < HEAD_BYTES) pieces.push(decoder.end());
  const whole = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
  return whole.length > HEAD_BYTES ? whole.slice(0, HEAD_BYTES) : Uint8Array.from(whole);
}

/** A Buffer over the same memory (no copy). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/**
 * The archive part decoded up to what is left of zip_max_bytes, then read (cut: as far as it goes, a zip
 * from its local headers).
 */
function readArchivePart(walk: Walk, kind: ArchiveKind, name: string, encoding: string, body: Buffer): void {
  const { bytes, cut } = decodeUpTo(encoding, body, walk.zipBudget.bytesLeft);
  readArchiveBytes(walk, kind, name, bytes, cut);
}

/**
 * An archive's bytes, decoded up to what was left of zip_max_bytes (cut: there was more), charged and read.
 * A gzip's are not charged: nothing reads them but zlib, which inflates them within what is left and
 * charges what they inflate to (gzip-scan.ts), as a tar of the same files would be charged its bytes. Its
 * compressed bytes (at most what is left) are let go when the scan of it ends.
 */
function readArchiveBytes(
  walk: Walk,
  kind: ArchiveKind,
  name: string,
  bytes: Uint8Array,
  cut: boolean,
): void {
  const { facts, policy, zipBudget } = walk;
  if (bytes.length === 0) {
    if (cut) facts.skipped.push(`${name}: over zip_max_bytes`);
    return;
  }
  if (kind !== "gzip") zipBudget.bytesLeft -= bytes.length;
  if (cut) facts.skipped.push(`${name}: only its first ${bytes.length} bytes read (zip_max_bytes)`);
  scanArchive(kind, bytes, name, policy.zipMaxDepth, zipBudget, facts, cut);
}

/** The body decoded, at most `limit` bytes of it; `cut` when there was more. */
function decodeUpTo(encoding: string, body: Buffer, limit: number): { bytes: Uint8Array; cut: boolean } {
  if (IDENTITY_ENCODINGS.has(encoding)) {
    return { bytes: body.subarray(0, Math.max(0, limit)), cut: body.length > limit };
  }
  const decoder = chunkDecoder(encoding);
  const pieces: Uint8Array[] = [];
  let length = 0;
  for (let at = 0; at < body.length && length < limit; at += DECODE_SLICE) {
    const piece = decoder.decode(body.subarray(at, at + DECODE_SLICE));
    pieces.push(piece);
    length += piece.length;
  }
  if (length < limit) {
    const last = decoder.end();
    pieces.push(last);
    length += last.length;
  }
  const bytes = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces, length);
  return length > limit ? { bytes: bytes.subarray(0, limit), cut: true } : { bytes, cut: false };
}

/**
 * An attached message is walked as a message of its own (mailsplit's parser would not look inside one
 * that is an attachment or encoded): in place when it is 7bit/8bit/binary, else decoded first.
 */
function walkAttachedMessage(walk: Walk, node: MimeNode, body: Buffer, entity: Entity): void {
  const encoding = node.encoding || "";
  const inner = IDENTITY_ENCODINGS.has(encoding)
    ? body
    : asBuffer(decodeUpTo(encoding, body, body.length).bytes);
  const message: Entity = {
    bytes: inner,
    start: 0,
    end: inner.length,
    parent: false,
    depth: entity.depth + 1,
    where: "in attached message",
  };
  if (!admitPart(walk, message.depth)) return;
  const { node: root, bodyStart } = readHeaders(message);
  walkEntity(walk, root, bodyStart, message);
}
