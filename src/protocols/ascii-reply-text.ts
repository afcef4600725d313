// A refusal's text in ASCII, for the SMTP reply the MTA writes with it. RFC 6531 lets a server write UTF-8 in
// a reply only to a client that asked for SMTPUTF8, yet Postfix 3.7 and Exim 4.96 pass a policy server's
// text on as it is, and the text names the sender, whose local part may be UTF-8 (strict_smtputf8 = no,
// Postfix's default, takes one without SMTPUTF8; Exim likewise). Postfix tells a policy server nothing of
// SMTPUTF8, so each non-ASCII character is written as RFC 6533's `\x{HEX}` (its utf-8-addr-xtext form of a
// UTF-8 address: the code point in upper-case hex without leading zeros), whoever the client.
// docs/postfix.md, "Replies"; docs/exim.md, "Refusal texts".

// By code point (u): a pair is one character, a lone surrogate (no decoded request holds one) its own number.
const NON_ASCII = /[\u0080-\uffff]/;
const EVERY_NON_ASCII = /[\u{80}-\u{10ffff}]/gu;

const escaped = (character: string) => `\\x{${character.codePointAt(0)!.toString(16).toUpperCase()}}`;

/** `text` with every non-ASCII character as `\x{HEX}`; an ASCII text (nearly every one) as it is. */
export function asciiReplyText(text: string): string {
  return NON_ASCII.test(text) ? text.replace(EVERY_NON_ASCII, escaped) : text;
}

/**
 * The first `max` characters of an ASCII text, cut before an escape it would split (`\x{E` or `\x` names
 * no character). A literal `\x{` cut likewise loses a few characters of a text too long anyway.
 */
export function asciiWithin(text: string, max: number): string {
  if (text.length <= max) return text;
  const backslash = text.lastIndexOf("\\", max - 1);
  const split = backslash >= 0 && text.startsWith("\\x{", backslash) && text.indexOf("}", backslash) >= max;
  return text.slice(0, split ? backslash : max);
}
