// Codec of the spamd front: the requests Exim's `spam =` (src/src/spam.c) and spamc send to a spamd, and
// the replies in the exact shapes they parse. Pure: bytes in, a request or a reply text out; docs/protocol.md,
// "spamd front", is the contract and says what each client sends and reads.
//
// Two protocols share the port. SPAMC/1.x (SpamAssassin's; Exim sends `REPORT SPAMC/1.2`, spamc 4.0 sends
// 1.5): a verb line, `Name: value` headers, an empty line, the message; the envelope travels inside Exim's
// mbox copy (`X-Envelope-From:`, `X-Envelope-To:`). RSPAMC/1.3 (Exim's `variant=rspamd`): the same framing,
// the envelope in the head (`From`, `Rcpt` repeated, `IP`, `Helo`, `Hostname`, `User`, `Queue-Id`).
import { Buffer } from "node:buffer";
import { inflateSync } from "node:zlib";
import type { MessageEnvelope } from "../model/message.ts";
import type { ScoredSymbol } from "../model/answer.ts";

export const SPAMD_VERBS = [
  "CHECK",
  "SYMBOLS",
  "REPORT",
  "REPORT_IFSPAM",
  "PROCESS",
  "HEADERS",
  "PING",
  "SKIP",
] as const;
export type SpamdVerb = typeof SPAMD_VERBS[number];
export type SpamdProtocol = "SPAMC" | "RSPAMC";

/**
 * The bytes a request's head may take beside `max_message_size` (an rspamd head with a thousand `Rcpt:` lines
 * takes about 60 KB). A longer head takes the rest from the message's bound, so a connection never holds
 * more: Exim accepts up to `recipients_max` (50 000) recipients and lists each in the head, and refusing a
 * head over this (3 200 recipients of 60 characters did it) let such a message through unscanned.
 */
export const MAX_HEAD_BYTES = 256 * 1024;

export interface SpamdRequest {
  verb: SpamdVerb;
  protocol: SpamdProtocol;
  /** "1.2", "1.5", "1.3": the reply's shape depends on it (spamd's own rules). */
  version: string;
  /** Header names in lower case; a repeated header (`Rcpt`) keeps every value, in order. */
  headers: ReadonlyMap<string, readonly string[]>;
  envelope: MessageEnvelope;
  /** At most the front's bound of bytes of the message (the head not included). */
  message: Uint8Array;
  /** The message's size as the client declared it (Content-length), or the bytes received without one. */
  size: number;
  truncated: boolean;
  /**
   * The bytes of `message` that are Exim's mbox envelope lines (mboxEnvelopeEnd), 0 without them: not the
   * message's own, so not counted against the front's bound.
   */
  envelopeBytes: number;
}

export type ParsedSpamdRequest =
  | { ok: true; request: SpamdRequest }
  | { ok: false; reason: string; protocol: SpamdProtocol; code: SpamdErrorCode };

/** sysexits codes spamd answers with (spamd's %resphash); the clients print or log the name. */
export const SPAMD_ERRORS = {
  EX_PROTOCOL: 76,
  EX_UNAVAILABLE: 69,
  EX_TEMPFAIL: 75,
  EX_TIMEOUT: 79,
  EX_SOFTWARE: 70,
} as const;
export type SpamdErrorCode = keyof typeof SPAMD_ERRORS;

const latin1 = new TextDecoder("latin1");
// Addresses in the head and the mbox envelope lines: ASCII, or UTF-8 under SMTPUTF8 (RFC 6531), passed on by
// Exim as the bytes came. Read as latin1, "fälle@example.net" was "fÃ¤lle@example.net" and no spamtrap rule
// naming it matched. Bytes that are not UTF-8 read as U+FFFD: no address a rule could name.
const utf8 = new TextDecoder();

/**
 * Where the head ends in `bytes` (the index just past its empty line, "\r\n\r\n" or "\n\n"), or -1.
 * PING and SKIP before SPAMC/1.5 have no headers: their head is the verb line. Bytes before `from` were
 * searched by an earlier call that found no end: a head sent a byte at a time is searched once, not once
 * per byte (a 255 KB head took a full core: session 27's review).
 */
export function spamdHeadEnd(bytes: Uint8Array, from = 0): number {
  const verbLineEnd = bytes.subarray(0, VERB_LINE_BYTES).indexOf(0x0a);
  if (verbLineEnd >= 0 && headerlessVerbLine(bytes, verbLineEnd)) return verbLineEnd + 1;
  let i = bytes.indexOf(0x0a, from > 2 ? from - 2 : 0);
  while (i >= 0) {
    const next = bytes[i + 1];
    if (next === 0x0a) return i + 2;
    if (next === 0x0d && bytes[i + 2] === 0x0a) return i + 3;
    i = bytes.indexOf(0x0a, i + 1);
  }
  return -1;
}

