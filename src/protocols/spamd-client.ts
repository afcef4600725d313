// Codec for the client side of SpamAssassin's spamd protocol (spamd/PROTOCOL in SpamAssassin's source):
// the request head that goes before the message, and the reply spamd sends before it closes. Replies
// recorded from Debian's spamd 4.0.1 are in test/fixtures/spamd/. Parsing never throws: anything that is
// not a well-formed answer is an error result that says what was wrong.
import { Buffer } from "node:buffer";

/** The commands that scan a message and answer with a score (PROCESS and HEADERS return the message). */
export const SPAMD_COMMANDS = ["check", "symbols", "report"] as const;
export type SpamdCommand = typeof SPAMD_COMMANDS[number];

/** spamd answers PING with `SPAMD/1.5 0 PONG`; since protocol 1.5 the empty line is required. */
export const SPAMD_PING = "PING SPAMC/1.5\r\n\r\n";

/** One test spamd says matched; REPORT gives its score and description, SYMBOLS only its name. */
export interface SpamdSymbol {
  name: string;
  score?: number;
  description?: string;
}

export type SpamdReply =
  | { ok: true; isSpam: boolean; score: number; threshold: number; symbols: SpamdSymbol[] }
  /** `code` is spamd's exit code (76, EX_PROTOCOL) when it sent a status line, else undefined. */
  | { ok: false; code?: number; error: string };

// sysexits.h, as spamd names them in its status line (spamd/spamd.raw, %resphash).
const EXIT_NAMES: Record<number, string> = {
  0: "EX_OK",
  64: "EX_USAGE",
  65: "EX_DATAERR",
  66: "EX_NOINPUT",
  67: "EX_NOUSER",
  68: "EX_NOHOST",
  69: "EX_UNAVAILABLE",
  70: "EX_SOFTWARE",
  71: "EX_OSERR",
  72: "EX_OSFILE",
  73: "EX_CANTCREAT",
  74: "EX_IOERR",
  75: "EX_TEMPFAIL",
  76: "EX_PROTOCOL",
  77: "EX_NOPERM",
  78: "EX_CONFIG",
  79: "EX_TIMEOUT",
};

/** The name of spamd's exit code (`EX_UNAVAILABLE`), or the number as text for one it does not name. */
export function spamdExitName(code: number): string {
  return EXIT_NAMES[code] ?? String(code);
}

// The protocol's user name is [-A-Za-z0-9_]+; mail hosts also use addresses and dotted names. spamd itself
// refuses only control characters; anything else outside this set is not sent (spamd's default user).
const USER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,63}$/;

export function isSpamdUserName(user: string): boolean {
  return USER_NAME.test(user);
}

/**
 * The head of a scan request, to be followed by exactly `length` bytes of message. `user` goes out as
 * `User:` when it is a valid name (isSpamdUserName); without it spamd scans as its default user.
 */
export function spamdRequestHead(command: SpamdCommand, length: number, user?: string): string {
  const userLine = user !== undefined && isSpamdUserName(user) ? `User: ${user}\r\n` : "";
  return `${command.toUpperCase()} SPAMC/1.5\r\nContent-length: ${length}\r\n${userLine}\r\n`;
}

const STATUS_LINE = /^SPAMD\/\d+(?:\.\d+)?[ \t]+(\d{1,3})(?:[ \t]+(.*))?$/;
const SPAM_HEADER = /^(True|False|Yes|No)[ \t]*;[ \t]*(-?\d+(?:\.\d+)?)[ \t]*\/[ \t]*(-?\d+(?:\.\d+)?)$/i;
const CRLFCRLF = Buffer.from("\r\n\r\n");
// Error text from spamd is one line; keep what goes into a log line short.
const MAX_ERROR_TEXT = 200;

/** Whether the bytes are spamd's answer to PING. */
export function isPong(bytes: Uint8Array): boolean {
  const line = Buffer.from(bytes).toString("latin1").split("\r\n", 1)[0];
  const status = STATUS_LINE.exec(line);
  return status !== null && status[1] === "0" && status[2] === "PONG";
}

/** spamd's whole reply to a CHECK, SYMBOLS or REPORT (it closes the connection after it). */
export function parseSpamdReply(bytes: Uint8Array, command: SpamdCommand): SpamdReply {
  try {
    return parseReply(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), command);
  } catch (error) {
    // Not expected (the parser reads only what it checked); a reply must never take the caller down.
    return { ok: false, error: `unreadable reply: ${(error as Error).message}` };
  }
}

