// The attribute form of the policy socket: `<stage> name=value name="quoted value" …`, quoted as Exim's
// ${quote:} does (wrap in "…" unless the value is only letters, digits, `_`, `.`, `-`; escape `"` and `\`
// with a backslash; newline and carriage return become \n and \r). Replies use the same syntax, which is
// what Exim's ${extract{name}{…}} reads back (it undoes exactly these escapes).

export const STAGES = ["connect", "helo", "mail", "rcpt", "data"] as const;
export type Stage = typeof STAGES[number];

/** Postfix's policy attribute names, plus `subject`. Others are accepted and ignored. */
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
] as const;
export type AttributeName = typeof KNOWN_ATTRIBUTES[number];
export type Attributes = Partial<Record<AttributeName, string>>;

export type AttributeParse =
  | { ok: true; stage: Stage; attributes: Attributes; ignored: string[] }
  | { ok: false; reason: string };

const NAME = /[A-Za-z_][A-Za-z0-9_-]*/y;
const BARE_VALUE = /[^\s"]*/y;
const KNOWN = new Set<string>(KNOWN_ATTRIBUTES);

export function isStage(word: string): word is Stage {
  return (STAGES as readonly string[]).includes(word);
}

/** Parses the text after the stage word. Unknown names are returned in `ignored`, not errors. */
export function parseAttributes(stage: Stage, text: string): AttributeParse {
  const attributes: Attributes = {};
  const ignored: string[] = [];
  let at = 0;
  while (at < text.length) {
    while (text[at] === " " || text[at] === "\t") at++;
    if (at >= text.length) break;
    NAME.lastIndex = at;
    const name = NAME.exec(text)?.[0];
    if (!name || text[at + name.length] !== "=") {
      return { ok: false, reason: `expected name=value at column ${at + 1}` };
    }
    at += name.length + 1;
    let value = "";
    if (text[at] === '"') {
      at++;
      let closed = false;
      while (at < text.length) {
        const c = text[at++];
        if (c === '"') {
          closed = true;
          break;
        }
        if (c !== "\\") {
          value += c;
          continue;
        }
        if (at >= text.length) break;
        const escaped = text[at++];
        value += escaped === "n" ? "\n" : escaped === "r" ? "\r" : escaped === "t" ? "\t" : escaped;
      }
      if (!closed) return { ok: false, reason: `unterminated quoted value for ${name}` };
      if (at < text.length && text[at] !== " " && text[at] !== "\t") {
        return { ok: false, reason: `text after the closing quote of ${name}` };
      }
    } else {
      BARE_VALUE.lastIndex = at;
      value = BARE_VALUE.exec(text)![0];
      at += value.length;
      if (text[at] === '"') return { ok: false, reason: `stray quote in the value of ${name}` };
    }
    const key = name.toLowerCase();
    if (KNOWN.has(key)) attributes[key as AttributeName] = value;
    else ignored.push(name);
  }
  return { ok: true, stage, attributes, ignored };
}

/** Exim's ${quote:}: bare when only [A-Za-z0-9_.-] and not empty, else "…" with escapes. */
export function quoteValue(value: string): string {
  if (/^[A-Za-z0-9_.-]+$/.test(value)) return value;
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, "\\n").replace(/\r/g, "\\r")}"`;
}

export function formatAttributes(fields: [string, string | number | undefined][]): string {
  return fields
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}=${quoteValue(String(value))}`)
    .join(" ");
}
