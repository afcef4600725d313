// The Redis key of a counter: `<prefix>{<key>}:<limit>`. Everything of one counter is in that one hash,
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

export function counterKey(prefix: string, limit: string, key: string): string {
  return `${prefix}{${escapeKey(key)}}:${escapeName(limit)}`;
}

/** The limit and key a counter's Redis key names; undefined for a key that is not one of ours. */
export function parseCounterKey(
  prefix: string,
  redisKey: string,
): { limit: string; key: string } | undefined {
  if (!redisKey.startsWith(`${prefix}{`)) return undefined;
  const close = redisKey.indexOf("}", prefix.length + 1);
  if (close < 0 || redisKey.charCodeAt(close + 1) !== 0x3a) return undefined; // "}:"
  const key = redisKey.slice(prefix.length + 1, close);
  const limit = redisKey.slice(close + 2);
  if (key === "" || key.includes("{") || limit === "" || /[{}:]/.test(limit)) return undefined;
  return { limit: unescape(limit), key: key === "%" ? "" : unescape(key) };
}

// SCAN MATCH is a glob: its special characters in the prefix and the limit name match themselves.
const escapeGlob = (text: string) => text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/**
 * The SCAN MATCH pattern of every counter, or of one limit's: an escaped key holds no `}`, and an escaped
 * limit name no `}` or `:`, so `}:<limit>` at the end is that limit's and no other's.
 */
export function counterPattern(prefix: string, limit?: string): string {
  return `${escapeGlob(prefix)}\\{*}:${limit === undefined ? "*" : escapeGlob(escapeName(limit))}`;
}

/** A prefix with a brace would move the hash tag out of the counter's key: refused. */
export function checkPrefix(prefix: string): void {
  if (/[{}]/.test(prefix)) throw new Error(`redis prefix ${JSON.stringify(prefix)}: no { or } allowed`);
}
