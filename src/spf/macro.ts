// RFC 7208 §7 macros. A macro-string is parsed once, with the record, into literal text and expansions,
// so a syntax error anywhere in the record is found before evaluation (§4.6) and expanding is a loop
// over parts. Expansion itself is synchronous: the one letter that needs DNS, %{p}, is looked up by the
// caller beforehand (usesLetter) and handed in like the others.
import { permError } from "./spf-error.ts";

/** Letters allowed in domain-specs; "c", "r" and "t" are allowed only in explanation text (§7.2). */
const DOMAIN_LETTERS = "slodiphv";
const EXPLANATION_LETTERS = "slodiphvcrt";

export type MacroLetter = "s" | "l" | "o" | "d" | "i" | "p" | "h" | "v" | "c" | "r" | "t";

export interface MacroExpand {
  letter: MacroLetter;
  /** An upper-case letter: URL-escape the result (§7.3). */
  escape: boolean;
  /** How many right-hand parts to keep; 0 keeps all. */
  keep: number;
  reverse: boolean;
  /** Characters to split on; "." when none are given. */
  delimiters: string;
}

/** Literal text and expansions, in order. */
export type MacroString = (string | MacroExpand)[];

export type MacroContext = "domain" | "explanation";

/** Parses one "%{...}" body: letter, transformers, delimiters. Throws permerror when malformed. */
function parseExpand(body: string, context: MacroContext): MacroExpand {
  const match = /^([a-z])(\d*)(r?)([.\-+,/_=]*)$/i.exec(body);
  const letter = match?.[1].toLowerCase();
  const allowed = context === "domain" ? DOMAIN_LETTERS : EXPLANATION_LETTERS;
  if (!match || !letter || !allowed.includes(letter)) throw permError(`invalid macro %{${body}}`);
  const keep = match[2] === "" ? 0 : Number(match[2]);
  // "If a DIGIT is specified, the value MUST be nonzero" (§7.3).
  if (match[2] !== "" && keep === 0) throw permError(`invalid macro %{${body}}: zero parts`);
  return {
    letter: letter as MacroLetter,
    escape: match[1] !== letter,
    keep,
    reverse: match[3] !== "",
    delimiters: match[4] || ".",
  };
}

/**
 * Parses a macro-string (domain-spec or unknown-modifier value) or, with context "explanation", an
 * explanation-string (which may also hold spaces and the letters c, r, t). Throws permerror.
 */
export function parseMacroString(text: string, context: MacroContext): MacroString {
  const parts: MacroString = [];
  let literal = "";
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    const code = text.charCodeAt(i);
    if (char !== "%") {
      // macro-literal is %x21-24 / %x26-7E; explanation text adds SP.
      const visible = code >= 0x21 && code <= 0x7e;
      if (!visible && !(code === 0x20 && context === "explanation")) {
        throw permError(`invalid character 0x${code.toString(16)} in "${text}"`);
      }
      literal += char;
      continue;
    }
    const next = text[i + 1];
    if (next === "%" || next === "_" || next === "-") {
      literal += next === "%" ? "%" : next === "_" ? " " : "%20";
      i++;
      continue;
    }
    const close = next === "{" ? text.indexOf("}", i + 2) : -1;
    if (close < 0) throw permError(`invalid macro in "${text}": '%' must be followed by {, %, _ or -`);
    if (literal) parts.push(literal);
    literal = "";
    parts.push(parseExpand(text.slice(i + 2, close), context));
    i = close;
  }
  if (literal) parts.push(literal);
  return parts;
}

export function usesLetter(macro: MacroString, letter: MacroLetter): boolean {
  return macro.some((part) => typeof part !== "string" && part.letter === letter);
}

/** Splits on any of the delimiters, reverses, keeps the right-hand parts, joins with "." (§7.3). */
function transform(value: string, expand: MacroExpand): string {
  if (expand.keep === 0 && !expand.reverse && expand.delimiters === ".") return value;
  let parts: string[] = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    if (expand.delimiters.includes(value[i])) {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  if (expand.reverse) parts.reverse();
  if (expand.keep > 0 && expand.keep < parts.length) parts = parts.slice(parts.length - expand.keep);
  return parts.join(".");
}

const UTF8 = new TextEncoder();
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/** URL-escapes everything outside RFC 3986's unreserved set (encodeURIComponent spares !'()*). */
export function urlEscape(value: string): string {
  let out = "";
  for (const char of value) {
    if (UNRESERVED.test(char)) {
      out += char;
      continue;
    }
    for (const byte of UTF8.encode(char)) out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Expands a parsed macro-string with the letters' values. */
export function expandMacroString(macro: MacroString, valueOf: (letter: MacroLetter) => string): string {
  let out = "";
  for (const part of macro) {
    if (typeof part === "string") {
      out += part;
      continue;
    }
    const value = transform(valueOf(part.letter), part);
    out += part.escape ? urlEscape(value) : value;
  }
  return out;
}
