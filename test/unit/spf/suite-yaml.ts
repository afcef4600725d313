// A reader for the YAML subset the OpenSPF test suites are written in, so the suites are read as
// published without a YAML dependency: "---"-separated documents of block mappings and sequences,
// plain (also multi-line), single- and double-quoted scalars (with \x escapes), flow sequences of
// scalars, "key:" with nested blocks, and |, |-, >, >- block scalars. Anything else throws with the line
// number, so a suite it cannot read fails the test instead of shrinking it.

export type YamlValue = string | number | null | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  number: number;
  indent: number;
  text: string;
}

class Reader {
  private index = 0;
  constructor(private readonly lines: Line[], private readonly raw: string[]) {}

  private fail(line: Line | undefined, message: string): never {
    throw new Error(`YAML line ${line?.number ?? "end"}: ${message}`);
  }

  peek(): Line | undefined {
    return this.lines[this.index];
  }

  /** A block (mapping or sequence) whose first line is at `indent`. */
  block(indent: number): YamlValue {
    const line = this.peek();
    if (!line || line.indent !== indent) return this.fail(line, `expected a block at indent ${indent}`);
    return line.text === "-" || line.text.startsWith("- ") ? this.sequence(indent) : this.mapping(indent);
  }

  private sequence(indent: number): YamlValue[] {
    const items: YamlValue[] = [];
    for (let line = this.peek(); line && line.indent === indent; line = this.peek()) {
      if (!(line.text === "-" || line.text.startsWith("- "))) break;
      const rest = line.text.slice(1).trimStart();
      if (rest === "") {
        this.index++;
        items.push(this.nested(indent));
      } else if (splitKey(rest)) {
        // "- key: value": a mapping whose first line starts after the dash.
        this.lines[this.index] = {
          number: line.number,
          indent: indent + line.text.indexOf(rest),
          text: rest,
        };
        items.push(this.mapping(this.lines[this.index].indent));
      } else {
        this.index++;
        items.push(this.scalar(rest, line, indent));
      }
    }
    return items;
  }

  private mapping(indent: number): { [key: string]: YamlValue } {
    const map: { [key: string]: YamlValue } = {};
    for (let line = this.peek(); line && line.indent === indent; line = this.peek()) {
      const pair = splitKey(line.text);
      if (!pair) return this.fail(line, `expected "key: value" in "${line.text}"`);
      this.index++;
      const [key, rest] = pair;
      if (rest === "") map[key] = this.nested(indent);
      else if (/^[|>][-+]?$/.test(rest)) map[key] = this.blockScalar(rest, line, indent);
      else map[key] = this.scalar(rest, line, indent);
    }
    return map;
  }

  /** What follows "key:" on its own line: a deeper block, a sequence at the same indent, or null. */
  private nested(indent: number): YamlValue {
    const next = this.peek();
    if (next && next.indent > indent) return this.block(next.indent);
    if (next && next.indent === indent && (next.text === "-" || next.text.startsWith("- "))) {
      return this.sequence(indent);
    }
    return null;
  }

