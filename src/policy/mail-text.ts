// Plain text that nodemailer sends as 7bit, readable and greppable in the raw message: printable ASCII
// only, no line over 76 characters. One character outside ASCII, or one longer line, and nodemailer
// sends the whole body quoted-printable (soft breaks "=\r\n" inside lines, =C3=BC for ü).

export const MAX_LINE = 76;

const escapedChar = (char: string): string => `\\u{${char.codePointAt(0)!.toString(16)}}`;

// A backslash is escaped too, so that "\u{fc}" in the text always stands for an escaped character.
const escape = (char: string): string =>
  char === "\\" ? "\\\\" : /^[\x20-\x7e]$/.test(char) ? char : escapedChar(char);

/**
 * A value from mail or the config (a key, a subject, a rule's name) as the body shows it, on one line:
 * every character outside printable ASCII as \u{hex} ("Grüße" → "Gr\u{fc}\u{df}e"), a line feed too, and a
 * backslash doubled. A key is whatever a client sent: a local user speaking the milter protocol put line
 * feeds in its sender, and the alert then had "Who:" and "Bcc:" lines of that user's writing.
 */
export function escapedLine(text: string): string {
  let escaped = "";
  for (const char of text) escaped += escape(char);
  return escaped;
}

/** `text` cut so that, escaped, it takes at most `width` characters, ending in "..." when cut. */
export function cutToWidth(text: string, width: number): string {
  const chars = Array.from(text); // by code point: never half an emoji
  let length = 0;
  for (const char of chars) length += escape(char).length;
  if (length <= width) return text;
  while (length > width - 3) length -= escape(chars.pop()!).length;
  return `${chars.join("")}...`;
}

/**
 * The body as 7bit text, from lines whose values went through escapedLine: every line over MAX_LINE
 * broken, each piece continued on a line indented by two spaces. A character outside printable ASCII left
 * in it (text not made by escapedLine) is written as \u{hex} all the same.
 */
export function foldedText(text: string): string {
  return text.replace(/[^\x20-\x7e\n]/gu, escapedChar).split("\n").map((line) => {
    if (line.length <= MAX_LINE) return line;
    const pieces = [line.slice(0, MAX_LINE)];
    for (let at = MAX_LINE; at < line.length; at += MAX_LINE - 2) {
      pieces.push(`  ${line.slice(at, at + MAX_LINE - 2)}`);
    }
    return pieces.join("\n");
  }).join("\n");
}
