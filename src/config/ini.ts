// A strict INI reader that keeps line numbers: the npm `ini` package drops them, and every config error
// must name its line. Accepts what Python's ConfigParser accepts for the seed's sender_warn.conf.

export interface IniEntry {
  key: string; // lower-cased, as ConfigParser does (the seed writes `fromAddr`)
  rawKey: string;
  value: string;
  line: number;
}

export interface IniSection {
  name: string; // lower-cased, inner whitespace collapsed: `[Limit  outbound]` → `limit outbound`
  line: number;
  entries: IniEntry[];
}

export interface IniProblem {
  line: number;
  key: string;
  problem: string;
}

export interface IniDocument {
  sections: IniSection[];
  problems: IniProblem[];
}

// A value wholly inside matching quotes loses them (the seed writes `fromAddr = 'a@b'`); otherwise an
// inline comment starts at ` #` or ` ;` so `count = 20  # per window` reads as 20.
function unquoteValue(raw: string): string {
  const quote = raw[0];
  if ((quote === "'" || quote === '"') && raw.length >= 2) {
    const end = raw.indexOf(quote, 1);
    if (end === raw.length - 1) return raw.slice(1, -1);
    const rest = raw.slice(end + 1).trim();
    if (end > 0 && (rest.startsWith("#") || rest.startsWith(";"))) return raw.slice(1, end);
  }
  const comment = raw.search(/\s[#;]/);
  return (comment >= 0 ? raw.slice(0, comment) : raw).trim();
}

/**
 * A config file's lines, as every FILE:LINE counts them: a line ends at LF, CRLF or a lone CR (an old Mac
 * file), as in Python's universal newlines, which ConfigParser reads with (split at LF alone, such a file was
 * one line, and every error named line 1); a leading BOM is dropped.
 */
export const configLines = (text: string): string[] => text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);

export function parseIni(text: string): IniDocument {
  const sections: IniSection[] = [];
  const problems: IniProblem[] = [];
  const seenSections = new Map<string, number>();
  let current: IniSection | undefined;
  let seenKeys = new Map<string, number>();
  // The section's last key line and its indentation: a line indented deeper continues that key's value in
  // Python's ConfigParser (a sender_warn.conf may list its toAddr over several lines). One line a value here:
  // read as a key of its own (or a line with no =), it would mean something else than to the classic daemon.
  let lastEntry: { rawKey: string; line: number; indent: number } | undefined;
  const lines = configLines(text);

  lines.forEach((rawLine, index) => {
    const line = index + 1;
    const trimmed = rawLine.trim();
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith(";")) return;
    // A file zeroed by a crash (a power cut after the rename, before the data), or not text at all: said as
    // such, not as "expected `key = value`" of an invisible key.
    if (trimmed.includes("\0")) {
      problems.push({
        line,
        key: "(file)",
        problem: "NUL bytes: this is not a line of text (a file zeroed by a crash?)",
      });
      return;
    }
    const indent = rawLine.length - rawLine.trimStart().length;
    if (current && lastEntry && indent > lastEntry.indent) {
      problems.push({
        line,
        key: `${current.name}.${lastEntry.rawKey}`,
        problem: `an indented line continues the value of line ${lastEntry.line} (as Python's ConfigParser ` +
          `reads it); here a value is one line: join them`,
      });
      return;
    }
    if (trimmed.startsWith("[")) {
      const match = /^\[([^\]]+)\]\s*(?:[#;].*)?$/.exec(trimmed);
      if (!match) {
        problems.push({ line, key: trimmed, problem: "malformed section header, expected [name]" });
        current = undefined;
        return;
      }
      const name = match[1].trim().toLowerCase().replace(/\s+/g, " ");
      const previous = seenSections.get(name);
      if (previous !== undefined) {
        problems.push({ line, key: `[${name}]`, problem: `section repeated (first at line ${previous})` });
      }
      seenSections.set(name, line);
      current = { name, line, entries: [] };
      sections.push(current);
      seenKeys = new Map();
      lastEntry = undefined;
      return;
    }
    const separator = trimmed.search(/[=:]/);
    const rawKey = trimmed.slice(0, Math.max(separator, 0)).trim();
    // No key has a space in it: one that does is a line whose = was forgotten, split at a colon in its value.
    if (separator <= 0 || /\s/.test(rawKey)) {
      // Named by its first word only: `auth_password s3cret` (the = forgotten) printed the password in
      // config-test's answer and the daemon's log, and `auth_password s3c:ret` its part before the colon.
      problems.push({ line, key: trimmed.split(/\s/, 1)[0].slice(0, 40), problem: "expected `key = value`" });
      return;
    }
    const key = rawKey.toLowerCase();
    if (!current) {
      problems.push({ line, key: rawKey, problem: "key outside any [section]" });
      return;
    }
    lastEntry = { rawKey, line, indent };
    const previous = seenKeys.get(key);
    if (previous !== undefined) {
      problems.push({
        line,
        key: `${current.name}.${rawKey}`,
        problem: `key repeated (first at line ${previous})`,
      });
      return;
    }
    seenKeys.set(key, line);
    current.entries.push({ key, rawKey, value: unquoteValue(trimmed.slice(separator + 1).trim()), line });
  });
  return { sections, problems };
}

/**
 * What the reader found wrong in the section `name` alone: a key given twice, the section itself twice (its
 * entries are the first's). For the commands that read one section and leave the rest to config-test.
 */
export function sectionProblems(document: IniDocument, name: string): IniProblem[] {
  return document.problems.filter((found) => found.key === `[${name}]` || found.key.startsWith(`${name}.`));
}
