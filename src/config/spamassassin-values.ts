// Converters for [spamassassin] values whose syntax is ours: where spamd listens, byte sizes, the user.
import * as v from "valibot";
import { isSpamdUserName } from "../protocols/spamd-client.ts";
import { parsedBy } from "./limit-values.ts";

/** Where spamd listens: TCP (as spamd's --listen, port 783 when left out) or a Unix socket path. */
export type SpamdAddress = { host: string; port: number } | { path: string };

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*)(?::(\d{1,5}))?$/;

/** "127.0.0.1:783", "spamd.example.org", "[::1]:783", or a path with a "/": "/run/spamd.sock". */
export function parseSpamdAddress(text: string): SpamdAddress | string {
  const value = text.trim();
  if (value.includes("/")) return /^[^\0\n]+$/.test(value) ? { path: value } : "must be a path";
  const match = HOST_PORT.exec(value);
  if (match === null) return "expected HOST:PORT (127.0.0.1:783) or the path of spamd's Unix socket";
  const port = match[2] === undefined ? 783 : Number(match[2]);
  if (port < 1 || port > 65535) return "port must be 1-65535";
  return { host: match[1].replace(/^\[|\]$/g, ""), port };
}

export const spamdAddress = v.pipe(v.string(), parsedBy(parseSpamdAddress));

/** The `User:` spamd scans as: empty, or a name spamd reads as one (isSpamdUserName). */
export const spamdUser = v.pipe(
  v.string(),
  v.trim(),
  v.check(
    (user) => user === "" || isSpamdUserName(user),
    "expected a user name (A-Z a-z 0-9 _ . @ + -) or nothing",
  ),
);