  private blockScalar(style: string, line: Line, indent: number): string {
    // Block scalars keep blank and comment-looking lines: read them from the raw text.
    const body: string[] = [];
    let rawIndex = line.number; // the raw line after the key (numbers are 1-based)
    while (rawIndex < this.raw.length) {
      const raw = this.raw[rawIndex];
      if (raw.trim() !== "" && raw.length - raw.trimStart().length <= indent) break;
      body.push(raw);
      rawIndex++;
    }
    while (this.peek() && this.peek()!.number <= rawIndex) this.index++;
    while (body.length && body[body.length - 1].trim() === "") body.pop();
    const margin = Math.min(...body.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
    const text = body.map((l) => l.slice(margin));
    const joined = style.startsWith(">") ? text.join(" ").replace(/ *\n */g, "\n") : text.join("\n");
    return style.endsWith("-") ? joined : `${joined}\n`;
  }

  /** A scalar starting on `line`; a plain one may go on over more deeply indented lines. */
  private scalar(text: string, line: Line, indent: number): YamlValue {
    if (text.startsWith('"')) return this.whole(doubleQuoted(text, line), line);
    if (text.startsWith("'")) return this.whole(singleQuoted(text, line), line);
    if (text.startsWith("[")) return flowSequence(text, line);
    let value = stripComment(text);
    for (let next = this.peek(); next && next.indent > indent; next = this.peek()) {
      value += ` ${stripComment(next.text)}`;
      this.index++;
    }
    return plain(value);
  }

  private whole(parsed: [string, string], line: Line): string {
    if (stripComment(parsed[1]).trim() !== "") this.fail(line, `text after a quoted scalar: "${parsed[1]}"`);
    return parsed[0];
  }
}

function stripComment(text: string): string {
  const hash = text.search(/\s#/);
  return (hash < 0 ? text : text.slice(0, hash)).trimEnd();
}

function plain(text: string): YamlValue {
  if (text === "" || text === "~" || text === "null") return null;
  if (/^-?\d+$/.test(text)) return Number(text);
  return text;
}

/** "key: rest" → [key, rest]; undefined when the line is not a mapping entry. */
function splitKey(text: string): [string, string] | undefined {
  if (text.startsWith('"')) {
    const [key, rest] = doubleQuoted(text, { number: 0, indent: 0, text });
    const pair = /^:(?:\s+(.*))?$/.exec(rest);
    return pair ? [key, pair[1] ?? ""] : undefined;
  }
  const match = /^([^\s"'[\]{},#](?:[^:]|:(?=\S))*?):(?:\s+(.*))?$/.exec(text);
  return match ? [match[1], (match[2] ?? "").trim()] : undefined;
}

const ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  "0": "\0",
  '"': '"',
  "\\": "\\",
  "/": "/",
};

/** A double-quoted scalar at the start of `text`: [value, what follows]. */
function doubleQuoted(text: string, line: Line): [string, string] {
  let out = "";
  for (let i = 1; i < text.length; i++) {
    const char = text[i];
    if (char === '"') return [out, text.slice(i + 1)];
    if (char !== "\\") {
      out += char;
      continue;
    }
    const next = text[++i];
    if (next === "x" || next === "u") {
      const width = next === "x" ? 2 : 4;
      out += String.fromCharCode(parseInt(text.slice(i + 1, i + 1 + width), 16));
      i += width;
    } else if (next in ESCAPES) {
      out += ESCAPES[next];
    } else {
      throw new Error(`YAML line ${line.number}: unknown escape \\${next}`);
    }
  }
  throw new Error(`YAML line ${line.number}: unterminated double-quoted scalar`);
}

function singleQuoted(text: string, line: Line): [string, string] {
  let out = "";
  for (let i = 1; i < text.length; i++) {
    if (text[i] !== "'") out += text[i];
    else if (text[i + 1] === "'") out += text[++i];
    else return [out, text.slice(i + 1)];
  }
  throw new Error(`YAML line ${line.number}: unterminated single-quoted scalar`);
}

/** "[a, 'b', "c"]" of scalars. */
function flowSequence(text: string, line: Line): YamlValue[] {
  const items: YamlValue[] = [];
  let rest = text.slice(1).trimStart();
  while (!rest.startsWith("]")) {
    let value: YamlValue;
    if (rest.startsWith('"') || rest.startsWith("'")) {
      const [parsed, after] = rest.startsWith('"') ? doubleQuoted(rest, line) : singleQuoted(rest, line);
      value = parsed;
      rest = after.trimStart();
    } else {
      const end = rest.search(/[,\]]/);
      if (end < 0) throw new Error(`YAML line ${line.number}: unterminated flow sequence`);
      value = plain(rest.slice(0, end).trim());
      rest = rest.slice(end);
    }
    items.push(value);
    if (rest.startsWith(",")) rest = rest.slice(1).trimStart();
    else if (!rest.startsWith("]")) throw new Error(`YAML line ${line.number}: bad flow sequence`);
  }
  if (stripComment(rest.slice(1)).trim() !== "") throw new Error(`YAML line ${line.number}: text after ]`);
  return items;
}

/** Parses every document of a multi-document YAML text. */
export function parseYamlDocuments(source: string): YamlValue[] {
  const raw = source.split(/\r?\n/);
  const documents: YamlValue[] = [];
  let lines: Line[] = [];
  const flush = () => {
    if (lines.length === 0) return;
    const reader = new Reader(lines, raw);
    documents.push(reader.block(lines[0].indent));
    if (reader.peek()) throw new Error(`YAML line ${reader.peek()!.number}: unexpected indentation`);
    lines = [];
  };
  raw.forEach((text, i) => {
    if (text === "---" || text.startsWith("--- ")) return flush();
    const trimmed = text.trimStart();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    if (text.includes("\t") && /^\s*\t/.test(text)) throw new Error(`YAML line ${i + 1}: tab indentation`);
    lines.push({ number: i + 1, indent: text.length - trimmed.length, text: trimmed.trimEnd() });
  });
  flush();
  return documents;
}
