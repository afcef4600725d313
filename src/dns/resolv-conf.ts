// The name servers a resolver asks: `host:port` strings from the config (`dns_servers`), or the
// `nameserver` lines of /etc/resolv.conf (resolv.conf(5)). Pure parsers; the one read of the file is
// `systemServers`, so tests feed text.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { Server } from "./types.ts";

export interface ResolvConf {
  /** In file order; at most 3 are read, as glibc does (MAXNS). */
  nameservers: Server[];
  /** `options timeout:N` (seconds in the file), in ms; absent when not set. */
  timeoutMs?: number;
  /** `options attempts:N`; absent when not set. */
  attempts?: number;
}

const MAXNS = 3;

/**
 * Parses resolv.conf text. Comments start with `#` or `;` (at the start of a line, or after the value as
 * glibc accepts); lines it does not know are skipped, as the C library skips them. A `nameserver` with an
 * IPv6 scope (`fe80::1%eth0`) is skipped: node:dgram cannot send to it portably.
 */
export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [] };
  for (const raw of text.split("\n")) {
    const words = raw.replace(/[#;].*$/, "").trim().split(/\s+/);
    if (words[0] === "nameserver" && isAddress(words[1])) {
      if (conf.nameservers.length < MAXNS) conf.nameservers.push({ host: words[1], port: 53 });
    } else if (words[0] === "options") {
      for (const option of words.slice(1)) readOption(conf, option);
    }
  }
  return conf;
}

/** An IP address without an IPv6 zone (`%eth0`), which some runtimes' isIP accepts. */
const isAddress = (text: string | undefined) => !!text && !text.includes("%") && isIP(text) !== 0;

function readOption(conf: ResolvConf, option: string): void {
  const match = /^(timeout|attempts):(\d{1,3})$/.exec(option);
  if (!match) return;
  const value = Number(match[2]);
  // glibc caps timeout at 30 s and attempts at 5; a 0 means "the default" to us rather than "never wait".
  if (match[1] === "timeout" && value > 0) conf.timeoutMs = Math.min(value, 30) * 1000;
  if (match[1] === "attempts" && value > 0) conf.attempts = Math.min(value, 5);
}

/**
 * A server from config text: `192.0.2.53`, `192.0.2.53:5353`, `::1`, `[::1]:5353`. Throws a TypeError
 * naming the text when it is none of these (the config check reports it).
 */
export function parseServer(text: string): Server {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  const [host, port] = bracketed
    ? [bracketed[1], bracketed[2]]
    : isIP(text) === 6
    ? [text, undefined]
    : text.split(/:(?=\d{1,5}$)/);
  const portNumber = port === undefined ? 53 : Number(port);
  if (!isAddress(host) || !(portNumber >= 1 && portNumber <= 65535)) {
    throw new TypeError(`not a name server address (IP or IP:port): ${JSON.stringify(text)}`);
  }
  return { host, port: portNumber };
}

/** `host:port`, IPv6 in brackets: for logs and stats. */
export function formatServer(server: Server): string {
  return isIP(server.host) === 6 ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

/**
 * The system's resolver settings. With no readable file or no nameserver line, 127.0.0.1:53: the C
 * library's fallback, "the name server on the local machine" (resolv.conf(5)).
 */
export function systemServers(path = "/etc/resolv.conf"): ResolvConf {
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch {
    // no file: the C library's default below
  }
  const conf = parseResolvConf(text);
  if (conf.nameservers.length === 0) {
    conf.nameservers = [{ host: "127.0.0.1", port: 53 }];
  }
  return conf;
}
