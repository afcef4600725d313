// The MIME walk: the message's bytes through @zone-eu/mailsplit's splitter, every leaf part reduced to a
// carried file (its declared type, its decoded name, its first decoded bytes) as the splitter hands its
// body over, zip parts collected up to zip_max_bytes and read (zip-scan.ts), attached messages fed to a
// splitter of their own (mailsplit does not recurse into them). Nothing of a part is kept beyond those
// windows: the bytes the splitter hands over are views of the message, decoded only as far as needed.
// Pure (no socket, file or timer of ours: the splitter is an in-memory stream that yields between 16 KB
// slices); async only because the splitter is.
import { Buffer } from "node:buffer";
import { type MimeNode, Splitter } from "@zone-eu/mailsplit";
import type { ContentPolicy } from "../model/content.ts";
import { decodeSubject } from "../protocols/subject.ts";
import type { ContentFacts } from "./carried-file.ts";
import { extensionOf } from "./executables.ts";
import { chunkDecoder } from "./transfer-decoding.ts";
import { looksLikeZip } from "./zip-reader.ts";
import { scanZip, type ZipBudget } from "./zip-scan.ts";

/** A part's first bytes kept for their magic: an MZ header's PE offset is within them. */
export const HEAD_BYTES = 512;
/** Encoded bytes decoded at a time while only the head is wanted (base64 or quoted-printable of 512). */
const HEAD_INPUT = 4 * HEAD_BYTES;
/** The message goes to the splitter in views of this size. */
const WRITE_BYTES = 64 * 1024;
/** One part's header block at most; a longer one ends the walk (the answer says so). */
const MAX_HEADER_BYTES = 256 * 1024;
const ZIP_TYPES = new Set(["application/zip", "application/x-zip-compressed", "application/x-zip"]);

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

interface SplitterFeed {
  write(chunk: Uint8Array): boolean;
  splitter: Splitter;
  /** Ends the input; resolves once this splitter and the attached messages inside it are walked. */
  end(): Promise<void>;
}

export function walkMessage(message: Uint8Array, policy: ContentPolicy): Promise<WalkedMessage> {
  const facts: WalkedMessage = { files: [], corruptZips: [], skipped: [] };
  const walk: Walk = {
    policy,
    facts,
    parts: 0,
    zipBudget: { bytesLeft: policy.zipMaxBytes, maxEntries: policy.zipMaxEntries },
  };
  const feed = splitInto(walk, 0, "attachment");
  for (let at = 0; at < message.length; at += WRITE_BYTES) {
    const length = Math.min(WRITE_BYTES, message.length - at);
    feed.write(Buffer.from(message.buffer, message.byteOffset + at, length));
  }
  return feed.end().then(() => facts);
}

/** A splitter for a message at `depth` (0: the message itself; 1: a message attached to it, …). */
function splitInto(walk: Walk, depth: number, where: string): SplitterFeed {
  const splitter = new Splitter({
    ignoreEmbedded: true,
    maxHeadSize: MAX_HEADER_BYTES,
    maxChildNodes: walk.policy.maxParts + 1,
  });
  const attached: Promise<void>[] = [];
  let part: PartSink | undefined;
  splitter.on("data", (data: MimeNode | { type: "data" | "body"; value: Buffer }) => {
    if (data.type === "body") return part?.add(data.value);
    if (data.type !== "node") return;
    part?.finish();
    part = undefined;
    const node = data as MimeNode;
    if (depth === 0 && node.root) {
      const subject = node.headers ? node.headers.getFirst("subject") : "";
      if (subject !== "") walk.facts.subject = decodeSubject(subject);
    }
    if (node.multipart || !admitPart(walk, depth + nesting(node))) return;
    part = partSink(walk, node, depth, where, splitter, attached);
  });
  // The splitter's typings list only its "data" event; the stream's own events are there as for any stream.
  const events: NodeJS.EventEmitter = splitter;
  const walked = new Promise<void>((resolve) => {
    events.on("end", () => {
      part?.finish();
      resolve();
    });
    events.on("error", (error: Error) => {
      walk.facts.skipped.push(`MIME structure: ${error.message}`);
      resolve();
    });
  });
  return {
    splitter,
    write: (chunk) => splitter.destroyed ? true : splitter.write(chunk),
    end() {
      if (!splitter.destroyed) splitter.end();
      return walked.then(() => Promise.all(attached)).then(() => undefined);
    },
  };
}