function parseReply(bytes: Buffer, command: SpamdCommand): SpamdReply {
  if (bytes.length === 0) return { ok: false, error: "empty reply (spamd closed without answering)" };
  const headEnd = bytes.indexOf(CRLFCRLF);
  const head = bytes.subarray(0, headEnd < 0 ? bytes.length : headEnd).toString("latin1");
  const lines = head.split("\r\n");
  const status = STATUS_LINE.exec(lines[0]);
  if (status === null) return { ok: false, error: `not a spamd reply: ${printable(lines[0])}` };
  const code = Number(status[1]);
  if (code !== 0) {
    return { ok: false, code, error: `spamd: ${spamdExitName(code)}: ${printable(status[2] ?? "")}` };
  }
  if (headEnd < 0) return { ok: false, code, error: "reply ends inside its headers" };
  const headers = replyHeaders(lines.slice(1));
  const spam = SPAM_HEADER.exec(headers.get("spam") ?? "");
  if (spam === null) return { ok: false, code, error: "no valid Spam: header" };
  const body = replyBody(bytes.subarray(headEnd + CRLFCRLF.length), headers.get("content-length"));
  if (typeof body !== "string") return { ok: false, code, error: body.error };
  const isSpam = /^(true|yes)$/i.test(spam[1]);
  const symbols = command === "report" ? reportSymbols(body) : command === "symbols" ? symbolNames(body) : [];
  return { ok: true, isSpam, score: number(spam[2]), threshold: number(spam[3]), symbols };
}

/** Header lines by lower-case name; the first of repeated headers counts. */
function replyHeaders(lines: string[]): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue; // the protocol says to ignore what it does not define
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return headers;
}

/** The body as text, `Content-length` bytes of it when the header is there (CHECK sends none). */
function replyBody(rest: Buffer, contentLength: string | undefined): string | { error: string } {
  if (contentLength === undefined) return rest.toString("utf8");
  if (!/^\d{1,9}$/.test(contentLength)) return { error: `bad Content-length: ${printable(contentLength)}` };
  const length = Number(contentLength);
  if (rest.length < length) return { error: `reply body cut short: ${rest.length} of ${length} bytes` };
  return rest.subarray(0, length).toString("utf8");
}

/** SYMBOLS: the names of the tests hit, separated by commas (with or without a line end after them). */
function symbolNames(body: string): SpamdSymbol[] {
  return body.split(",").map((name) => name.trim()).filter((name) => RULE_NAME.test(name)).map((name) => ({
    name,
  }));
}

const RULE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/;
// " 1.0 MISSING_HEADERS        Missing To: header": the pts column is four characters wide, so a score
// line starts in the first two columns; a description that wraps goes on in lines indented far deeper.
const TABLE_ROW = /^ {0,2}(-?\d+(?:\.\d+)?) +([A-Za-z0-9_][A-Za-z0-9_.:-]*)(?: +(.*))?$/;

/**
 * REPORT: the rows of the "pts rule name description" table that follows the dashes line, up to the
 * empty line after it. A report template without that table gives no symbols (the score still counts).
 */
function reportSymbols(body: string): SpamdSymbol[] {
  const lines = body.split(/\r?\n/);
  const start = lines.findIndex((line) => /^-{4} -{4,} -{4,}/.test(line));
  if (start < 0) return [];
  const symbols: SpamdSymbol[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === "") break;
    const row = TABLE_ROW.exec(line);
    const last = symbols[symbols.length - 1];
    if (row !== null) {
      symbols.push({ name: row[2], score: number(row[1]), description: row[3]?.trim() || undefined });
    } else if (last !== undefined && /^\s/.test(line)) {
      last.description = `${last.description ?? ""} ${line.trim()}`.trim();
    }
  }
  return symbols;
}

/** A score as spamd prints it; "-0.0" (a small negative score, rounded) is 0. */
function number(text: string): number {
  return Number(text) + 0;
}

/** Text from the wire for an error message: controls shown as "?", at most MAX_ERROR_TEXT characters. */
function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  const clean = text.replace(/[\x00-\x1f\x7f-\x9f]/g, "?");
  return clean.length > MAX_ERROR_TEXT ? `${clean.slice(0, MAX_ERROR_TEXT)}...` : clean;
}
