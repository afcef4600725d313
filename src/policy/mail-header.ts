// A header line for alert mail whose value holds text from the network (the key is whatever a client sent
// as MAIL FROM), within RFC 5322's limits: no line over 78 characters (998 is the hard limit; a 4000-byte key
// once made a 3913-byte Subject line). Pure: the transport hands the result to nodemailer as prepared.
//
// nodemailer cannot be left to do it: it folds only at spaces (a long key has none), and it passes a word
// that is already a valid RFC 2047 encoded word through untouched, so a key "=?utf-8?b?DQo=?=" reached the
// reader's screen as a line break. The value given here is already decoded and cleaned
// (protocols/subject.ts: displaySubject); what is left to do is to encode it so that a reader shows exactly
// that text, and to fold it.

export const MAX_HEADER_LINE = 78;
const MAX_ENCODED_WORD = 75; // RFC 2047, section 2
const WORD_START = "=?UTF-8?Q?";
const WORD_END = "?=";
const FOLD = "\r\n ";

// Characters a Q-encoded word may carry as they are (RFC 2047 5(1) allows a few more; these are safe in
// every reader). Everything else is =XX per UTF-8 byte, a space is "_".
const Q_PLAIN = /^[A-Za-z0-9!*+\-/.@,;:]$/;

function qEncoded(char: string): string {
  if (char === " ") return "_";
  if (Q_PLAIN.test(char)) return char;
  let out = "";
  for (const byte of new TextEncoder().encode(char)) {
    out += `=${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** Plain words folded at spaces, or undefined when a word cannot be folded or must be encoded. */
function foldedPlain(text: string, firstLine: number): string | undefined {
  // A reader decodes anything shaped like an encoded word, so such text must be encoded to stay literal.
  if (!/^[\x20-\x7e]*$/.test(text) || text.includes("=?")) return undefined;
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    const budget = lines.length === 0 ? firstLine : MAX_HEADER_LINE - 1;
    if (line === "") {
      if (word.length > budget) return undefined;
      line = word;
    } else if (line.length + 1 + word.length <= budget) {
      line += ` ${word}`;
    } else {
      lines.push(line);
      if (word.length > MAX_HEADER_LINE - 1) return undefined;
      line = word;
    }
  }
  lines.push(line);
  return lines.join(FOLD);
}

/** The whole text as Q-encoded words, one per line, never a character split between two words. */
function encodedWords(text: string, firstLine: number): string {
  const words: string[] = [];
  let payload = "";
  for (const char of text) {
    const budget = Math.min(MAX_ENCODED_WORD, words.length === 0 ? firstLine : MAX_HEADER_LINE - 1);
    const piece = qEncoded(char);
    if (payload !== "" && WORD_START.length + payload.length + piece.length + WORD_END.length > budget) {
      words.push(`${WORD_START}${payload}${WORD_END}`);
      payload = "";
    }
    payload += piece;
  }
  words.push(`${WORD_START}${payload}${WORD_END}`);
  return words.join(FOLD);
}

/**
 * The value of header `name` for `text` (one line of printable text, as displaySubject makes it): folded
 * at spaces when it is plain ASCII whose every word fits on a line, otherwise RFC 2047 encoded words (UTF-8,
 * Q), one per line. Every line of `name: value` is at most 78 characters.
 */
export function headerValue(name: string, text: string): string {
  const firstLine = MAX_HEADER_LINE - name.length - 2; // after "Name: "
  return foldedPlain(text, firstLine) ?? encodedWords(text, firstLine);
}
