// SPF records (RFC 7208 §4.5, §4.6, §5, §6): choosing the one record among a domain's TXT strings, and
// parsing it whole into mechanisms and modifiers before anything is evaluated, so that a syntax error
// anywhere is a permerror even after a mechanism that would have matched (§4.6).
import { hasValidDomainEnd } from "./domain-name.ts";
import { parseIp4Network, parseIp6Network } from "./ip-address.ts";
import { type MacroString, parseMacroString } from "./macro.ts";
import { permError, SpfError } from "./spf-error.ts";

export type Qualifier = "+" | "-" | "~" | "?";

export type MechanismKind = "all" | "include" | "a" | "mx" | "ptr" | "ip4" | "ip6" | "exists";

export interface Mechanism {
  /** The term as written, for the result and the trace. */
  term: string;
  qualifier: Qualifier;
  kind: MechanismKind;
  /** The target domain-spec (include, exists, and a, mx, ptr when given); absent means the current domain. */
  domain?: MacroString;
  /** ip4/ip6: the network's bytes. */
  network?: Uint8Array;
  /** Prefix lengths for IPv4 and IPv6 clients (a, mx, ip4, ip6); full length when not written. */
  cidr4: number;
  cidr6: number;
}

export interface SpfRecord {
  text: string;
  mechanisms: Mechanism[];
  redirect?: { term: string; domain: MacroString };
  exp?: MacroString;
}

const VERSION = "v=spf1";

/** Whether a TXT string is an SPF record: "v=spf1" (any case) alone or followed by a space (§4.5). */
function isSpfRecord(text: string): boolean {
  return text.length >= VERSION.length && text.slice(0, VERSION.length).toLowerCase() === VERSION &&
    (text.length === VERSION.length || text[VERSION.length] === " ");
}

/**
 * The domain's SPF record among its TXT records (each given as its strings, joined without a separator,
 * §3.3): undefined when there is none; permerror when there are several (§4.5).
 */
export function selectSpfRecord(txt: string[][]): string | undefined {
  let known = selectedRecords.get(txt);
  if (known === undefined) {
    try {
      known = pickSpfRecord(txt) ?? NO_RECORD;
    } catch (error) {
      known = error as Error;
    }
    selectedRecords.set(txt, known);
  }
  if (known === NO_RECORD) return undefined;
  if (known instanceof Error) throw known;
  return known;
}

// A caching resolver hands out the same answer (frozen: dns/resolver.ts) until it expires, so the record
// is picked once per answer, not once per check.
const NO_RECORD = Symbol("no SPF record");
const selectedRecords = new WeakMap<string[][], string | typeof NO_RECORD | Error>();

function pickSpfRecord(txt: string[][]): string | undefined {
  let found: string | undefined;
  for (const strings of txt) {
    const text = strings.join("");
    if (!isSpfRecord(text)) continue;
    if (found !== undefined) throw permError("more than one v=spf1 record");
    found = text;
  }
  return found;
}

// A modifier is name "=" with the name before any ":" or "/" (§4.6.1; the suite's modifier-charset-bad).
const MODIFIER = /^([a-z][a-z0-9_.-]*)=(.*)$/is;
// dual-cidr-length at the end of an a/mx argument: [ "/" ip4-cidr ] [ "//" ip6-cidr ], no leading zeros.
const DUAL_CIDR = /(?:\/(0|[1-9]\d*))?(?:\/\/(0|[1-9]\d*))?$/;
const SINGLE_CIDR = /\/(0|[1-9]\d*)$/;

function domainSpec(spec: string, term: string): MacroString {
  if (spec === "") throw permError(`empty domain-spec in "${term}"`);
  const macro = parseMacroString(spec, "domain");
  if (!hasValidDomainEnd(spec)) throw permError(`invalid domain "${spec}" in "${term}"`);
  return macro;
}

/** Prefix length from a cidr match, checked against the family's maximum. */
function prefixLength(digits: string | undefined, max: number, term: string): number {
  if (digits === undefined) return max;
  const bits = Number(digits);
  if (bits > max) throw permError(`prefix length /${digits} over ${max} in "${term}"`);
  return bits;
}

/** An optional ":domain-spec" (a, mx, ptr) or a required one (include, exists). */
function optionalDomain(rest: string, term: string): MacroString | undefined {
  if (rest === "") return undefined;
  if (!rest.startsWith(":")) throw permError(`invalid term "${term}"`);
  return domainSpec(rest.slice(1), term);
}