/** How deep a node sits in its message's multipart tree (the root: 0). */
function nesting(node: MimeNode): number {
  let depth = 0;
  for (let parent = node.parentNode; parent; parent = parent.parentNode) depth++;
  return depth;
}

/** Counts the part against max_parts and max_depth; false (noted once) when it is beyond one of them. */
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

interface PartSink {
  add(chunk: Uint8Array): void;
  finish(): void;
}

type Mode = "head" | "zip" | "message" | "done";

/**
 * One leaf part: its head always; then, by what it is, the rest collected as a zip (up to what is left of
 * zip_max_bytes), fed to an attached message's splitter, or not decoded at all.
 */
function partSink(
  walk: Walk,
  node: MimeNode,
  depth: number,
  where: string,
  parent: Splitter,
  attached: Promise<void>[],
): PartSink {
  const { policy, facts } = walk;
  const name = typeof node.filename === "string" ? node.filename : "";
  const contentType = node.contentType || "text/plain";
  const decoder = chunkDecoder(node.encoding || "");
  const head = new Uint8Array(HEAD_BYTES);
  let headLength = 0;
  const zipDeclared = ZIP_TYPES.has(contentType) || extensionOf(name) === ".zip";
  let mode: Mode = contentType === "message/rfc822" ? "message" : "head";
  let inner: SplitterFeed | undefined;
  if (mode === "message") {
    if (depth + 1 + nesting(node) > policy.maxDepth) {
      facts.skipped.push(`attached message deeper than max_depth (${policy.maxDepth})`);
      mode = "done";
    } else inner = splitInto(walk, depth + 1, "in attached message");
  }
  const zip: Uint8Array[] = [];
  let zipLength = 0;
  let zipCut = false;

  const collect = (bytes: Uint8Array) => {
    const room = Math.min(walk.zipBudget.bytesLeft - zipLength, bytes.length);
    if (room > 0) zip.push(bytes.subarray(0, room));
    zipLength += Math.max(room, 0);
    if (room < bytes.length) {
      zipCut = true;
      mode = "done";
    }
  };
  const consume = (bytes: Uint8Array) => {
    if (headLength < HEAD_BYTES) {
      const taken = Math.min(HEAD_BYTES - headLength, bytes.length);
      head.set(bytes.subarray(0, taken), headLength);
      headLength += taken;
    }
    if (mode === "message") return feedInner(inner!, parent, bytes);
    if (mode === "head" && policy.zip && (zipDeclared || (headLength >= 4 && looksLikeZip(head)))) {
      mode = "zip";
    }
    if (mode === "zip") collect(bytes);
    else if (mode === "head" && headLength === HEAD_BYTES) mode = "done";
  };

  return {
    add(chunk) {
      if (mode === "done") return;
      const wantsAll = mode !== "head";
      consume(decoder.decode(wantsAll ? chunk : chunk.subarray(0, HEAD_INPUT)));
      if (!wantsAll && chunk.length > HEAD_INPUT && (mode as Mode) !== "done") {
        consume(decoder.decode(chunk.subarray(HEAD_INPUT)));
      }
    },
    finish() {
      if (mode !== "done") consume(decoder.end());
      facts.files.push({ name, contentType, head: head.subarray(0, headLength), where });
      if (inner) attached.push(inner.end());
      if (zipLength > 0 || zipCut) finishZip(walk, name || "(zip attachment)", zip, zipLength, zipCut);
      mode = "done";
    },
  };
}

/** Writes to an attached message's splitter; when it has enough queued, the outer one waits for it. */
function feedInner(inner: SplitterFeed, outer: Splitter, bytes: Uint8Array): void {
  if (bytes.length === 0 || inner.write(bytes)) return;
  outer.pause();
  const events: NodeJS.EventEmitter = inner.splitter;
  events.once("drain", () => outer.resume());
  events.once("error", () => outer.resume());
}

function finishZip(walk: Walk, name: string, pieces: Uint8Array[], length: number, cut: boolean): void {
  const { facts, policy, zipBudget } = walk;
  if (length === 0) {
    facts.skipped.push(`${name}: over zip_max_bytes`);
    return;
  }
  zipBudget.bytesLeft -= length;
  // Cut: the central directory (at the end) is missing; the entries before the cut are read from their
  // local headers, and the zip is not called corrupt for it.
  if (cut) facts.skipped.push(`${name}: only its first ${length} bytes read (zip_max_bytes)`);
  const bytes = pieces.length === 1 ? pieces[0] : Buffer.concat(pieces, length);
  scanZip(bytes, name, policy.zipMaxDepth, zipBudget, facts, cut);
}
