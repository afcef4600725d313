// The Redis key of a counter: `<prefix>{<key>}:<limit>`, or `<prefix>{<key>}:<limit>:<kind>` for a limit
// that counts by another key than Redis records for it (limits/redis-counter-kinds.ts): a limit whose `key`
// was changed must not read the counters made under the old one. Everything of one counter is in that hash,
// and the braces make the key (the sender, the login, the client network…) the Redis Cluster hash tag:
// one sender's counters under every limit share a slot, as issue 21 asks (`show` and `reset` of a sender
// are then one slot's business), and a counter never spans slots. Keys are what senders write (an
// address may hold `{`, `}`, `%` or `:`): the key is percent-escaped (`%` `{` `}`), so the first `}` is
// the tag's end, and the limit name after it too (`:` as well), so the key and the limit read back
// unchanged for `top` and the export. The empty key is the tag `%` (which no escaped key is): an empty
// tag `{}` would hash the whole Redis key instead, one slot per limit. Pure: no I/O.

// Nearly no key holds a special character: a test first spares the replace's callback machinery, and a
// limit's escaped name is made once (a few limits; ~120 → ~45 ns a counter key).
const KEY_SPECIAL = /[%{}]/;
const escapeKey = (text: string) =>
  text === ""
    ? "%"
    : KEY_SPECIAL.test(text)
    ? text.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)
    : text;
const escapedNames = new Map<string, string>();
const escapeName = (text: string) => {
  let escaped = escapedNames.get(text);
  if (escaped === undefined) {
    escaped = text.replace(/[%{}:]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
    if (escapedNames.size < 1024) escapedNames.set(text, escaped); // limit names: a config's few
  }
  return escaped;
};
const unescape = (text: string) =>
  text.replace(/%(25|7b|7d|3a)/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));

/** `kind`: the key text a limit counts by when Redis records another for it (undefined: the one recorded). */
export function counterKey(prefix: string, limit: string, key: string, kind?: string): string {
  return kind === undefined
    ? `${prefix}{${escapeKey(key)}}:${escapeName(limit)}`
    : `${prefix}{${escapeKey(key)}}:${escapeName(limit)}:${escapeName(kind)}`;
}

/**
 * The key that records a merge call's token (limits/merges-in-doubt.ts): `<prefix>{<key>}!<token>`, in the
 * counter's hash slot (the same tag), and matched by no counter pattern (no `}:`), so `top` and the export
 * pass over it. The token is the host's and the call's, so it names one call of one host.
 */
export function mergeTokenKey(prefix: string, key: string, token: string): string {
  return `${prefix}{${escapeKey(key)}}!${token}`;
}

export interface CounterName {
  limit: string;
  key: string;
  /** The kind after the limit's name (counterKey); absent: the key Redis records for the limit. */
  kind?: string;
}

/** The limit, key and kind a counter's Redis key names; undefined for a key that is not one of ours. */
export function parseCounterKey(prefix: string, redisKey: string): CounterName | undefined {
  if (!redisKey.startsWith(`${prefix}{`)) return undefined;
  const close = redisKey.indexOf("}", prefix.length + 1);
  if (close < 0 || redisKey.charCodeAt(close + 1) !== 0x3a) return undefined; // "}:"
  const key = redisKey.slice(prefix.length + 1, close);
  const [limit, kind, ...more] = redisKey.slice(close + 2).split(":");
  if (key === "" || key.includes("{") || more.length > 0) return undefined;
  if (limit === "" || /[{}]/.test(limit) || kind === "" || (kind !== undefined && /[{}]/.test(kind))) {
    return undefined;
  }
  const named: CounterName = { limit: unescape(limit), key: key === "%" ? "" : unescape(key) };
  if (kind !== undefined) named.kind = unescape(kind);
  return named;
}

// SCAN MATCH is a glob: its special characters in the prefix and the limit name match themselves.
const escapeGlob = (text: string) => text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/**
 * The SCAN MATCH pattern of every counter, or of one limit's counters of one kind (counterKey): an escaped
 * key holds no `}`, and an escaped limit name or kind no `}` or `:`, so `}:<limit>` (`}:<limit>:<kind>`)
 * at the end is that limit's (and kind's) and no other's.
 */
export function counterPattern(prefix: string, limit?: string, kind?: string): string {
  if (limit === undefined) return `${escapeGlob(prefix)}\\{*}:*`;
  const named = kind === undefined ? escapeName(limit) : `${escapeName(limit)}:${escapeName(kind)}`;
  return `${escapeGlob(prefix)}\\{*}:${escapeGlob(named)}`;
}

/**
 * The hash that records, for each limit's name, the key its counters without a kind count by
 * (limits/redis-counter-kinds.ts). No brace: no counter pattern matches it.
 */
export const limitKeysKey = (prefix: string) => `${prefix}limit-keys`;

/** A prefix with a brace would move the hash tag out of the counter's key: refused. */
export function checkPrefix(prefix: string): void {
  if (/[{}]/.test(prefix)) throw new Error(`redis prefix ${JSON.stringify(prefix)}: no { or } allowed`);
}
