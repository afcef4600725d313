// The Received-SPF: header of RFC 7208 §9.1: the result, a comment a person can read, and key=value
// pairs for filters. Its values come from the network (sender, HELO, explanation text), so they are
// cleaned of control characters and cut, and the line is never folded: Exim's add_header gets one line.
import { quoteInner } from "../protocols/attributes.ts";
import type { SpfCheck } from "./types.ts";

export interface ReceivedSpfInput {
  check: Pick<SpfCheck, "result" | "domain" | "identity" | "mechanism" | "problem">;
  ip: string;
  /** The envelope sender as received ("" for the null sender). */
  sender: string;
  helo: string;
  /** This host's name: the comment's author and `receiver=`. */
  receiver: string;
}

// A value longer than this as written (escapes included) is cut: the whole line stays under RFC 5322's
// 998 characters.
const MAX_VALUE = 160;
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;
// deno-lint-ignore no-control-regex
const CONTROLS = /[\x00-\x1f\x7f]/g;

/** Control characters out: what the network sent must not break the header. */
function withoutControls(text: string): string {
  // Tested first: nearly every value is clean, and a replace would copy it anyway.
  return CONTROL.test(text) ? text.replace(CONTROLS, "?") : text;
}

/**
 * `text` with each character of `specials` escaped by a backslash, at most MAX_VALUE characters as written
 * (a cut one ends in "..."). The bound counts the escapes: cut before escaping, a value of backslashes or
 * quotes came out twice as long, and a sender and an SPF problem full of them made a Received-SPF line of
 * over 998 characters (Exim's smtp transport then fails the message: message_linelength_limit). The cut
 * falls between characters, never inside an escape or a surrogate pair.
 */
function escapedWithin(text: string, specials: RegExp): string {
  let out = "";
  for (const char of text) {
    const piece = specials.test(char) ? `\\${char}` : char;
    if (out.length + piece.length > MAX_VALUE) return `${out}...`;
    out += piece;
  }
  return out;
}

