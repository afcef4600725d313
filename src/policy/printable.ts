// Text that came from mail, made safe to show a person: each control and invisible character written out.
import { UNPRINTABLE_CHARS } from "./unprintable-chars.ts";

// Controls and format characters (unprintable-chars.ts): in a terminal that does bidi a U+202E in a key
// turned the rest of its line round, the count and the rule with it; a U+200B hid in it unseen. "u": the
// set is a Unicode property, and a tag character (U+E0041) is one match, not two halves.
const UNPRINTABLE = new RegExp(`[${UNPRINTABLE_CHARS}]`, "gu");

/**
 * Text that came from mail (a key is a sender, HELO name or login a client sent; subjects, errors) as a
 * terminal shows it without obeying it: each control character written as \xNN (\uNNNN, \u{NNNNN} past
 * U+FFFF). Printed as sent, a local client's request to the Postfix listener put ESC sequences in a key, and
 * `top` then retitled, cleared or hid the postmaster's terminal; a line feed forged a line of the report.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.codePointAt(0)!;
    if (code > 0xffff) return `\\u{${code.toString(16)}}`;
    return code > 0xff
      ? `\\u${code.toString(16).padStart(4, "0")}`
      : `\\x${code.toString(16).padStart(2, "0")}`;
  });
}
