// Codec for Exim's ${readsocket}: one request per connection, one reply, no trailing newline (an ACL
// `condition` accepts only a bare yes/no). Two forms share the socket: the seed's bare token and the
// attribute line. See docs/protocol.md.
import { Buffer } from "node:buffer";
import { type Attributes, parseAttributes, type Stage, STAGES } from "./attributes.ts";
import { withoutNeedlessQuotes } from "../model/mailbox.ts";

export const MAX_REQUEST_BYTES = 4096;

export type ReadsocketRequest =
  | { kind: "legacy"; key: string }
  | {
    kind: "attributes";
    stage: Stage;
    attributes: Attributes;
    ignored: readonly string[];
    eightBit: boolean;
  }
  | { kind: "invalid"; form: "legacy" | "attributes"; reason: string };

const utf8 = new TextDecoder("utf-8", { fatal: true });
const latin1 = new TextDecoder("latin1");

// Plain loops over the bytes: Uint8Array.findIndex/some with a callback showed in the profile
// (docs/decisions.md, "Measured on the request path").
function isBlank(byte: number): boolean {
  return byte === 0x20 || byte === 0x09;
}

function firstWordEnd(line: Uint8Array, length: number): number {
  let end = 0;
  while (end < length && end < 16 && !isBlank(line[end])) end++;
  return end;
}

/** The stage the line starts with, in any case, as the canonical literal: no string built per request. */
function stageOf(line: Uint8Array, end: number): Stage | undefined {
  next: for (const stage of STAGES) {
    if (stage.length !== end) continue;
    for (let i = 0; i < end; i++) {
      if ((line[i] | 0x20) !== stage.charCodeAt(i)) continue next;
    }
    return stage;
  }
  return undefined;
}

/**
 * A blank between two words (leading and trailing blanks do not count) and an "=" somewhere. A blank inside
 * double quotes is no word break: Exim's $sender_address keeps the quotes of a local part, in whole
 * ("john doe"@x) or in part (x."y z=w"@x, which RFC 5322's obsolete syntax allows and Exim accepts), and an
 * attribute line has a blank outside its quoted values after the stage word.
 */
function looksLikeAttributes(line: Uint8Array, length: number): boolean {
  let severalWords = false;
  let equals = false;
  let inWord = false;
  let afterWord = false;
  let quoted = false;
  for (let i = 0; i < length; i++) {
    const byte = line[i];
    if (quoted) {
      if (byte === 0x5c) i++; // `\"` and `\\` inside quotes: the next byte is content
      else if (byte === 0x22) quoted = false;
      continue;
    }
    if (byte === 0x22) quoted = true;
    if (isBlank(byte)) {
      inWord = false;
      continue;
    }
    if (byte === 0x3d) equals = true;
    if (!inWord && afterWord) severalWords = true;
    inWord = afterWord = true;
  }
  return severalWords && equals;
}

const PLAIN = 0; // ASCII without controls or backslashes: read as is
const ASCII = 1; // ASCII with a control or a backslash: attribute values need cleaning
const EIGHT_BIT = 2;
const HAS_NUL = 3;
type Content = typeof PLAIN | typeof ASCII | typeof EIGHT_BIT | typeof HAS_NUL;

/**
 * One pass over the line: a NUL refuses it, a line without 8-bit bytes needs no UTF-8 decoding, and a
 * plain one (the usual line) no cleaning either.
 */
function scanBytes(line: Uint8Array, length: number): Content {
  let result: Content = PLAIN;
  for (let i = 0; i < length; i++) {
    const byte = line[i];
    if (byte === 0) return HAS_NUL;
    if (byte >= 0x80) result = EIGHT_BIT;
    else if ((byte < 0x20 || byte === 0x7f || byte === 0x5c) && result === PLAIN) result = ASCII;
  }
  return result;
}

// Nearly every line is plain ASCII, which every decoder reads alike: Buffer's latin1 slice costs a quarter
// of the UTF-8 TextDecoder call (docs/decisions.md, "Measured on the request path"). It reads the runtime's
// buffer in place (start and end), without a subarray view made per request.
function asciiText(bytes: Uint8Array, length: number): string {
  return Buffer.prototype.toString.call(bytes, "latin1", 0, length);
}

/**
 * An attribute line that is not UTF-8, a word at a time: each word (split at the blanks outside Exim's
 * `${quote:}` quotes) as UTF-8 if it is, else as Windows-1252. Only the fallback for such lines.
 */
function decodeByWord(bytes: Uint8Array, length: number): string {
  const words: string[] = [];
  let start = 0;
  let quoted = false;
  for (let at = 0; at <= length; at++) {
    const byte = at < length ? bytes[at] : 0x20;
    if (quoted && byte === 0x5c) at++; // `\"` and `\\` inside quotes: the next byte is content
    else if (byte === 0x22) quoted = !quoted;
    else if (byte === 0x20 && !quoted) {
      words.push(decodeWord(bytes.subarray(start, at)));
      start = at + 1;
    }
  }
  if (start < length) words.push(decodeWord(bytes.subarray(start, length))); // an unclosed quote
  return words.join(" ");
}

function decodeWord(word: Uint8Array): string {
  try {
    return utf8.decode(word);
  } catch {
    return latin1.decode(word);
  }
}

// The characters that make a decoded 8-bit line need cleaning (a plain ASCII line was checked byte by byte).
// deno-lint-ignore no-control-regex
const NEEDS_CLEANING = /[\x00-\x1f\x7f-\x9f\\\u2028\u2029]/;

