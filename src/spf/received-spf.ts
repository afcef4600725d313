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

/** Control characters out, length bounded: what the network sent must not break the header. */
function clean(text: string): string {
  // deno-lint-ignore no-control-regex
  const plain = text.replace(/[\x00-\x1f\x7f]/g, "?");
  return plain.length > MAX_VALUE ? `${plain.slice(0, MAX_VALUE)}...` : plain;
}

/** A key=value pair's value: a dot-atom as it is, anything else as a quoted-string. */
export function pairValue(text: string): string {
  const value = clean(text);
  return DOT_ATOM.test(value) ? value : `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Comment text: parentheses and backslashes would end or escape the comment, so they are quoted. */
const commentText = (text: string) => clean(text).replace(/[()\\]/g, (c) => `\\${c}`);

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

/** "Received-SPF: pass (mx.example.com: domain of a@b designates 192.0.2.1 as …) client-ip=…; …" */
export function receivedSpfHeader(input: ReceivedSpfInput): string {
  const { check } = input;
  const pairs: [string, string][] = [
    ["client-ip", input.ip],
    ["envelope-from", input.sender === "" ? "<>" : input.sender],
    ["helo", input.helo],
    ["receiver", input.receiver],
    ["identity", check.identity],
  ];
  if (check.mechanism !== undefined) pairs.push(["mechanism", check.mechanism]);
  if (check.problem !== undefined) pairs.push(["problem", check.problem]);
  const list = pairs.filter(([, value]) => value !== "").map(([key, value]) => `${key}=${pairValue(value)};`);
  return `Received-SPF: ${check.result} (${commentText(`${input.receiver}: ${comment(input)}`)}) ${
    list.join(" ")
  }`;
}