// A headerless verb line ("SKIP SPAMC/1.2\r\n") is short: looked for in these first bytes only.
const VERB_LINE_BYTES = 32;

/** `PING SPAMC/1.2` and older send no headers nor an empty line (spamd reads none before 1.5). */
function headerlessVerbLine(bytes: Uint8Array, newline: number): boolean {
  const line = latin1.decode(bytes.subarray(0, newline)).trimEnd();
  const match = /^(PING|SKIP) SPAMC\/(\d+\.\d+)$/.exec(line);
  return match !== null && Number(match[2]) < 1.5;
}

/** declaredContentLength's answer for a head with a Content-length that is not a number of 1 to 15 digits. */
export const BAD_CONTENT_LENGTH = -2;

/**
 * The Content-length the head declares: -1 without one, BAD_CONTENT_LENGTH when one is not a number of 1 to
 * 15 digits (negative, overflowing, empty), else the first. Header names in any case, read as readHeaders
 * reads them. A bad one ends the request at its head, to be refused at once as spamd refuses it: taken for
 * none, the front waited for the client's half-close or its timeout (30 s) and then answered EX_TIMEOUT.
 */
export function declaredContentLength(head: string): number {
  let declared = -1;
  for (const line of head.split("\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0 || line.slice(0, colon).trim().toLowerCase() !== "content-length") continue;
    const value = line.slice(colon + 1).trim();
    if (!/^\d{1,15}$/.test(value)) return BAD_CONTENT_LENGTH;
    if (declared < 0) declared = Number(value);
  }
  return declared;
}

/**
 * Parses a request as the framing cut it: the head, then at most `maxMessageBytes` of the message, less what
 * the head takes over `headBytes` (the framing kept `headBytes + maxMessageBytes` and dropped the rest of
 * a larger one). Never throws: a bad request is a reason for an error reply.
 */
export function parseSpamdRequest(
  bytes: Uint8Array,
  maxMessageBytes: number,
  headBytes = MAX_HEAD_BYTES,
): ParsedSpamdRequest {
  const headEnd = spamdHeadEnd(bytes);
  const protocol: SpamdProtocol = startsWith(bytes, "CHECK RSPAMC") ? "RSPAMC" : "SPAMC";
  const fail = (reason: string, code: SpamdErrorCode = "EX_PROTOCOL"): ParsedSpamdRequest => ({
    ok: false,
    reason,
    protocol,
    code,
  });
  if (headEnd < 0) {
    return fail(bytes.length === 0 ? "empty request" : "request head without an empty line");
  }
  // The bytes the framing kept after this head: the request's whole bound less the head.
  const room = headBytes + maxMessageBytes - headEnd;
  if (room < 0) return fail(`request head over ${headBytes + maxMessageBytes} bytes`);
  const head = utf8.decode(bytes.subarray(0, headEnd));
  const lines = head.split(/\r?\n/);
  const verbLine = /^([A-Z_]{1,20}) (R?SPAMC)\/(\d{1,2}\.\d{1,2})$/.exec(lines[0]);
  if (!verbLine) return fail(`bad request line: ${printable(lines[0])}`);
  const verb = SPAMD_VERBS.find((known) => known === verbLine[1]);
  if (!verb) return fail(`unsupported method ${verbLine[1]}`);
  if (verbLine[2] === "RSPAMC" && verb !== "CHECK" && verb !== "SYMBOLS") {
    return fail(`unsupported method ${verb} for RSPAMC`);
  }
  const headers = readHeaders(lines.slice(1));
  if (typeof headers === "string") return fail(headers);
  const body = bytes.subarray(headEnd);
  const declared = declaredContentLength(head);
  if (declared === BAD_CONTENT_LENGTH) {
    return fail(`bad Content-length: ${printable(headers.get("content-length")!.join(", "))}`);
  }
  const compress = headers.get("compress")?.[0];
  // Exim's mbox copy starts with envelope lines (X-Envelope-To lists every recipient): like the head, they
  // take the head's room, not the message's bound. Counted against it, 40 recipients cut a 3 KB message
  // at a 4 KiB bound, and a truncated message is not scanned.
  const envelopeBytes = compress === undefined ? mboxEnvelopeEnd(body.subarray(0, room)) : 0;
  const kept = Math.min(maxMessageBytes + envelopeBytes, room);
  if (declared >= 0 && body.length < Math.min(declared, kept)) {
    return fail(`Content-length mismatch: expected ${declared} bytes, got ${body.length}`);
  }
  let size = declared >= 0 ? declared : body.length;
  let message = body.subarray(0, Math.min(size, kept));
  if (compress !== undefined) {
    if (declared < 0) return fail("Compress requires Content-length header", "EX_UNAVAILABLE");
    const inflated = inflateMessage(compress, message, message.length < size, maxMessageBytes);
    if (!(inflated instanceof Uint8Array)) return fail(inflated.reason, inflated.code);
    message = inflated;
    size = inflated.length;
  }
  const request: SpamdRequest = {
    verb,
    protocol: verbLine[2] as SpamdProtocol,
    version: verbLine[3],
    headers,
    envelope: verbLine[2] === "RSPAMC" ? rspamdEnvelope(headers) : mboxEnvelope(headers, message),
    message,
    size,
    truncated: message.length < size,
    envelopeBytes: Math.min(envelopeBytes, message.length),
  };
  return { ok: true, request };
}

type InflateRefusal = { reason: string; code: SpamdErrorCode };

/**
 * The message a `Compress: zlib` request carries (spamc -z; its Content-length counts the compressed bytes),
 * as spamd inflates it before scanning. Scanning the compressed bytes instead scored a blob, and PROCESS
 * answered the blob to spamc as the message. Inflated at most to the front's bound: a larger message, or
 * compressed bytes already cut at it, is refused as spamd refuses a stream it cannot inflate
 * (EX_UNAVAILABLE); spamc then passes the message on unchanged.
 */
function inflateMessage(
  compress: string,
  compressed: Uint8Array,
  cut: boolean,
  maxMessageBytes: number,
): Uint8Array | InflateRefusal {
  if (!/zlib/i.test(compress)) {
    return { reason: `compression type not supported: ${printable(compress)}`, code: "EX_PROTOCOL" };
  }
  const over: InflateRefusal = {
    reason: `compressed message over ${maxMessageBytes} bytes inflated, not scanned`,
    code: "EX_UNAVAILABLE",
  };
  if (cut) return over;
  try {
    return inflateSync(compressed, { maxOutputLength: maxMessageBytes });
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") return over;
    return { reason: `zlib: ${printable((error as Error).message)}`, code: "EX_UNAVAILABLE" };
  }
}

/** `Name: value` lines by lower-case name, every value of a repeated one in order; or what is wrong. */
function readHeaders(lines: readonly string[]): Map<string, string[]> | string {
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) return `bad header line: ${printable(line)}`;
    const name = line.slice(0, colon).trim().toLowerCase();
    const values = headers.get(name) ?? [];
    values.push(line.slice(colon + 1).trim());
    headers.set(name, values);
  }
  return headers;
}

