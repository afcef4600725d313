// A resolver answering from an OpenSPF-suite zone (`zonedata`), with node's dns.promises shapes and
// error codes: an absent name is ENOTFOUND, a name without the asked type ENODATA, TIMEOUT ETIMEOUT.
// It reads the zone the way the suite's reference driver (pyspf's test.py) does:
// - SPF (type 99) data is copied into TXT for a name with no TXT entry of its own ("TXT: NONE" is such an
//   entry, with no record), the copies going after the name's other entries; the evaluator never asks
//   for type SPF, so SPF data matters only through those copies;
// - TIMEOUT ends the name's entries: a query whose type has no record before it times out, one whose type
//   has records before it gets those (the suite's spftimeout / txttimeout);
// - CNAMEs are followed, as a recursive resolver does; a loop is a server failure (ESERVFAIL).
import type { CachedAnswer, SpfQueryType, SpfResolver } from "../../../src/spf/types.ts";
import type { YamlValue } from "./suite-yaml.ts";

type ZoneType = "TXT" | "SPF" | "A" | "AAAA" | "MX" | "PTR" | "CNAME";
type Entry = { type: ZoneType; value: YamlValue } | "TIMEOUT";

const dnsError = (code: string, name: string) => Object.assign(new Error(`${code} ${name}`), { code });

const normal = (name: string) => name.toLowerCase().replace(/\.$/, "");

function entriesOf(items: YamlValue[]): Entry[] {
  const entries: Entry[] = [];
  const spfCopies: Entry[] = [];
  let ownTxt = false;
  for (const item of items) {
    if (item === "TIMEOUT") {
      entries.push("TIMEOUT");
      continue;
    }
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      throw new Error(`zone entry ${JSON.stringify(item)} not understood`);
    }
    for (const [type, value] of Object.entries(item)) {
      if (!["TXT", "SPF", "A", "AAAA", "MX", "PTR", "CNAME"].includes(type)) {
        throw new Error(`zone type ${type} not understood`);
      }
      if (type === "TXT") ownTxt = true;
      if (type === "SPF") spfCopies.push({ type: "TXT", value });
      if (value !== "NONE") entries.push({ type: type as ZoneType, value });
    }
  }
  return ownTxt ? entries : [...entries, ...spfCopies];
}

export interface ZoneResolver extends SpfResolver {
  /** Every query asked, as "TYPE name", in order. */
  readonly queries: string[];
}

/**
 * With `synchronous`, the resolver also has `cached` (SpfResolver.cached) and answers every query there,
 * as a warm caching resolver does, except timeouts and server failures, which only the promise can give.
 */
export function zoneResolver(zonedata: { [name: string]: YamlValue }, synchronous = false): ZoneResolver {
  const zone = new Map<string, Entry[]>();
  for (const [name, items] of Object.entries(zonedata)) {
    zone.set(normal(name), entriesOf(Array.isArray(items) ? items : [items]));
  }
  const queries: string[] = [];

  function lookup(name: string, type: ZoneType, seen: Set<string> = new Set()): YamlValue[] {
    const key = normal(name);
    const entries = zone.get(key);
    if (!entries) throw dnsError("ENOTFOUND", name);
    const found: YamlValue[] = [];
    let cname: string | undefined;
    for (const entry of entries) {
      if (entry === "TIMEOUT") {
        if (found.length === 0) throw dnsError("ETIMEOUT", name);
        break;
      }
      if (entry.type === type) found.push(entry.value);
      else if (entry.type === "CNAME") cname = String(entry.value);
    }
    if (found.length > 0) return found;
    if (cname === undefined) throw dnsError("ENODATA", name);
    if (seen.has(key)) throw dnsError("ESERVFAIL", name);
    seen.add(key);
    return lookup(cname, type, seen);
  }

  function answer<T>(type: ZoneType, name: string, shape: (value: YamlValue) => T): Promise<T[]> {
    queries.push(`${type} ${name}`);
    try {
      return Promise.resolve(lookup(name, type).map(shape));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  const txt = (v: YamlValue) => (Array.isArray(v) ? v.map(String) : [String(v)]);
  const mx = (v: YamlValue) => {
    const [priority, exchange] = v as [number, string];
    return { priority, exchange: String(exchange ?? "") };
  };
  const shapes: Record<SpfQueryType, (value: YamlValue) => unknown> = {
    TXT: txt,
    A: String,
    AAAA: String,
    MX: mx,
    PTR: String,
  };

  function cached(type: SpfQueryType, name: string): CachedAnswer | undefined {
    try {
      const records = lookup(name, type).map(shapes[type]);
      queries.push(`${type} ${name}`);
      return { records };
    } catch (error) {
      const code = (error as { code: string }).code;
      if (code !== "ENOTFOUND" && code !== "ENODATA") return undefined;
      queries.push(`${type} ${name}`);
      return { records: [], missing: code };
    }
  }

  return {
    queries,
    ...(synchronous ? { cached } : {}),
    resolveTxt: (name) => answer("TXT", name, txt),
    resolve4: (name) => answer("A", name, String),
    resolve6: (name) => answer("AAAA", name, String),
    resolveMx: (name) => answer("MX", name, mx),
    resolvePtr: (name) => answer("PTR", name, String),
  };
}
