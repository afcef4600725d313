// Converters for [redis] values whose syntax is ours: where Redis listens (docs/redis.md).
import * as v from "valibot";
import { parsedBy } from "./limit-values.ts";

/** Where Redis listens, as ioredis takes it; credentials and database from the URL, if any. */
export interface RedisAddress {
  host?: string;
  port?: number;
  path?: string; // a Unix socket
  tls: boolean;
  username?: string;
  password?: string;
  database?: number;
}

const NOT_AN_ADDRESS = "expected redis://[USER:PASSWORD@]HOST[:PORT][/DB], rediss://… (TLS) or unix:/PATH";

/** "redis://127.0.0.1:6379/0", "rediss://user:secret@redis.example.org", "unix:/run/redis/redis.sock". */
export function parseRedisAddress(text: string): RedisAddress | string {
  const value = text.trim();
  if (value.startsWith("unix:") || value.startsWith("/")) {
    const path = value.replace(/^unix:(\/\/)?/, "");
    if (!path.startsWith("/") || /[\0\n]/.test(path)) return "unix: needs an absolute path";
    // As for a URL: `unix:/run/redis.sock?db=2` (other clients' form) was taken for a socket of that name.
    if (/[?#]/.test(path)) {
      return "a unix: path with ? or # (a query): give the database and password as their own keys";
    }
    return { path, tls: false };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return NOT_AN_ADDRESS;
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") return NOT_AN_ADDRESS;
  if (url.hostname === "") return "the URL names no host";
  // Dropped without a word, a query or fragment connected elsewise than written: `?password=…` (other
  // clients' form) without the password, `?db=3` to database 0, `redis://u:12?x@h` (a password's `?`
  // not escaped) to the host `u`.
  if (/[?#]/.test(value)) {
    return "a URL with ? or # (a query or fragment): give the password, user and database as their own keys, " +
      "or write ? as %3F and # as %23 in them";
  }
  const db = url.pathname.replace(/^\//, "");
  if (db !== "" && !(/^\d{1,5}$/.test(db) && Number(db) <= MAX_DATABASE)) {
    return `the database after the host must be a number from 0 to ${MAX_DATABASE}: redis://HOST/0`;
  }
  const port = url.port === "" ? 6379 : Number(url.port);
  if (port === 0) return "the port must be a number from 1 to 65535"; // URL refuses above 65535 itself
  // A redis: URL's host is not decoded by URL (not a special scheme, as http: is): `%2D` went to the
  // resolver as written, and `sameCounters` took `h%6Fst` and `host` for two servers.
  const host = decoded(url.hostname.replace(/^\[|\]$/g, ""));
  const username = decoded(url.username);
  const password = decoded(url.password);
  if (host === null || username === null || password === null) {
    return "the host, user or password has a % not followed by two hex digits (write % as %25)";
  }
  return {
    host,
    port,
    tls: url.protocol === "rediss:",
    username,
    password,
    database: db === "" ? undefined : Number(db),
  };
}

/** The `database` setting's bound, the URL's /DB as well. */
export const MAX_DATABASE = 10_000;

/** A URL's host, user or password, %-decoded; undefined when empty, null when an escape is broken. */
function decoded(text: string): string | undefined | null {
  if (text === "") return undefined;
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

export const redisAddress = v.pipe(v.string(), parsedBy(parseRedisAddress));

/** A key prefix: printable, no braces (the hash tag is the counter's: docs/redis.md). */
export const redisPrefix = v.pipe(
  v.string(),
  v.regex(/^[!-z|~]{0,64}$/, "at most 64 printable characters, without spaces, { or }"),
);