function startsWith(bytes: Uint8Array, text: string): boolean {
  if (bytes.length < text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[i] !== text.charCodeAt(i)) return false;
  return true;
}

/** At most 100 characters, controls shown as "?", for a log line or an error reply. */
function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.slice(0, 100).replace(/[\x00-\x1f\x7f]/g, "?");
}

const unbracket = (address: string) => address.trim().replace(/^<(.*)>$/, "$1");

/**
 * Exim's `variant=rspamd` head: `From: <s>`, `Rcpt: <r>` per recipient, `IP`, `Helo`, `Queue-Id`. Its `User:`
 * is the sender's $authenticated_id, not a user whose SpamAssassin preferences apply: it stays out of the
 * envelope, or a user's own user_prefs would score the mail that user sends.
 */
function rspamdEnvelope(headers: ReadonlyMap<string, readonly string[]>): MessageEnvelope {
  const one = (name: string) => {
    const value = headers.get(name)?.[0];
    return value === undefined || value === "" ? undefined : value;
  };
  return {
    sender: unbracket(one("from") ?? ""),
    recipients: (headers.get("rcpt") ?? []).map(unbracket).filter((rcpt) => rcpt !== ""),
    clientAddress: one("ip"),
    helo: one("helo"),
    queueId: one("queue-id"),
  };
}