/** A key=value pair's value: a dot-atom as it is, anything else as a quoted-string. */
export function pairValue(text: string): string {
  // A value of the right length that is a dot-atom, or that needs only the quotes, is taken as it is: one
  // regex each, on every request (a dot-atom has no control characters).
  if (text.length <= MAX_VALUE) {
    if (DOT_ATOM.test(text)) return text;
    if (!QUOTED_UNSAFE.test(text)) return `"${text}"`;
  }
  const value = withoutControls(text);
  if (value.length <= MAX_VALUE && DOT_ATOM.test(value)) return value;
  return `"${escapedWithin(value, QUOTED_SPECIAL)}"`;
}
// deno-lint-ignore no-control-regex
const QUOTED_UNSAFE = /[\x00-\x1f\x7f\\"]/;
const QUOTED_SPECIAL = /^[\\"]$/;

/** Comment text: parentheses and backslashes would end or escape the comment, so they are quoted. */
function commentText(text: string): string {
  if (text.length <= MAX_VALUE && !COMMENT_UNSAFE.test(text)) return text;
  return escapedWithin(withoutControls(text), COMMENT_SPECIAL);
}
// deno-lint-ignore no-control-regex
const COMMENT_UNSAFE = /[\x00-\x1f\x7f()\\]/;
const COMMENT_SPECIAL = /^[()\\]$/;

/**
 * The comment's words around `who` (the domain, or "domain of" the sender): each result's comment is
 * before + who + after, so that a check's fixed words can be kept and only the sender put in per request.
 */
function wordsAround(check: ReceivedSpfInput["check"], ip: string): [string, string] {
  switch (check.result) {
    case "pass":
      return ["", ` designates ${ip} as permitted sender`];
    case "fail":
      return ["", ` does not designate ${ip} as permitted sender`];
    case "softfail":
      return ["transitioning ", ` does not designate ${ip} as permitted sender`];
    case "neutral":
      return [`${ip} is neither permitted nor denied by `, ""];
    case "none":
      return ["", " does not provide an SPF record"];
    case "permerror":
      return ["permanent error in processing ", `: ${check.problem ?? "bad record"}`];
    case "temperror":
      return ["temporary error in processing ", `: ${check.problem ?? "DNS failure"}`];
  }
}

/** Who the comment is about: the HELO name, or the sender's domain; `named` is the sender or the domain. */
const whoOf = (check: ReceivedSpfInput["check"], named: string) =>
  check.identity === "helo" ? check.domain : `domain of ${named}`;

/** ` key=value;` for a value that is there; nothing for an empty one. */
const pair = (key: string, value: string | undefined) =>
  value === undefined || value === "" ? "" : ` ${key}=${pairValue(value)};`;

const envelopeFrom = (sender: string) => pair("envelope-from", sender === "" ? "<>" : sender);

/** The header as RFC 7208 §9.1 has it, every value cleaned: the general path, and the template's model. */
function headerOf(input: ReceivedSpfInput): string {
  const { check, ip } = input;
  const [before, after] = wordsAround(check, ip);
  const comment = `${before}${whoOf(check, input.sender || check.domain)}${after}`;
  return `Received-SPF: ${check.result} (${commentText(`${input.receiver}: ${comment}`)})` +
    pair("client-ip", ip) + envelopeFrom(input.sender) + pair("helo", input.helo) +
    checkPairs(check, input.receiver);
}

/**
 * What a check's header has on every request but the sender and the HELO name, built once per check (the
 * result cache hands out the same object to every request it answers until it expires), as text and as
 * the readsocket reply quotes it: the text up to where the comment names the sender, the text after it up
 * to the pairs, and the pairs of the check. Built by concatenation per request and then quoted whole, the
 * header cost more than the rest of the SPF concern's answer (docs/decisions.md, "The SPF header from a
 * template").
 */
interface Template {
  ip: string;
  receiver: string;
  /** "Received-SPF: pass (mx: domain of ", or undefined when the fixed words need cleaning. */
  head: string | undefined;
  /** " designates 192.0.2.1 as permitted sender) client-ip=192.0.2.1;" */
  tail: string;
  pairs: string;
  /** The same three as quoteInner has them. */
  quoted: { head: string; tail: string; pairs: string };
  /** The comment's length without the sender's part, to keep it under MAX_VALUE as commentText does. */
  fixedLength: number;
  /** Whether the comment names the sender (the MAIL FROM identity) rather than the HELO name. */
  namesSender: boolean;
  /** The last HELO name's pair, as text and quoted: a client sends the same one again and again. */
  helo: string;
  heloPair: string;
  quotedHeloPair: string;
}

const templates = new WeakMap<object, Template>();

/**
 * The same text as one flat string. A string built by concatenation is a tree of its parts (a rope) until
 * something reads its characters; a template part left a rope would be walked again in every header.
 */
function flat(text: string): string {
  text.charCodeAt(0);
  return text;
}

function templateOf(check: ReceivedSpfInput["check"], ip: string, receiver: string): Template {
  const kept = templates.get(check);
  if (kept !== undefined && kept.ip === ip && kept.receiver === receiver) return kept;
  const [before, after] = wordsAround(check, ip);
  const namesSender = check.identity !== "helo";
  const lead = `${receiver}: ${before}${namesSender ? "domain of " : check.domain}`;
  const fixed = lead + after;
  const head = COMMENT_UNSAFE.test(fixed) ? undefined : flat(`Received-SPF: ${check.result} (${lead}`);
  const tail = flat(`${after})${pair("client-ip", ip)}`);
  const pairs = flat(checkPairs(check, receiver));
  const template: Template = {
    ip,
    receiver,
    head,
    tail,
    pairs,
    quoted: {
      head: flat(quoteInner(head ?? "")),
      tail: flat(quoteInner(tail)),
      pairs: flat(quoteInner(pairs)),
    },
    fixedLength: fixed.length,
    namesSender,
    helo: "",
    heloPair: "",
    quotedHeloPair: "",
  };
  templates.set(check, template);
  return template;
}

/** A Received-SPF header, and what the readsocket reply puts between its quotes for it (quoteInner). */
export interface ReceivedSpf {
  text: string;
  quoted: string;
}

/**
 * "Received-SPF: pass (mx.example.com: domain of a@b designates 192.0.2.1 as …) client-ip=…; …": from the
 * check's template when the sender needs no cleaning in the comment (nearly always), else built in full.
 * Either way the same text (a test compares them).
 */
export function receivedSpf(input: ReceivedSpfInput): ReceivedSpf {
  const { check, sender, helo } = input;
  const template = templateOf(check, input.ip, input.receiver);
  const named = template.namesSender ? sender || check.domain : "";
  if (
    template.head === undefined || template.fixedLength + named.length > MAX_VALUE ||
    COMMENT_UNSAFE.test(named)
  ) {
    const text = headerOf(input);
    return { text, quoted: quoteInner(text) };
  }
  if (helo !== template.helo) {
    template.helo = helo;
    template.heloPair = flat(pair("helo", helo));
    template.quotedHeloPair = flat(quoteInner(template.heloPair));
  }
  const from = envelopeFrom(sender);
  const { quoted } = template;
  return {
    text: template.head + named + template.tail + from + template.heloPair + template.pairs,
    quoted: quoted.head + quoteInner(named) + quoted.tail + quoteInner(from) + template.quotedHeloPair +
      quoted.pairs,
  };
}

/** The general path alone, for the test that compares it with the template's. */
export const receivedSpfHeaderInFull = headerOf;

// The pairs that depend only on the check and this host.
function checkPairs(check: ReceivedSpfInput["check"], receiver: string): string {
  return pair("receiver", receiver) + pair("identity", check.identity) + pair("mechanism", check.mechanism) +
    pair("problem", check.problem);
}
