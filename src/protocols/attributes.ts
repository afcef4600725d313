// The attribute form of the policy socket: `<stage> name=value name="quoted value" …`, quoted as Exim's
// ${quote:} does (wrap in "…" unless the value is only letters, digits, `_`, `.`, `-`; escape `"` and `\`
// with a backslash; newline and carriage return become \n and \r). Replies use the same syntax, which is
// what Exim's ${extract{name}{…}} reads back (it undoes exactly these escapes).

// `local`: a message submitted on this host without SMTP (sendmail, `exim -t`: Exim's acl_not_smtp), asked
// about once with all its recipients; the limits counted at mail, rcpt or data count it (policy/limit-key.ts).
export const STAGES = ["connect", "helo", "mail", "rcpt", "data", "local"] as const;
export type Stage = typeof STAGES[number];

/**
 * Postfix's policy attribute names, plus `subject`, and for a `local` message `local_user` (the login that
 * handed it to sendmail: Exim's $sender_ident) and `recipients` (Exim's $recipients, "a@x, b@y", sent for
 * up to 10). Others are accepted and ignored.
 */
export const KNOWN_ATTRIBUTES = [
  "sender",
  "recipient",
  "client_address",
  "client_name",
  "helo_name",
  "sasl_username",
  "recipient_count",
  "size",
  "queue_id",
  "instance",
  "subject",
  "local_user",
  "recipients",
] as const;
export type AttributeName = typeof KNOWN_ATTRIBUTES[number];
export type Attributes = Partial<Record<AttributeName, string>>;

export type AttributeParse =
  | { ok: true; stage: Stage; attributes: Attributes; ignored: readonly string[] }
  | { ok: false; reason: string };

const KNOWN = new Map<string, AttributeName>(KNOWN_ATTRIBUTES.map((name) => [name, name]));
// The known names by length, to recognise a name in place (text.startsWith at its offset) instead of
// slicing it out and hashing the slice for every attribute of every request.
const KNOWN_BY_LENGTH: AttributeName[][] = [];
for (const name of KNOWN_ATTRIBUTES) (KNOWN_BY_LENGTH[name.length] ??= []).push(name);

/** The canonical (literal, so already atomized) name at text[start, end), or undefined. */
function knownName(text: string, start: number, end: number): AttributeName | undefined {
  for (const name of KNOWN_BY_LENGTH[end - start] ?? []) if (text.startsWith(name, start)) return name;
  return KNOWN.get(text.slice(start, end).toLowerCase()); // in another case: rare
}

export function isStage(word: string): word is Stage {
  return (STAGES as readonly string[]).includes(word);
}

// Scanned by character code rather than with sticky regexes: every exec allocated a match array, and
// this runs for every request on the policy socket.
function isNameStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x2d;
}

/** JavaScript's \s: where a bare value ends (besides a quote). */
function isSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 ||
    c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

const ESCAPES: Record<string, string> = { n: "\n", r: "\r", t: "\t" };

const NO_NAMES: readonly string[] = Object.freeze([]);

/**
 * Parses the text after the stage word, from `start` on (columns in errors count from there). Unknown
 * names are returned in `ignored`, not errors.
 */
export function parseAttributes(stage: Stage, text: string, start = 0): AttributeParse {
  const attributes: Attributes = {};
  let ignored: string[] | undefined; // made only for a line that has unknown names
  const length = text.length;
  let at = start;
  while (at < length) {
    while (at < length && (text.charCodeAt(at) === 0x20 || text.charCodeAt(at) === 0x09)) at++;
    if (at >= length) break;
    const nameStart = at;
    if (isNameStart(text.charCodeAt(at))) {
      at++;
      while (at < length && isNameChar(text.charCodeAt(at))) at++;
    }
    if (at === nameStart || text.charCodeAt(at) !== 0x3d /* = */) {
      return { ok: false, reason: `expected name=value at column ${nameStart - start + 1}` };
    }
    const nameEnd = at;
    const known = knownName(text, nameStart, nameEnd);
    at++;
    let value = "";
    if (text.charCodeAt(at) === 0x22 /* " */) {
      at++;
      let closed = false;
      let run = at; // start of the characters not yet copied into value
      while (at < length) {
        const c = text.charCodeAt(at);
        if (c === 0x22) {
          value += text.slice(run, at++);
          closed = true;
          break;
        }
        if (c !== 0x5c /* \ */) {
          at++;
          continue;
        }
        value += text.slice(run, at++);
        if (at >= length) break;
        const escaped = text[at++];
        value += ESCAPES[escaped] ?? escaped;
        run = at;
      }
      if (!closed) {
        return {
          ok: false,
          reason: `unterminated quoted value for ${known ?? text.slice(nameStart, nameEnd)}`,
        };
      }
      if (at < length && text.charCodeAt(at) !== 0x20 && text.charCodeAt(at) !== 0x09) {
        return {
          ok: false,
          reason: `text after the closing quote of ${known ?? text.slice(nameStart, nameEnd)}`,
        };
      }
    } else {
      const valueStart = at;
      while (at < length) {
        const c = text.charCodeAt(at);
        if (c === 0x22 || isSpace(c)) break;
        at++;
      }
      value = text.slice(valueStart, at);
      if (text.charCodeAt(at) === 0x22) {
        return {
          ok: false,
          reason: `stray quote in the value of ${known ?? text.slice(nameStart, nameEnd)}`,
        };
      }
    }
    // The canonical name as the property key: a fresh string as a key made the engine intern it on
    // every request.
    if (known !== undefined) attributes[known] = value;
    else (ignored ??= []).push(text.slice(nameStart, nameEnd));
  }
  return { ok: true, stage, attributes, ignored: ignored ?? NO_NAMES };
}

const BARE = /^[A-Za-z0-9_.-]+$/;
const NEEDS_ESCAPE = /[\\"\n\r]/;
const OTHER_ESCAPE = /[\\\n\r]/;

/** Exim's ${quote:}: bare when only [A-Za-z0-9_.-] and not empty, else "…" with escapes. */
export function quoteValue(value: string): string {
  return BARE.test(value) ? value : `"${quoteInner(value)}"`;
}

/**
 * What quoteValue puts between the quotes: `\`, `"`, newline and carriage return escaped. Also for a value
 * quoted in parts (the SPF header's template, spf/received-spf.ts): the parts' escapes are the whole's.
 */
export function quoteInner(value: string): string {
  // A refused sender gets a quoted message on every request: most need no escape, so test once first.
  if (!NEEDS_ESCAPE.test(value)) return value;
  // replaceAll with a string is a native scan, a fraction of a regex replace's callback per match.
  if (!OTHER_ESCAPE.test(value)) return value.replaceAll('"', '\\"');
  let escaped = value;
  if (escaped.includes("\\")) escaped = escaped.replaceAll("\\", "\\\\");
  if (escaped.includes('"')) escaped = escaped.replaceAll('"', '\\"');
  if (escaped.includes("\n")) escaped = escaped.replaceAll("\n", "\\n");
  if (escaped.includes("\r")) escaped = escaped.replaceAll("\r", "\\r");
  return escaped;
}

export function formatAttributes(fields: [string, string | number | undefined][]): string {
  let line = "";
  for (const [name, value] of fields) {
    if (value === undefined) continue;
    line += `${line === "" ? "" : " "}${name}=${quoteValue(String(value))}`;
  }
  return line;
}