// One address whose local part is quoted, as Exim writes $sender_address for MAIL FROM:<"john doe"@x>, or
// quoted in part (x."y z"@x: RFC 5322's obsolete local part, words of atoms and quoted strings joined by
// dots, which Exim accepts): blanks inside the quotes are part of the address, not a second token.
const QUOTED_LOCAL_PART = /^(?:"(?:[^"\\]|\\.)*"|[^\s"@.]+)(?:\.(?:"(?:[^"\\]|\\.)*"|[^\s"@.]+))*@[^\s"]*$/;

/** The request is everything up to the first newline (Exim's `\n`) or the half-close. */
export function parseReadsocketRequest(bytes: Uint8Array): ReadsocketRequest {
  // A connection closed without a byte asked nothing (a port scan, a probe): it is not the null sender,
  // which arrives as an empty line.
  if (bytes.length === 0) return { kind: "invalid", form: "legacy", reason: "empty request" };
  const newline = bytes.indexOf(0x0a);
  const end = newline >= 0 ? newline : bytes.length;
  // A carriage return at the very end is a CRLF client's, not content: the line is read without it, so
  // that a blank before it is trailing, not between two words (found by test/fuzz).
  const length = end > 0 && bytes[end - 1] === 0x0d ? end - 1 : end;
  const wordEnd = firstWordEnd(bytes, length);
  const stage = stageOf(bytes, wordEnd);
  // Attributes when the first word is a stage, or when there are several words and an "=": a single
  // token with "=" is still a sender (BATV prvs=…=bob@…, SRS0=…).
  // Blanks inside quotes do not count (looksLikeAttributes): an address with a quoted local part stays one.
  const form = stage || looksLikeAttributes(bytes, length) ? "attributes" : "legacy";
  const invalid = (reason: string): ReadsocketRequest => ({ kind: "invalid", form, reason });
  if (end > MAX_REQUEST_BYTES) return invalid(`request longer than ${MAX_REQUEST_BYTES} bytes`);
  const content = scanBytes(bytes, length);
  if (content === HAS_NUL) return invalid("NUL byte in request");

  let text: string;
  let eightBit = false;
  try {
    text = content !== EIGHT_BIT ? asciiText(bytes, length) : utf8.decode(bytes.subarray(0, length));
  } catch {
    // A raw 8-bit subject (spam often has one, and ${length_400:} may cut a UTF-8 one mid-character) must
    // not break the request: such a word is read as WHATWG "latin1" (Windows-1252, what such spam is mostly
    // written in), every byte one character. Only that word: read whole, the line's UTF-8 sender became
    // mojibake, and its data-stage limits counted that message under another key than its others.
    if (form !== "attributes") return invalid("request is not valid UTF-8");
    text = decodeByWord(bytes, length);
    eightBit = true;
  }

  if (form === "attributes") {
    if (!stage) {
      const word = latin1.decode(bytes.subarray(0, wordEnd)).toLowerCase();
      return invalid(`unknown stage '${word}' (${STAGES.join(", ")})`);
    }
    // Exim's ${quote:} escapes only \n and \r; other controls in a decoded header arrive raw: blank them.
    // The usual line has none and is parsed in place after the stage word, not from a copy of the rest.
    const needsCleaning = content === ASCII || (content === EIGHT_BIT && NEEDS_CLEANING.test(text));
    const parsed = needsCleaning
      // deno-lint-ignore no-control-regex
      ? parseAttributes(stage, text.slice(stage.length).replace(/[\x00-\x08\x0b-\x1f\x7f]/g, " "))
      : parseAttributes(stage, text, stage.length);
    if (!parsed.ok) return invalid(parsed.reason);
    // A quoted \n may decode to a newline; only the subject may keep one (it is cleaned for display).
    if (needsCleaning) {
      for (const [name, value] of Object.entries(parsed.attributes)) {
        if (name === "subject") continue;
        // deno-lint-ignore no-control-regex
        parsed.attributes[name as keyof Attributes] = value.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, "?");
      }
    }
    return {
      kind: "attributes",
      stage: parsed.stage,
      attributes: parsed.attributes,
      ignored: parsed.ignored,
      eightBit,
    };
  }

  // A plain line has neither controls nor blanks other than spaces: no regex needs to look at it.
  // deno-lint-ignore no-control-regex
  if (content !== PLAIN && /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]/.test(text)) {
    return invalid("control character in request");
  }
  const token = text.trim();
  // The seed counted an empty $sender_address (a bounce) as "<>".
  if (token === "" || token === "<>") return { kind: "legacy", key: "<>" };
  if ((content === PLAIN ? token.includes(" ") : /\s/.test(token)) && !QUOTED_LOCAL_PART.test(token)) {
    return invalid("expected one token: an address or an IP address");
  }
  // Addresses differ only in case, or in needless quotes, for a spammer's purpose: count them as one.
  return { kind: "legacy", key: withoutNeedlessQuotes(token.toLowerCase()) };
}

export function formatLegacyReply(over: boolean): string {
  return over ? "yes" : "no";
}

/** `error <reason>`: not yes/no, so Exim's condition defers and logs it, which is what bad input deserves. */
export function formatErrorReply(reason: string): string {
  // deno-lint-ignore no-control-regex
  return `error ${reason.replace(/[\x00-\x1f\x7f]+/g, " ")}`;
}