function parseNetwork(kind: "ip4" | "ip6", rest: string, term: string): Mechanism {
  if (!rest.startsWith(":")) throw permError(`"${term}" needs an address`);
  const cidr = SINGLE_CIDR.exec(rest);
  const address = cidr ? rest.slice(1, cidr.index) : rest.slice(1);
  const network = kind === "ip4" ? parseIp4Network(address) : parseIp6Network(address);
  if (!network) throw permError(`invalid address in "${term}"`);
  const bits = prefixLength(cidr?.[1], kind === "ip4" ? 32 : 128, term);
  return { term, qualifier: "+", kind, network, cidr4: bits, cidr6: bits };
}

function parseMechanism(term: string): Mechanism {
  const qualifier = "+-~?".includes(term[0]) ? term[0] as Qualifier : "+";
  const body = qualifier === term[0] ? term.slice(1) : term;
  const nameEnd = body.search(/[:/]/);
  const name = (nameEnd < 0 ? body : body.slice(0, nameEnd)).toLowerCase();
  const rest = nameEnd < 0 ? "" : body.slice(nameEnd);
  switch (name) {
    case "all":
      if (rest !== "") throw permError(`invalid term "${term}"`);
      return { term, qualifier, kind: "all", cidr4: 32, cidr6: 128 };
    case "include":
    case "exists":
      if (!rest.startsWith(":")) throw permError(`"${term}" needs a domain`);
      return { term, qualifier, kind: name, domain: domainSpec(rest.slice(1), term), cidr4: 32, cidr6: 128 };
    case "ptr":
      return { term, qualifier, kind: "ptr", domain: optionalDomain(rest, term), cidr4: 32, cidr6: 128 };
    case "a":
    case "mx": {
      const cidr = DUAL_CIDR.exec(rest)!; // matches at least the empty string at the end
      const domain = optionalDomain(rest.slice(0, cidr.index), term);
      const cidr4 = prefixLength(cidr[1], 32, term);
      return { term, qualifier, kind: name, domain, cidr4, cidr6: prefixLength(cidr[2], 128, term) };
    }
    case "ip4":
    case "ip6":
      return { ...parseNetwork(name, rest, term), qualifier };
    default:
      throw permError(`unknown mechanism "${term}"`);
  }
}

/** Parses a selected record (it starts with v=spf1). Throws permerror for any syntax error (§4.6). */
export function parseSpfRecord(text: string): SpfRecord {
  // Terms are separated by spaces only; any other control or non-ASCII character is an error (§4.6.1,
  // §3.1), including in a term that would never be reached.
  const bad = /[^\x20-\x7e]/.exec(text);
  if (bad) throw permError(`invalid character 0x${bad[0].charCodeAt(0).toString(16)} in the record`);
  const record: SpfRecord = { text, mechanisms: [] };
  for (const term of text.slice(VERSION.length).split(" ")) {
    if (term === "") continue;
    const modifier = MODIFIER.exec(term);
    if (!modifier) {
      record.mechanisms.push(parseMechanism(term));
      continue;
    }
    const name = modifier[1].toLowerCase();
    if (name === "redirect" || name === "exp") {
      // Each at most once (§6); a malformed one is an error, not an unknown modifier (suite comments).
      if (record[name] !== undefined) throw permError(`${name}= appears twice`);
      const domain = domainSpec(modifier[2], term);
      if (name === "redirect") record.redirect = { term, domain };
      else record.exp = domain;
    } else {
      // Unknown modifiers are ignored, but their value must still be a valid macro-string (§6).
      parseMacroString(modifier[2], "domain");
    }
  }
  return record;
}

// Parsed records by text. A record is parsed on every check that reaches its domain, and parsing is
// most of a warm check's CPU (about 1 µs a term); the parse is pure and its result never changed, so
// checks share it. Bounded in records and in their text (a parsed record takes about 40 bytes a character
// of its text, and a TXT answer over TCP may be 64 KiB): when full it starts over, which costs one parse per
// record again.
const MEMO_MAX = 2048;
export const MEMO_MAX_CHARS = 512 * 1024;
const memo = new Map<string, SpfRecord | SpfError>();
let memoChars = 0;

/** What the memo holds, for tests. */
export function parsedRecordMemo(): { entries: number; chars: number } {
  return { entries: memo.size, chars: memoChars };
}

/** parseSpfRecord through the memo (a permerror is remembered too). */
export function parsedSpfRecord(text: string): SpfRecord {
  let entry = memo.get(text);
  if (entry === undefined) {
    try {
      entry = parseSpfRecord(text);
    } catch (error) {
      if (!(error instanceof SpfError)) throw error;
      entry = error;
    }
    if (memo.size >= MEMO_MAX || memoChars + text.length > MEMO_MAX_CHARS) {
      memo.clear();
      memoChars = 0;
    }
    memo.set(text, entry);
    memoChars += text.length;
  }
  if (entry instanceof SpfError) throw entry;
  return entry;
}
