// The engine's decision in Postfix's words (access(5) actions), as the Postfix listener's reply. Postfix
// takes ONE action per reply, so a decision that both refuses and carries headers, or warns and carries
// headers, is said as one of them (docs/postfix.md, "Replies"):
// - reject and defer win over headers: the mail (this recipient) does not go through, the header has
//   nothing to go on;
// - headers win over warn: PREPEND leaves a mark on the mail itself, where WARN only writes a line to
//   Postfix's maillog, and mailpolicyd's own log has the warning anyway;
// - only one header line is prepended (PREPEND takes one), and none at END-OF-MESSAGE, where Postfix
//   refuses PREPEND ("cannot execute in the context of smtpd_end_of_data_restrictions"), nor at CONNECT,
//   EHLO or HELO, before any MAIL FROM (smtpd_delay_reject = no), where Postfix skips it with a warning
//   ("action PREPEND is always skipped in client or helo restrictions");
// - a header is prepended once per message: Postfix adds each RCPT's PREPEND (measured: three recipients,
//   three Received-SPF lines), so a header for the same `instance` is said only the first time (one
//   Received-SPF, one warning a rule: policy/header-memory.ts), and a later RCPT says the first header not
//   yet said.
import { Buffer } from "node:buffer";
import type { Decision } from "../model/answer.ts";
import type { PolicyRequest } from "../policy/request.ts";
import type { PostfixVocabulary } from "../model/postfix.ts";
import type { Attributes } from "./attributes.ts";
import { type HeaderMemory, headerMemory } from "../policy/header-memory.ts";
import { formatPostfixReply } from "./postfix-policy.ts";
import { asciiReplyText, asciiWithin } from "./ascii-reply-text.ts";

/**
 * Where Postfix takes a PREPEND: within a mail transaction, before the message is received. Its smtpd_check.c
 * refuses it at END-OF-MESSAGE, and skips it (with a warning in its log) while no MAIL FROM has been given:
 * CONNECT, EHLO and HELO, the states Postfix asks in only under smtpd_delay_reject = no. There a warning said
 * as PREPEND would be lost, where WARN reaches the log.
 */
// Compares rather than a Set: asked for every request, nearly always RCPT, which differs from each in length.
export const mayPrependAt = (state: string): boolean =>
  state !== "END-OF-MESSAGE" && state !== "CONNECT" && state !== "EHLO" && state !== "HELO";
/** SMTP reply text stays within RFC 5321's 512-octet line, with Postfix's own prefix: bytes of UTF-8. */
const MAX_TEXT = 400;
/**
 * Postfix says a refusal as `NNN X.Y.Z <NAME>: CLASS rejected: TEXT` (smtpd_check.c): 42 octets at most
 * besides NAME and TEXT ("Recipient address" is the longest CLASS), and the line's CRLF makes 44. NAME is
 * the recipient in smtpd_recipient_restrictions (the snippet's), or the sender, HELO name or client, as
 * the list the check sits in says. A recipient may take 256 octets (RFC 5321's path): cut at MAX_TEXT
 * whatever the name, the line reached 646 octets through Postfix 3.7 (a 244-octet recipient).
 */
const REFUSAL_FRAME = 44;
const REPLY_LINE = 512;
/** What is left of a refusal's text when the names are longer than a reply line allows: still a word. */
const MIN_TEXT = 60;
/**
 * A prepended header goes into the message, not into an SMTP reply: RFC 5322's 998-octet line is its
 * bound (RFC 6532 keeps it in octets for UTF-8). Cut at MAX_TEXT, a Received-SPF with a long sender (named
 * twice) lost its last key=value pairs.
 */
const MAX_HEADER = 998;
const DEFAULT_TEXT = { defer: "mail policy: try again later", reject: "mail policy: refused" };

const utf8 = new TextEncoder();
// Scratch for withinBytes: its bytes are never read, only how many of the text's units fit (one per bound).
const SCRATCH = new Uint8Array(MAX_HEADER);

/**
 * `text` cut to at most `maxBytes` bytes of UTF-8, between characters: counted in characters, a sender or
 * a text in another script made a line of two or three times the octets the bounds allow.
 */
function withinBytes(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text; // any UTF-16 unit is at most 3 bytes (a pair, 4 for 2)
  // encodeInto writes whole characters only; `read` is the UTF-16 units of those it wrote.
  const { read } = utf8.encodeInto(text, SCRATCH.subarray(0, maxBytes));
  return read < text.length ? text.slice(0, read) : text;
}

/** One line of printable text: controls (CR, LF among them) become spaces. */
function singleLine(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f]+[ \t]*/g, " ").trim(); // a folded line unfolds
}

/** singleLine's text cut to `max` bytes of UTF-8. */
function oneLine(text: string, max = MAX_TEXT): string {
  return withinBytes(singleLine(text), max);
}

