// Codec for Postfix's policy delegation protocol (SMTPD_POLICY_README): a request is `name=value` lines
// ending with an empty line, the reply one `action=...` line and an empty line. Pure: bytes in, a request
// or a reason out; the listener (listeners/postfix-listener.ts) does the I/O. docs/postfix.md.
import { Buffer } from "node:buffer";
import { type AttributeName, type Attributes, KNOWN_ATTRIBUTES, type Stage } from "./attributes.ts";

/** The only request Postfix's smtpd sends (`request=smtpd_access_policy`). */
export const POSTFIX_REQUEST = "smtpd_access_policy";

/**
 * Which engine stage a `protocol_state` is asked at. DATA and BDAT (smtpd_data_restrictions, before the
 * body; Postfix 3.7 says DATA under CHUNKING too, measured, and BDAT is taken should a version send it) and
 * END-OF-MESSAGE (smtpd_end_of_data_restrictions) all map to `data`: the engine's `data` stage is where
 * the message's recipients are all known (recipient_count), as in Exim's DATA ACL, and each of them can
 * refuse the message as a whole. VRFY and ETRN are no stage of a message: answered accept without asking the engine.
 */
const STAGE_OF_STATE: Readonly<Record<string, Stage>> = {
  CONNECT: "connect",
  EHLO: "helo",
  HELO: "helo",
  MAIL: "mail",
  RCPT: "rcpt",
  DATA: "data",
  BDAT: "data",
  "END-OF-MESSAGE": "data",
};

const STAGE_BY_STATE = new Map(Object.entries(STAGE_OF_STATE));

/** The engine stage of a Postfix protocol_state, or undefined (VRFY, ETRN, unknown: nothing to decide). */
export function stageOfState(state: string): Stage | undefined {
  return STAGE_BY_STATE.get(state);
}

/**
 * Postfix's attributes the engine reads, under the engine's (the same) names: all it knows but `subject`,
 * which the Exim snippets send from the header and Postfix never does.
 */
const ENGINE_NAMES: readonly AttributeName[] = KNOWN_ATTRIBUTES.filter((name) => name !== "subject");

/** The client certificate attributes Postfix sends xtext-encoded (RFC 3461 `+XX`). */
const CERTIFICATE_NAMES = ["ccert_subject", "ccert_issuer"] as const;

type Role = AttributeName | "request" | "protocol_state" | "certificate";

// The names read, by a hash of the name computed while its characters are checked: a line's name is
// recognised in place (text.startsWith at its offset), so no string is made for the ~20 names of a request
// that are ignored, and one pass over the name both checks and finds it (docs/postfix.md, "Performance").
// The hashes sit in a small open-addressed table, so that a name is looked up without a Map.
const nameHash = (hash: number, c: number) => (hash * 31 + c) | 0;
const TABLE_SIZE = 64; // a power of two, over twice the names read
const TABLE_MASK = TABLE_SIZE - 1;
const TABLE_HASH = new Int32Array(TABLE_SIZE);
const TABLE_NAME: string[] = new Array(TABLE_SIZE).fill("");
const TABLE_ROLE: (Role | undefined)[] = new Array(TABLE_SIZE).fill(undefined);
for (
  const [name, role] of [
    ...ENGINE_NAMES.map((name) => [name, name] as [string, Role]),
    ["request", "request"] as [string, Role],
    ["protocol_state", "protocol_state"] as [string, Role],
    ...CERTIFICATE_NAMES.map((name) => [name, "certificate"] as [string, Role]),
  ]
) {
  let hash = 0;
  for (let i = 0; i < name.length; i++) hash = nameHash(hash, name.charCodeAt(i));
  let slot = hash & TABLE_MASK;
  while (TABLE_ROLE[slot] !== undefined) slot = (slot + 1) & TABLE_MASK;
  TABLE_HASH[slot] = hash;
  TABLE_NAME[slot] = name;
  TABLE_ROLE[slot] = role;
}

/** The role of the name at text[start, end) whose nameHash is `hash`, or undefined: a name not read. */
function roleOf(text: string, start: number, end: number, hash: number): Role | undefined {
  for (let slot = hash & TABLE_MASK; TABLE_ROLE[slot] !== undefined; slot = (slot + 1) & TABLE_MASK) {
    if (TABLE_HASH[slot] !== hash) continue;
    const name = TABLE_NAME[slot];
    if (name.length === end - start && text.startsWith(name, start)) return TABLE_ROLE[slot];
  }
  return undefined;
}

export interface PostfixRequest {
  /** protocol_state as sent: RCPT, END-OF-MESSAGE, ... */
  state: string;
  /** The engine stage it maps to; undefined: not a stage the engine decides at (VRFY, ETRN). */
  stage: Stage | undefined;
  attributes: Attributes;
  /** ccert_subject / ccert_issuer, xtext-decoded, when the client presented a certificate. */
  certificate?: Readonly<Record<string, string>>;
  /** How many attributes the engine does not read (Postfix sends ~30; most are ignored). */
  ignored: number;
}

export type PostfixParse = { ok: true; request: PostfixRequest } | { ok: false; reason: string };

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true }); // a BOM is kept: no name starts with it
const utf8Line = new TextDecoder("utf-8", { ignoreBOM: true, fatal: true });

