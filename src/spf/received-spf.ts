// The Received-SPF: header of RFC 7208 §9.1: the result, a comment a person can read, and key=value
// pairs for filters. Its values come from the network (sender, HELO, explanation text), so they are
// cleaned of control characters and cut, and the line is never folded: Exim's add_header gets one line.
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

// A value longer than this is cut: the whole line stays under RFC 5322's 998 characters.
const MAX_VALUE = 160;
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;
// deno-lint-ignore no-control-regex
const CONTROLS = /[\x00-\x1f\x7f]/g;

/** Control characters out, length bounded: what the network sent must not break the header. */
function clean(text: string): string {
  // Tested first: nearly every value is clean, and a replace would copy it anyway.
  const plain = CONTROL.test(text) ? text.replace(CONTROLS, "?") : text;
  return plain.length > MAX_VALUE ? `${plain.slice(0, MAX_VALUE)}...` : plain;
}

/** A key=value pair's value: a dot-atom as it is, anything else as a quoted-string. */
export function pairValue(text: string): string {
  // A value of the right length that is a dot-atom, or that needs only the quotes, is taken as it is: one
  // regex each, on every request (a dot-atom has no control characters).
  if (text.length <= MAX_VALUE) {
    if (DOT_ATOM.test(text)) return text;
    if (!QUOTED_UNSAFE.test(text)) return `"${text}"`;
  }
  const value = clean(text);
  return DOT_ATOM.test(value) ? value : `"${value.replace(QUOTED_SPECIALS, (c) => `\\${c}`)}"`;
}
// deno-lint-ignore no-control-regex
const QUOTED_UNSAFE = /[\x00-\x1f\x7f\\"]/;
const QUOTED_SPECIALS = /[\\"]/g;

/** Comment text: parentheses and backslashes would end or escape the comment, so they are quoted. */
function commentText(text: string): string {
  if (text.length <= MAX_VALUE && !COMMENT_UNSAFE.test(text)) return text;
  return clean(text).replace(COMMENT_SPECIALS, (c) => `\\${c}`);
}
// deno-lint-ignore no-control-regex
const COMMENT_UNSAFE = /[\x00-\x1f\x7f()\\]/;
const COMMENT_SPECIALS = /[()\\]/g;

function comment(input: ReceivedSpfInput): string {
  const { check, ip } = input;
  const who = check.identity === "helo" ? `${check.domain}` : `domain of ${input.sender || check.domain}`;
  switch (check.result) {
    case "pass":
      return `${who} designates ${ip} as permitted sender`;
    case "fail":
      return `${who} does not designate ${ip} as permitted sender`;
    case "softfail":
      return `transitioning ${who} does not designate ${ip} as permitted sender`;
    case "neutral":
      return `${ip} is neither permitted nor denied by ${who}`;
    case "none":
      return `${who} does not provide an SPF record`;
    case "permerror":
      return `permanent error in processing ${who}: ${check.problem ?? "bad record"}`;
    case "temperror":
      return `temporary error in processing ${who}: ${check.problem ?? "DNS failure"}`;
  }
}

/** ` key=value;` for a value that is there; nothing for an empty one. */
const pair = (key: string, value: string | undefined) =>
  value === undefined || value === "" ? "" : ` ${key}=${pairValue(value)};`;

/**
 * "Received-SPF: pass (mx.example.com: domain of a@b designates 192.0.2.1 as …) client-ip=…; …". Built
 * for every request the SPF concern answers (it names the sender), so by concatenation, without arrays.
 */
export function receivedSpfHeader(input: ReceivedSpfInput): string {
  const { check } = input;
  return `Received-SPF: ${check.result} (${commentText(`${input.receiver}: ${comment(input)}`)})` +
    pair("client-ip", input.ip) +
    pair("envelope-from", input.sender === "" ? "<>" : input.sender) +
    pair("helo", input.helo) +
    checkPairs(check, input.receiver);
}

// The pairs that depend only on the check and this host, kept per cached check (the result cache hands
// out the same object to every request it answers until the check expires).
const pairsOfCheck = new WeakMap<object, { receiver: string; pairs: string }>();

function checkPairs(check: ReceivedSpfInput["check"], receiver: string): string {
  const kept = pairsOfCheck.get(check);
  if (kept !== undefined && kept.receiver === receiver) return kept.pairs;
  const pairs = pair("receiver", receiver) + pair("identity", check.identity) +
    pair("mechanism", check.mechanism) + pair("problem", check.problem);
  pairsOfCheck.set(check, { receiver, pairs });
  return pairs;
}