const everyHeaderNew = () => true;

/**
 * The header Postfix is to prepend for this decision, or undefined: the first that is `Name: value` and
 * `isNew` (not yet said for the message). The one already said is skipped rather than ending the search: a
 * message's second RCPT then carries the decision's next header (limits answer before SPF: a warning's
 * header first, Received-SPF after it, which no RCPT would otherwise add).
 */
export function headerToPrepend(
  decision: Decision,
  mayPrepend: boolean,
  vocabulary: PostfixVocabulary,
  isNew: (header: string) => boolean = everyHeaderNew,
): string | undefined {
  if (vocabulary.headers !== "PREPEND" || !mayPrepend || !decision.headers?.length) return undefined;
  for (const line of decision.headers) {
    const header = oneLine(line, MAX_HEADER);
    if (/^[!-9;-~]+:/.test(header) && isNew(header)) return header;
  }
  return undefined;
}

/**
 * A refusal with a text: "REJECT text", or "550 5.7.1 text". Postfix writes the text into its SMTP reply as it
 * is, to clients that did not ask for SMTPUTF8 too: ASCII (protocols/ascii-reply-text.ts).
 */
function refusal(word: string, text: string | undefined, fallback: string, maxText: number): string {
  const said = text === undefined ? "" : asciiWithin(asciiReplyText(singleLine(text)), maxText);
  return `${word} ${said === "" ? fallback : said}`;
}

const octets = (text: string | undefined) => text === undefined ? 0 : Buffer.byteLength(text, "utf8");

/**
 * The octets a refusal's text may take so that Postfix's reply line stays within 512, whichever name the
 * list that asked puts before it (the longest of the request's), at most MAX_TEXT and at least MIN_TEXT.
 */
export function refusalTextBound(attributes: Attributes | undefined): number {
  if (attributes === undefined) return MAX_TEXT;
  const client = attributes.client_address === undefined
    ? 0
    : octets(attributes.client_name || "unknown") + octets(attributes.client_address) + 2;
  const name = Math.max(
    octets(attributes.recipient),
    octets(attributes.sender),
    octets(attributes.helo_name),
    client,
    "END-OF-MESSAGE".length,
  );
  return Math.max(MIN_TEXT, Math.min(MAX_TEXT, REPLY_LINE - REFUSAL_FRAME - name));
}

/**
 * The action word(s) for the decision, without "action="; `header`: headerToPrepend's, or undefined;
 * `maxText`: refusalTextBound's for the request.
 */
export function postfixAction(
  decision: Decision,
  header: string | undefined,
  vocabulary: PostfixVocabulary,
  maxText = MAX_TEXT,
): string {
  switch (decision.action) {
    case "reject":
      return refusal(vocabulary.reject, decision.message, DEFAULT_TEXT.reject, maxText);
    case "defer":
      return refusal(vocabulary.defer, decision.message, DEFAULT_TEXT.defer, maxText);
    case "warn": {
      if (header !== undefined) return `PREPEND ${header}`;
      const text = decision.message === undefined ? "" : oneLine(decision.message);
      return vocabulary.warn === "WARN" && text !== "" ? `WARN ${text}` : "DUNNO";
    }
    case "accept":
      return header === undefined ? vocabulary.accept : `PREPEND ${header}`;
  }
}

/**
 * The whole reply, `action=...` and the empty line; the plain accept (most replies) is built once.
 * mayPrepend: see mayPrependAt. A header goes out once per message (instance).
 */
export function postfixReplyFormatter(
  vocabulary: PostfixVocabulary,
  mayPrepend: boolean,
  firstTime: HeaderMemory = headerMemory(),
): (decision: Decision, request: PolicyRequest) => string {
  const plainAccept = formatPostfixReply(vocabulary.accept);
  // A refused sender asks again and again and gets the same (frozen) decision: its reply is built once
  // for each bound of its text (one, unless its recipients' lengths differ by much).
  let lastRefusal: Decision | undefined;
  let lastBound = 0;
  let lastReply = "";
  return (decision, request) => {
    if (decision.action === "accept" && !decision.headers?.length) return plainAccept;
    const refused = decision.action === "defer" || decision.action === "reject";
    const attributes = request.form === "attributes" ? request.attributes : undefined;
    const bound = refused ? refusalTextBound(attributes) : MAX_TEXT;
    if (refused && decision === lastRefusal && bound === lastBound) return lastReply;
    const instance = attributes?.instance;
    const isNew = instance ? (header: string) => firstTime(instance, header, decision.rule) : undefined;
    const header = refused ? undefined : headerToPrepend(decision, mayPrepend, vocabulary, isNew);
    const reply = formatPostfixReply(postfixAction(decision, header, vocabulary, bound));
    if (refused) [lastRefusal, lastBound, lastReply] = [decision, bound, reply];
    return reply;
  };
}