/**
 * The request's text: UTF-8 (ASCII, SMTPUTF8 addresses); a line whose bytes are not UTF-8 is read as
 * Latin-1 instead. One native decode and one native scan in the usual case. The bytes are decoded as they
 * are: a Buffer made over `bytes.buffer` would make the runtime give the socket's chunk an ArrayBuffer of
 * its own, an allocation per request (docs/postfix.md, "Performance").
 */
function decode(bytes: Uint8Array): string {
  const text = utf8.decode(bytes);
  return text.includes("\uFFFD") ? decodeByLine(bytes) : text;
}

/**
 * A replacement character appeared: each line is read as UTF-8 if it is, else as Latin-1. Read whole as
 * Latin-1, one value's stray byte (a HELO name) turned every UTF-8 value of the block into mojibake, and
 * the sender's limits counted that request under another key than its others.
 */
function decodeByLine(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let at = 0; at < bytes.length;) {
    let end = bytes.indexOf(0x0a, at);
    if (end < 0) end = bytes.length;
    const line = bytes.subarray(at, end);
    try {
      lines.push(utf8Line.decode(line));
    } catch {
      lines.push(Buffer.from(line).toString("latin1"));
    }
    at = end + 1;
  }
  const text = lines.join("\n");
  return bytes.length > 0 && bytes[bytes.length - 1] === 0x0a ? `${text}\n` : text;
}

/** The characters of a Postfix attribute name: letters, digits and `_` (Postfix sends lower case only). */
const NAME_CHARACTER = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const isName = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f ||
    (c >= 0x41 && c <= 0x5a);
  NAME_CHARACTER[c] = isName ? 1 : 0;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * RFC 3461 xtext: `+XX` is the byte with hex value XX; a `+` not followed by two hex digits stays. The bytes
 * are UTF-8 (SMTPD_POLICY_README: since Postfix 2.6 the decoded string is UTF-8), so a subject's "Müller"
 * comes as `M+C3+BCller`; bytes that are not UTF-8 are read as Latin-1, as a request's are.
 */
export function decodeXtext(value: string): string {
  if (!value.includes("+")) return value;
  const bytes = value.replace(
    /\+([0-9A-Fa-f]{2})/g,
    (_, hex: string) => String.fromCharCode(parseInt(hex, 16)),
  );
  // deno-lint-ignore no-control-regex
  if (!/[\x80-\xff]/.test(bytes) || /[^\x00-\xff]/.test(bytes)) return bytes; // ASCII, or not bytes
  try {
    return strictUtf8.decode(Buffer.from(bytes, "latin1"));
  } catch {
    return bytes;
  }
}

/**
 * One request block: `bytes` up to and including its empty line (the framing cut it out). A line that is
 * not `name=value`, a block without `request=smtpd_access_policy` or without protocol_state is malformed:
 * the listener logs it and disconnects, as the protocol says (Postfix then applies its default_action).
 * Attributes the engine does not read are ignored, whatever their name (letters, digits and `_`).
 */
export function parsePostfixRequest(bytes: Uint8Array): PostfixParse {
  const text = decode(bytes);
  const attributes: Attributes = {};
  let certificate: Record<string, string> | undefined;
  let request: string | undefined;
  let state: string | undefined;
  let ignored = 0;
  let lineNumber = 0;
  for (let at = 0; at < text.length;) {
    let end = text.indexOf("\n", at);
    if (end < 0) end = text.length;
    const next = end + 1;
    if (end > at && text.charCodeAt(end - 1) === 0x0d) end--;
    lineNumber++;
    if (end === at) break; // the empty line: the end of the request
    let equals = at;
    let hash = 0;
    // A table rather than four ranges: the names are most of the characters looked at one by one.
    for (let c = text.charCodeAt(at); c < 128 && NAME_CHARACTER[c] === 1; c = text.charCodeAt(++equals)) {
      hash = nameHash(hash, c);
    }
    if (equals === at || equals >= end || text.charCodeAt(equals) !== 0x3d) {
      return { ok: false, reason: `line ${lineNumber} is not name=value` };
    }
    const role = roleOf(text, at, equals, hash);
    if (role === undefined) ignored++;
    else if (role === "request") request = text.slice(equals + 1, end);
    else if (role === "protocol_state") state = text.slice(equals + 1, end);
    else if (role === "certificate") {
      const value = text.slice(equals + 1, end);
      if (value !== "") (certificate ??= {})[text.slice(at, equals)] = decodeXtext(value);
    } else attributes[role] = text.slice(equals + 1, end);
    at = next;
  }
  if (request !== POSTFIX_REQUEST) {
    return {
      ok: false,
      reason: request === undefined ? "no request attribute" : `unknown request ${request}`,
    };
  }
  if (state === undefined) return { ok: false, reason: "no protocol_state" };
  return { ok: true, request: { state, stage: stageOfState(state), attributes, certificate, ignored } };
}

/** The reply: one action line and the empty line that ends it. */
export function formatPostfixReply(action: string): string {
  return `action=${action}\n\n`;
}