// Exim's spool_mbox writes the envelope right under its `From ` line: `X-Envelope-From: <s>` (none for the
// null sender), then `X-Envelope-To: a@x, b@y`. Only there: further down they are the message's own headers.
const MBOX_ENVELOPE =
  /^From [^\n]*\n(?:X-Envelope-From:[ \t]*([^\r\n]*)\r?\n)?(?:X-Envelope-To:[ \t]*([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*))?/;

/**
 * Where the message itself starts in Exim's mbox copy: after its `From ` line and the `X-Envelope-From:` and
 * `X-Envelope-To:` lines under it (MBOX_ENVELOPE), 0 for a message without them. Those lines are the
 * envelope, not the message's header block: X-Envelope-To lists every recipient on one line (290 KB for
 * 4 500 of 60 characters), and the content rules, which read a header block up to 256 KB, saw no
 * Content-Type past it and no attachment.
 */
export function mboxEnvelopeEnd(message: Uint8Array): number {
  if (!startsWith(message, "From ")) return 0;
  let at = message.indexOf(0x0a) + 1;
  if (at === 0) return 0;
  for (const name of ["X-Envelope-From:", "X-Envelope-To:"]) {
    if (!startsWith(message.subarray(at), name)) continue;
    do { // the line, and any continuation lines of it
      const newline = message.indexOf(0x0a, at);
      if (newline < 0) return message.length;
      at = newline + 1;
    } while (message[at] === 0x20 || message[at] === 0x09);
  }
  return at;
}

/**
 * The envelope of a SPAMC request: `User:` from the head, sender and recipients from the mbox copy's lines
 * under its `From ` line (MBOX_ENVELOPE). A message from spamc has no From_ line, and its envelope stays
 * empty; a bounce's (null sender) own `X-Envelope-From:` is not its sender.
 */
function mboxEnvelope(headers: ReadonlyMap<string, readonly string[]>, message: Uint8Array): MessageEnvelope {
  const user = headers.get("user")?.[0];
  const envelope: { sender: string; recipients: string[]; user?: string } = { sender: "", recipients: [] };
  if (user) envelope.user = user;
  // The envelope lines whole: X-Envelope-To lists every recipient on one line (74 KB for 1 200 of 60
  // characters), and read from the first 64 KiB only, a spamtrap listed past them was missed.
  const lines = MBOX_ENVELOPE.exec(utf8.decode(message.subarray(0, mboxEnvelopeEnd(message))));
  if (lines?.[1] !== undefined) envelope.sender = unbracket(lines[1]);
  if (lines?.[2] !== undefined) {
    envelope.recipients = lines[2].split(/[,\s]+/).map(unbracket).filter((rcpt) => rcpt !== "");
  }
  return envelope;
}

/** What the front decided about a message, in the terms of the spamd replies (engine/spam-thresholds.ts). */
export interface SpamdVerdict {
  /** rspamd's action name, Exim's `$spam_action` with variant=rspamd. */
  action: "no action" | "add header" | "soft reject" | "reject";
  spam: boolean;
  score: number;
  /** Reported as the required score: score ≥ threshold exactly when `spam` (Exim's own test). */
  threshold: number;
  /** rspamd's third number: score ≥ it exactly when the action is reject. */
  rejectThreshold: number;
  symbols: readonly ScoredSymbol[];
  /** The report's lines besides the symbols' ("not scanned: over 10485760 bytes"). */
  notes: readonly string[];
}

const number = (value: number) => value.toFixed(2);

/** `Spam: True ; 7.50 / 5.00`, spamd's header (REPORT_IFSPAM says Yes/No). */
function spamHeader(verb: SpamdVerb, verdict: SpamdVerdict): string {
  const flag = verb === "REPORT_IFSPAM" ? (verdict.spam ? "Yes" : "No") : (verdict.spam ? "True" : "False");
  return `Spam: ${flag} ; ${number(verdict.score)} / ${number(verdict.threshold)}`;
}

// Beyond this many symbols the report says how many more there were.
const MAX_REPORT_SYMBOLS = 100;

/**
 * The bytes of a reply Exim parses whole. Exim 4.96's spam.c (Debian 12's) reads the reply into
 * `uschar spamd_buffer[32600]`, at most 32599 bytes (the last is its guard NUL), and drops the rest unread;
 * then copies the report into `spam_report_buffer[32600]` without a bound, dropping CRs and putting a space
 * after each LF. A 40 KB report (100 rules of long names and descriptions) was cut mid-line in
 * $spam_report, and its LF lines grew past the 32600 bytes of the copy, over what follows it in memory.
 */
export const EXIM_REPLY_BYTES = 32_599;

/**
 * What a report line takes of EXIM_REPLY_BYTES: its UTF-8 bytes and 2 more, its line end as Exim copies it
 * (LF and a space for SpamAssassin's LF lines; CRLF, then LF and a space, for rspamd's). Counting the copy's
 * bytes against the reply's bound covers both buffers: the report is the tail of the reply.
 */
const lineCost = (line: string) => byteLength(line) + 2;

/**
 * `head`, then as many `rules` as fit in `budget` (lineCost each), then `notes`: when rules are left out,
 * a line from `more` says how many, after the last shown. The notes (a concern's message, one per concern
 * that failed open, the size note: few, a line each) outrank rules; were they alone over the budget they
 * would be cut too, and counted.
 */
function linesWithin(
  budget: number,
  head: readonly string[],
  rules: readonly string[],
  notes: readonly string[],
  more: (text: string) => string,
): string[] {
  const cost = (lines: readonly string[]) => lines.reduce((sum, line) => sum + lineCost(line), 0);
  let left = budget - cost(head) - cost(notes);
  if (rules.length <= MAX_REPORT_SYMBOLS && cost(rules) <= left) return [...head, ...rules, ...notes];
  left -= lineCost(more(notShown(rules.length, notes.length)));
  const shown: string[] = [];
  for (const rule of rules.slice(0, MAX_REPORT_SYMBOLS)) {
    if (lineCost(rule) > left) break;
    left -= lineCost(rule);
    shown.push(rule);
  }
  const kept = [...notes];
  while (left < 0 && kept.length > 0) left += lineCost(kept.pop()!);
  const moreLine = more(notShown(rules.length - shown.length, notes.length - kept.length));
  return [...head, ...shown, moreLine, ...kept];
}

function notShown(rules: number, notes: number): string {
  const counted = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  return notes === 0
    ? `... ${counted(rules, "more rule")} not shown`
    : `... ${counted(rules, "more rule")} and ${counted(notes, "note")} not shown`;
}

/**
 * SpamAssassin's report table: points, rule name, description; then the notes. LF lines, as spamd's. At most
 * `maxBytes` as Exim counts them (lineCost): rules past it are left out, and a line says how many.
 */
export function formatReport(verdict: SpamdVerdict, maxBytes: number): string {
  const head = [
    `Content analysis details:   (${number(verdict.score)} points, ${number(verdict.threshold)} required)`,
    "",
    " pts rule name              description",
    "---- ---------------------- --------------------------------------------------",
  ];
  const rules = verdict.symbols.map((symbol) => {
    const points = symbol.score.toFixed(1).padStart(4);
    return `${points} ${oneLine(symbol.name).padEnd(22)} ${oneLine(symbol.description ?? "")}`;
  });
  const notes = verdict.notes.map(oneLine);
  return linesWithin(maxBytes, head, rules, notes, (text) => `     ${text}`).join("\n") + "\n";
}

// deno-lint-ignore no-control-regex
const oneLine = (text: string) => text.replace(/[\x00-\x1f\x7f]+/g, " ").slice(0, 200);

const byteLength = (text: string) => Buffer.byteLength(text);

/**
 * The reply to a decided request, as real spamd 4.0 words it for the verb and protocol version (spamd's
 * check()), so that Exim's sscanf and spamc read it: `REPORT SPAMC/1.2` (Exim) gets
 * `SPAMD/1.1 0 EX_OK\r\nSpam: True ; S / T\r\n\r\nREPORT`; 1.3 and later add Content-length first.
 * RSPAMC gets `RSPAMD/1.3 0 EX_OK`, `Metric: default; True; S / T / R`, `Action:` and one `Symbol:` line each.
 * PROCESS and HEADERS answer the message with X-Spam-* headers added: a Uint8Array, the message's bytes
 * as they came.
 */
export function formatSpamdReply(request: SpamdRequest, verdict: SpamdVerdict): string | Uint8Array {
  return spamdReply(request, verdict).reply;
}

/** A reply, and how many rule names its SYMBOLS list or tests= list left out (0 for other replies). */
export interface SpamdReply {
  reply: string | Uint8Array;
  namesNotShown: number;
}

/**
 * formatSpamdReply's reply with the count of rule names it left out, from the one list it built: the
 * caller logs them (listeners/spamd-front.ts), and building the list again for that doubled its cost.
 */
export function spamdReply(request: SpamdRequest, verdict: SpamdVerdict): SpamdReply {
  if (request.protocol === "RSPAMC") return { reply: formatRspamdReply(request, verdict), namesNotShown: 0 };
  const verb = request.verb;
  const version = Number(request.version);
  if (verb === "CHECK") {
    return { reply: `SPAMD/1.1 0 EX_OK\r\n${spamHeader(verb, verdict)}\r\n\r\n`, namesNotShown: 0 };
  }
  if (verb === "PROCESS" || verb === "HEADERS") return processReply(request, verdict);
  const status = "SPAMD/1.1 0 EX_OK\r\n";
  const spam = `${spamHeader(verb, verdict)}\r\n\r\n`;
  let body = "";
  let namesNotShown = 0;
  if (verb === "REPORT" || (verb === "REPORT_IFSPAM" && verdict.spam)) {
    // Exim asks SPAMC/1.2 and gets what the head leaves of its bound; the versions answered with a
    // Content-length are spamc's (libspamc refuses a reply without one), which takes less.
    body = formatReport(
      verdict,
      version >= 1.3
        ? SPAMC_ADDED_BYTES - SPAMC_SCORE_LINE_BYTES
        : EXIM_REPLY_BYTES - byteLength(status + spam),
    );
  } else if (verb === "SYMBOLS") {
    ({ text: body, notShown: namesNotShown } = symbolsList(verdict, version));
  }
  const length = version >= 1.3 ? `Content-length: ${byteLength(body)}\r\n` : "";
  return { reply: `${status}${length}${spam}${body}`, namesNotShown };
}

function formatRspamdReply(request: SpamdRequest, verdict: SpamdVerdict): string {
  const flag = verdict.spam ? "True" : "False";
  const head = [
    "RSPAMD/1.3 0 EX_OK",
    `Metric: default; ${flag}; ${number(verdict.score)} / ${number(verdict.threshold)} / ${
      number(verdict.rejectThreshold)
    }`,
    `Action: ${verdict.action}`,
  ];
  const symbols = verdict.symbols.map((symbol) =>
    `Symbol: ${oneLine(symbol.name).replace(/[();]/g, "_")}(${number(symbol.score)})`
  );
  const notes = verdict.notes.map((note) => `Message: ${oneLine(note)}`);
  if (request.envelope.queueId) notes.push(`Message-ID: ${oneLine(request.envelope.queueId)}`);
  // Every line ends in CRLF (lineCost's 2 bytes), and the reply in one more: 2 bytes of the bound.
  const lines = linesWithin(EXIM_REPLY_BYTES - 2, head, symbols, notes, (text) => `Message: ${text}`);
  return lines.join("\r\n") + "\r\n\r\n";
}

// A header line's length past which the tests= list folds (RFC 5322's "should"; its "must" is 998, and Exim's
// smtp transport refuses a message with a longer line: message_linelength_limit).
const FOLD_AT = 78;

// SpamAssassin's X-Spam-Level: one star per whole point, at most 50 (its _STARS(*)_ tag).
const MAX_STARS = 50;

/**
 * The bytes spamc takes beside the message it sent: the bytes PROCESS may add to it, and a whole REPORT or
 * SYMBOLS body. spamc holds spamd's answer in its `-s` bytes and 16384 more (libspamc's EXPANSION_ALLOWANCE)
 * and sends no message over `-s`, whose value the front never learns; an answer over that is EX_TOOBIG, and
 * spamc passes the message on unmarked, or prints "0/0" for -R and an empty line for -y, exit 0. 150 rule
 * names of 190 characters in tests= took 28 KB: a message near `-s` went out unmarked; at `-s 1000` the
 * report (within Exim's 32 KB bound) was "0/0", and the SYMBOLS list of those names (no bound) was empty.
 */
export const SPAMC_ADDED_BYTES = 16_384;

/**
 * The line libspamc writes ahead of a REPORT body into the same buffer, counted against it: `%.1f/%.1f\n`
 * of the score and the threshold, each clamped to ±1e10 (`-10000000000.0`: 14 characters).
 */
const SPAMC_SCORE_LINE_BYTES = 30;

// A tests= name's bytes with its comma and a fold (a line end and a tab: lineCost's 2 and 1).
const testsNameCost = (name: string) => lineCost(name) + 2;
// A SYMBOLS name's bytes with its comma.
const symbolCost = (name: string) => byteLength(name) + 1;

/** The first of `names` that fit in `budget` bytes, each counted by `cost`, in order. */
function namesWithin(names: readonly string[], budget: number, cost: (name: string) => number): string[] {
  let left = budget;
  const shown: string[] = [];
  for (const name of names) {
    if (cost(name) > left) break;
    left -= cost(name);
    shown.push(name);
  }
  return shown;
}

/** SYMBOLS's body, and how many names it leaves out. */
export interface SymbolsList {
  text: string;
  notShown: number;
}

/**
 * SYMBOLS's body: the rule names, comma-separated, as many as fit in what spamc holds beyond `-s`
 * (SPAMC_ADDED_BYTES; only spamc -y asks SYMBOLS, Exim asks REPORT), whatever the version. Only names: spamd's
 * PROTOCOL says the line lists "all the rule names, separated by commas", spamd sends
 * get_names_of_tests_hit joined by commas, and spamc prints it as it came, so a script splits it at commas
 * and takes each item for a rule (`... 66 more rules not shown` was one). The names left out are the
 * caller's to say, in the log (listeners/spamd-front.ts).
 */
export function symbolsList(verdict: SpamdVerdict, version: number): SymbolsList {
  // SPAMC/1.2 and older end the line in CRLF (spamd's oversight, PROTOCOL), taking 2 bytes of the bound.
  const end = version < 1.3 ? "\r\n" : "";
  const names = verdict.symbols.map((symbol) => oneLine(symbol.name));
  const shown = namesWithin(names, SPAMC_ADDED_BYTES - byteLength(end), symbolCost);
  return { text: shown.join(",") + end, notShown: names.length - shown.length };
}

/** The X-Spam-* header lines PROCESS and HEADERS add, and how many rule names tests= leaves out. */
export interface SpamHeaders {
  lines: string[];
  notShown: number;
}

/**
 * The X-Spam-* header lines PROCESS and HEADERS add (SpamAssassin's names), one string per physical line:
 * a long tests= list folds after a comma onto lines starting with a tab, as SpamAssassin folds it.
 * X-Spam-Level is SpamAssassin's too, empty below one point: SpamAssassin's own procmailrc.example (in
 * Debian's spamc) files mail by its stars, and without it no message matched. tests= names only the rules
 * that fit in what spamc holds beyond `-s`, and only rule names, as SpamAssassin's list: a filter that
 * splits it at commas took `... 66 more rules not shown` for a rule, and one that reads the field's
 * `key=value` words at blanks read "66", "more", "rules". The names left out are the caller's to say, in
 * the log (listeners/spamd-front.ts).
 */
export function spamHeaders(verdict: SpamdVerdict): SpamHeaders {
  const stars = "*".repeat(Math.min(MAX_STARS, Math.max(0, Math.trunc(verdict.score))));
  const lines = [`X-Spam-Flag: ${verdict.spam ? "YES" : "NO"}`, `X-Spam-Level: ${stars}`];
  let line = `X-Spam-Status: ${verdict.spam ? "Yes" : "No"}, score=${number(verdict.score)} required=${
    number(verdict.threshold)
  } tests=`;
  const fixed = lines.reduce((sum, fixedLine) => sum + lineCost(fixedLine), 0) + lineCost(line);
  const all = verdict.symbols.map((symbol) => oneLine(symbol.name));
  const names = namesWithin(all, SPAMC_ADDED_BYTES - fixed, testsNameCost);
  if (names.length === 0) line += "none";
  names.forEach((name, i) => {
    const item = i < names.length - 1 ? `${name},` : name;
    if (line.length + item.length > FOLD_AT && !line.endsWith("=") && line !== "\t") {
      lines.push(line);
      line = "\t";
    }
    line += item;
  });
  lines.push(line);
  return { lines, notShown: all.length - names.length };
}

/** spamHeaders' lines alone. */
export const spamHeaderLines = (verdict: SpamdVerdict): string[] => spamHeaders(verdict).lines;

function processReply(request: SpamdRequest, verdict: SpamdVerdict): SpamdReply {
  if (request.truncated) {
    const reason = `message over ${request.message.length - request.envelopeBytes} bytes, not processed`;
    return { reply: formatSpamdError("SPAMC", "EX_UNAVAILABLE", reason), namesNotShown: 0 };
  }
  const message = withoutOldSpamHeaders(request.message);
  const eol = lineEnd(message);
  const headers = spamHeaders(verdict);
  const added = new TextEncoder().encode(headers.lines.join(eol) + eol);
  // HEADERS: up to the first empty line, as spamd cuts the rewritten message (spamd's check()).
  const keep = request.verb === "HEADERS" ? message.subarray(0, emptyLineEnd(message)) : message;
  // An mbox copy's `From ` separator stays the first line (SpamAssassin puts it back first too): under it
  // the headers would follow a line that is no header, and the mailbox would lose the message's start.
  const at = returnPathEnd(keep, startsWith(keep, "From ") ? keep.indexOf(0x0a) + 1 : 0);
  const out = new Uint8Array(added.length + keep.length);
  out.set(keep.subarray(0, at), 0);
  out.set(added, at);
  out.set(keep.subarray(at), at + added.length);
  const version = Number(request.version);
  const status = version < 1.2 ? "SPAMD/1.0 0 EX_OK\r\n" : "SPAMD/1.1 0 EX_OK\r\n";
  const length = version >= 1.2 ? `Content-length: ${out.length}\r\n` : "";
  const spam = version >= 1.3 ? `${spamHeader(request.verb, verdict)}\r\n` : "";
  const head = new TextEncoder().encode(status + length + spam + (version >= 1.2 ? "\r\n" : ""));
  const reply = new Uint8Array(head.length + out.length);
  reply.set(head, 0);
  reply.set(out, head.length);
  return { reply, namesNotShown: headers.notShown };
}

/**
 * Past a `Return-Path:` field (with its continuation lines) that is the first header at `at`, else `at`:
 * SpamAssassin keeps it above the X-Spam-* fields it adds (rewrite_no_report_safe, bug 3409), as the field
 * a delivery agent puts on top and mailbox tools read there. Only the first: one further down is an old copy.
 */
function returnPathEnd(message: Uint8Array, at: number): number {
  if (!/^return-path:/i.test(latin1.decode(message.subarray(at, at + 12)))) return at;
  let end = at;
  do {
    const newline = message.indexOf(0x0a, end);
    if (newline < 0) return at; // no line end to put the fields under: on top, as before
    end = newline + 1;
  } while (message[end] === 0x20 || message[end] === 0x09);
  return end;
}

/**
 * The line end of the headers PROCESS adds, the message's own as SpamAssassin picks it (Message.pm, bug
 * 4363): CRLF when its first or last line ends so, else LF. A CR in an LF message is a stray byte.
 */
function lineEnd(message: Uint8Array): string {
  const newline = message.indexOf(0x0a);
  const last = message.length - 1;
  const crlf = (newline > 0 && message[newline - 1] === 0x0d) ||
    (message[last] === 0x0a && message[last - 1] === 0x0d);
  return crlf ? "\r\n" : "\n";
}

// An X-Spam-* header field other than X-Spam-Prev-*, with its continuation lines. A line starts after an LF
// only (the lookbehind), as SpamAssassin's Perl reads it: a multiline ^ also matches after a bare CR, and an
// "X-Spam-" after a CR inside a field was dropped with the LF ending that line, the next field joining it.
const OLD_SPAM_HEADER = /(?<![^\n])X-Spam-(?!Prev-)[^\n]*(?:\n|$)(?:[ \t][^\n]*(?:\n|$))*/gi;

/**
 * The message without the X-Spam-* header fields it came with (X-Spam-Prev-* kept), as SpamAssassin's
 * PROCESS drops them (PerMsgStatus's rewrite_no_report_safe): a verdict written by the sender or an earlier
 * filter must not stand beside the front's own for a filter downstream to read.
 */
function withoutOldSpamHeaders(message: Uint8Array): Uint8Array {
  const headersEnd = headerSectionEnd(message);
  // latin1 as Buffer reads it: one character per byte, back to the same bytes (TextDecoder's is cp1252).
  const head = Buffer.from(message.buffer, message.byteOffset, headersEnd).toString("latin1");
  const kept = head.replace(OLD_SPAM_HEADER, "");
  if (kept.length === head.length) return message;
  return Buffer.concat([Buffer.from(kept, "latin1"), message.subarray(headersEnd)]);
}

/**
 * Index just past the message's first empty line (the whole message if it has none). A message that starts
 * with its empty line has no headers: its first lines are body, which PROCESS must not touch (the search
 * for "\n\n" missed that line, and an X-Spam-* line of such a body was dropped).
 */
function emptyLineEnd(message: Uint8Array): number {
  if (message[0] === 0x0a) return 1;
  if (message[0] === 0x0d && message[1] === 0x0a) return 2;
  for (let i = message.indexOf(0x0a); i >= 0; i = message.indexOf(0x0a, i + 1)) {
    if (message[i + 1] === 0x0a) return i + 2;
    if (message[i + 1] === 0x0d && message[i + 2] === 0x0a) return i + 3;
  }
  return message.length;
}

// Lines SpamAssassin takes for headers though they are no header field, before it takes the next for body.
const STRAY_HEADER_LINES = 3;

/**
 * Where the header section ends as SpamAssassin reads it (Message.pm's new()): just past the empty line;
 * or before a line starting with "--" (a MIME boundary with no empty line above it), or before the fourth
 * line that is neither a header field (printable name, optional blanks, colon) nor a continuation. A
 * mbox copy's `From ` line is no header (SpamAssassin sets it apart first). Looking for the empty line
 * alone took a part's headers or a quoted report under such a line for the message's, and PROCESS dropped
 * their X-Spam-* lines, which spamd keeps.
 */
function headerSectionEnd(message: Uint8Array): number {
  let stray = 0;
  let at = startsWith(message, "From ") ? message.indexOf(0x0a) + 1 : 0;
  while (at < message.length) {
    const newline = message.indexOf(0x0a, at);
    const next = newline < 0 ? message.length : newline + 1;
    const first = message[at];
    if (first === 0x0a || (first === 0x0d && message[at + 1] === 0x0a)) return next;
    if (first === 0x2d && message[at + 1] === 0x2d) return at;
    if (first !== 0x20 && first !== 0x09 && !isFieldLine(message, at, next) && ++stray > STRAY_HEADER_LINES) {
      return at;
    }
    at = next;
  }
  return message.length;
}

/** A header field's first line: a name of printable characters but ":", blanks, then ":" (Message.pm). */
function isFieldLine(message: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end && message[i] >= 0x21 && message[i] <= 0x7e && message[i] !== 0x3a) i++;
  if (i === start) return false;
  while (i < end && (message[i] === 0x20 || message[i] === 0x09)) i++;
  return message[i] === 0x3a;
}

/** spamd's error reply (`SPAMD/1.0 76 Bad header line: …`); Exim cannot parse it and defers the condition. */
export function formatSpamdError(protocol: SpamdProtocol, code: SpamdErrorCode, reason: string): string {
  const name = protocol === "RSPAMC" ? "RSPAMD/1.3" : "SPAMD/1.0";
  return `${name} ${SPAMD_ERRORS[code]} ${code} ${printable(reason)}\r\n`;
}

/** PING's answer (spamc -K checks for PONG); SKIP has none. */
export const PONG_REPLY = "SPAMD/1.5 0 PONG\r\n";
