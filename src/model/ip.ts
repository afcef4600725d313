// IPv4/IPv6 parsing for prefixes (client_address/24) and CIDR exemptions. node:net's BlockList is not
// on every runtime we target, and we need the masked prefix as a string key anyway.

export interface ParsedIp {
  version: 4 | 6;
  bytes: Uint8Array; // 4 or 16
}

/**
 * Four dot-separated decimal numbers of one to three digits, each at most 255 ("010" is 10, as before).
 * Scanned by character code: it runs for every request a client-address limit or [spf] sees, where the
 * split-and-regex version was the SPF path's largest single cost (docs/decisions.md, "The SPF concern's
 * cached path").
 */
function parseIpv4(text: string): Uint8Array | undefined {
  const bytes = new Uint8Array(4);
  let part = 0;
  let digits = 0;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (++digits > 3) return undefined;
      value = value * 10 + c - 0x30;
    } else if (c === 0x2e && digits > 0 && part < 3) {
      if (value > 255) return undefined;
      bytes[part++] = value;
      digits = 0;
      value = 0;
    } else return undefined;
  }
  if (part !== 3 || digits === 0 || value > 255) return undefined;
  bytes[3] = value;
  return bytes;
}

function parseIpv6(text: string): Uint8Array | undefined {
  let head = text;
  let tailV4: Uint8Array | undefined;
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".")) {
    tailV4 = parseIpv4(text.slice(lastColon + 1));
    if (!tailV4) return undefined;
    head = text.slice(0, lastColon + 1) + "0:0";
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string) => part === "" ? [] : part.split(":");
  const left = groups(halves[0]);
  const right = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...left, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...right];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-f]{1,4}$/i.test(all[i])) return undefined;
    const value = parseInt(all[i], 16);
    bytes[i * 2] = value >> 8;
    bytes[i * 2 + 1] = value & 0xff;
  }
  if (tailV4) bytes.set(tailV4, 12);
  return bytes;
}

/** Exim writes IPv4-mapped IPv6 peers as plain IPv4; accept `::ffff:a.b.c.d` as IPv4 too. */
export function parseIp(text: string): ParsedIp | undefined {
  const first = text.charCodeAt(0);
  const last = text.charCodeAt(text.length - 1);
  const bare = first !== 0x5b && last !== 0x5d && first > 0x20 && last > 0x20; // no "[", "]", spaces
  const clean = bare ? text : text.trim().replace(/^\[|\]$/g, "");
  const v4 = parseIpv4(clean);
  if (v4) return { version: 4, bytes: v4 };
  const v6 = clean.includes(":") ? parseIpv6(clean) : undefined;
  if (!v6) return undefined;
  const mapped = v6.subarray(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff;
  return mapped ? { version: 4, bytes: v6.slice(12) } : { version: 6, bytes: v6 };
}

function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = bytes[i] & (0xff << (8 - bits));
  }
  return out;
}

function formatIp(ip: ParsedIp): string {
  if (ip.version === 4) return [...ip.bytes].join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip.bytes[i] << 8) | ip.bytes[i + 1]).toString(16));
  return groups.join(":");
}

/** "192.0.2.77" /24 → "192.0.2.0/24"; the network as a stable key. */
export function ipPrefix(ip: ParsedIp, prefix: number): string {
  const bits = Math.min(prefix, ip.version === 4 ? 32 : 128);
  return `${formatIp({ version: ip.version, bytes: maskBytes(ip.bytes, bits) })}/${bits}`;
}

export interface Cidr {
  version: 4 | 6;
  network: Uint8Array;
  prefix: number;
}

export function parseCidr(text: string): Cidr | undefined {
  const [address, bits, extra] = text.split("/");
  if (extra !== undefined) return undefined;
  const ip = parseIp(address);
  if (!ip) return undefined;
  const max = ip.version === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d+$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return { version: ip.version, network: maskBytes(ip.bytes, prefix), prefix };
}

export function cidrContains(cidr: Cidr, ip: ParsedIp): boolean {
  if (cidr.version !== ip.version) return false;
  const masked = maskBytes(ip.bytes, cidr.prefix);
  return masked.every((byte, i) => byte === cidr.network[i]);
}
