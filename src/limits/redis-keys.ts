// The Redis key of a counter: `<prefix>{<limit>:<key>}`. Everything of one counter is in that one hash,
// and the braces make its whole inside the Redis Cluster hash tag, so a counter never spans slots.
// Keys are what senders write (an address may hold `{`, `}`, `%`, `:`): the inside is percent-escaped
// (`%` `{` `}` always, `:` in the limit name), so its first `}` is the tag's end, the limit name ends at
// the first `:`, and the key reads back unchanged for `top` and the export. Pure: no I/O.

const escapeKey = (text: string) => text.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
const escapeName = (text: string) => text.replace(/[%{}:]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
const unescape = (text: string) =>
  text.replace(/%(25|7b|7d|3a)/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));

export function counterKey(prefix: string, limit: string, key: string): string {
  return `${prefix}{${escapeName(limit)}:${escapeKey(key)}}`;
}

/** The limit and key a counter's Redis key names; undefined for a key that is not one of ours. */
export function parseCounterKey(
  prefix: string,
  redisKey: string,
): { limit: string; key: string } | undefined {
  if (!redisKey.startsWith(`${prefix}{`) || !redisKey.endsWith("}")) return undefined;
  const inside = redisKey.slice(prefix.length + 1, -1);
  const colon = inside.indexOf(":");
  if (colon < 0 || inside.includes("}") || inside.includes("{")) return undefined;
  return { limit: unescape(inside.slice(0, colon)), key: unescape(inside.slice(colon + 1)) };
}

// SCAN MATCH is a glob: its special characters in the prefix and the limit name match themselves.
const escapeGlob = (text: string) => text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/** The SCAN MATCH pattern of every counter, or of one limit's. */
export function counterPattern(prefix: string, limit?: string): string {
  return `${escapeGlob(prefix)}\\{${limit === undefined ? "" : `${escapeGlob(escapeName(limit))}:`}*`;
}

/** A prefix with a brace would move the hash tag out of the counter's part: refused. */
export function checkPrefix(prefix: string): void {
  if (/[{}]/.test(prefix)) throw new Error(`redis prefix ${JSON.stringify(prefix)}: no { or } allowed`);
}
