// Converters from INI text to typed values, as valibot schemas so each failure carries a readable message.
import * as v from "valibot";
import { durationText, formatDuration, parseDuration } from "../model/duration.ts";
import { parseIp } from "../model/ip.ts";

const NOT_A_DURATION = "expected a duration such as 300, 30s, 5m, 1h or 1d";

// Every duration has a maximum: the runtimes' timers take a delay of at most 2^31-1 ms (24.8 days) and
// fire at once for anything longer, so `state_interval = 25d` saved state every millisecond.
const atMost = (maxMs: number) => `must be at most ${formatDuration(maxMs)}`;

/** A duration in [minMs, maxMs] (see docs/configuration.md for each key's range). */
export const duration = (minMs: number, maxMs: number) =>
  v.pipe(
    v.string(),
    v.transform(parseDuration),
    v.number(NOT_A_DURATION),
    v.minValue(minMs, `must be at least ${minMs} ms`),
    v.maxValue(maxMs, atMost(maxMs)),
  );

/** A limit's window: its length, and its text as written (see durationText). */
export interface Window {
  ms: number;
  text: string;
}

export const window = (minMs: number, maxMs: number) =>
  v.pipe(
    v.string(),
    v.check((value) => parseDuration(value) !== undefined, NOT_A_DURATION),
    v.check((value) => parseDuration(value)! >= minMs, `must be at least ${minMs} ms`),
    v.check((value) => parseDuration(value)! <= maxMs, atMost(maxMs)),
    v.transform((value): Window => ({ ms: parseDuration(value)!, text: durationText(value)! })),
  );

const SIZE_UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
const NOT_A_SIZE = "expected a size such as 512000, 500k or 10M";

/** "512000", "500k", "10M", "1g" (k, m, g are powers of 1024, as spamc's -s; a final b is allowed). */
export function parseByteSize(text: string): number | undefined {
  const match = /^(\d{1,15})\s*([kmg]?)b?$/i.exec(text.trim());
  return match === null ? undefined : Number(match[1]) * SIZE_UNITS[match[2].toLowerCase()];
}

/** A size in bytes within [min, max]: every size key ([content], [spamassassin], [spamd]) reads this. */
export const byteSize = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.transform(parseByteSize),
    v.number(NOT_A_SIZE),
    v.minValue(min, `must be at least ${min} bytes`),
    v.maxValue(max, `must be at most ${max} bytes`),
  );

/**
 * A spam score: a content rule's, a threshold of the spamd front's. Two decimals at most, as the front
 * reports scores; within ±1000 (GTUBE scores 1000).
 */
export const score = v.pipe(
  v.string(),
  v.trim(),
  v.regex(/^-?\d{1,4}(\.\d{1,2})?$/, "expected a score such as 5, 5.0, -1.5 or 12.25 (at most two decimals)"),
  v.transform(Number),
  v.minValue(-1000, "must be at least -1000"),
  v.maxValue(1000, "must be at most 1000"),
);

export const integer = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.regex(/^\d+$/, "expected a whole number"),
    v.transform(Number),
    v.number(),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  );

export const text = v.pipe(v.string(), v.minLength(1, "must not be empty"));

export const absoluteOrRelativePath = v.pipe(
  v.string(),
  v.minLength(1, "must not be empty"),
  v.regex(/^[^\0\n]+$/, "must be a path"),
);

const HOST_LABEL = "[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?";
const HOST_NAME = new RegExp(`^(?=.{1,253}$)${HOST_LABEL}(?:\\.${HOST_LABEL})*\\.?$`, "i");

/**
 * Why `value` is no host to connect to (a name or an IP address), or undefined. Written as Postfix's
 * relayhost is (`[smtp.example.net]:587`), or with its port, it was taken as a name to look up: every alert
 * failed with ENOTFOUND, retried for a day, while config-test had said OK.
 */
export function relayHostProblem(value: string, portKey: string): string | undefined {
  if (parseIp(value) !== undefined && !value.startsWith("[")) return undefined;
  const withPort = /^\[?([^\]]*?)\]?:(\d+)$/.exec(value);
  if (withPort && (parseIp(withPort[1]) !== undefined || HOST_NAME.test(withPort[1]))) {
    return `the port goes in ${portKey}: write ${withPort[1]} here and ${portKey} = ${withPort[2]}`;
  }
  const bracketed = /^\[(.*)\]$/.exec(value);
  if (bracketed) return `write the host without brackets: ${bracketed[1]} (no MX lookup is made either way)`;
  if (value.includes("://")) return "a host name or IP address, not a URL";
  return HOST_NAME.test(value) ? undefined : "expected a host name or IP address, such as smtp.example.net";
}

/** A host to connect to; `portKey` names the key that holds its port (see relayHostProblem). */
export const relayHost = (portKey: string) =>
  v.pipe(
    v.string(),
    v.rawCheck(({ dataset, addIssue }) => {
      const problem = dataset.typed ? relayHostProblem(dataset.value, portKey) : undefined;
      if (problem !== undefined) addIssue({ message: problem });
    }),
  );

const ADDRESS = /^[^\s@<>,;"]+@[^\s@<>,;"]+$/;

export const address = v.pipe(v.string(), v.trim(), v.regex(ADDRESS, "expected an e-mail address"));

/** "a@x, b@y" → ["a@x", "b@y"]; empty string → []. */
export const addressList = v.pipe(
  v.string(),
  v.transform((value) => value.split(/[,\s]+/).filter((part) => part !== "")),
  v.array(v.pipe(v.string(), v.regex(ADDRESS, "expected comma-separated e-mail addresses"))),
);

export const oneOf = <T extends string>(choices: readonly T[]) =>
  v.pipe(
    v.string(),
    v.transform((value) => value.toLowerCase()),
    v.picklist(choices, `expected one of: ${choices.join(", ")}`),
  );

/** One of Postfix's action words, in any case and spacing: "dunno", "451  4.7.1". */
export const oneOfUpperCase = <T extends string>(choices: readonly T[]) =>
  v.pipe(
    v.string(),
    v.transform((value) => value.trim().replace(/\s+/g, " ").toUpperCase()),
    v.picklist(choices, `expected one of: ${choices.join(", ")}`),
  );

export const octalMode = v.pipe(
  v.string(),
  v.regex(/^0?[0-7]{3}$/, "expected an octal mode such as 0660"),
  v.transform((value) => parseInt(value, 8)),
);

export const yesNo = v.pipe(
  v.string(),
  v.transform((value) => value.toLowerCase()),
  v.picklist(["yes", "no", "true", "false", "on", "off", "1", "0"], "expected yes or no"),
  v.transform((value) => ["yes", "true", "on", "1"].includes(value)),
);

/** A group from /etc/group, for a socket's owner group. */
export const unixGroup = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, "expected a group name"),
);

// `localhost` is read as 127.0.0.1, with a warning (config/load.ts): which address the name gives depends on
// /etc/hosts, on the runtime and on the client. With Debian's /etc/hosts (127.0.0.1 and ::1 localhost) Bun's
// listener bound [::1] only and Deno's 127.0.0.1 only, while an Exim with disable_ipv6 = true or a Postfix
// with inet_protocols = ipv4 asks 127.0.0.1 alone: every request then went the fail-open way, with nothing to
// say why (measured, docs/configuration.md). Every client that asks `localhost` tries 127.0.0.1 (Debian's
// /etc/hosts always names it); refusing the name would instead keep an upgraded daemon from starting.
const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]):\d{1,5}$/;
const LOCALHOST = /^localhost:\d{1,5}$/i;

/** A listen address written as `localhost:PORT`, which the daemon binds on 127.0.0.1 (warned about). */
export function isLocalhostAddress(value: string): boolean {
  return LOCALHOST.test(value);
}

export const LOCALHOST_WARNING =
  "localhost is read as 127.0.0.1 (by /etc/hosts, the runtime and the MTA it " +
  "may name ::1 on one side and 127.0.0.1 on the other): write 127.0.0.1:PORT, and ask there";

export interface ListenAddress {
  hostname: string;
  port: number;
}

function splitHostPort(value: string): ListenAddress {
  const colon = value.lastIndexOf(":");
  const port = Number(value.slice(colon + 1));
  if (LOCALHOST.test(value)) return { hostname: "127.0.0.1", port };
  return { hostname: value.slice(0, colon).replace(/^\[|\]$/g, ""), port };
}

/**
 * "127.0.0.1:8025" or "[::1]:8025", loopback only: control_listen, and the --listen of the snippet commands
 * (so the message names no one port).
 */
export const loopbackAddress = v.pipe(
  v.string(),
  v.check(
    (value) => LOOPBACK.test(value) || LOCALHOST.test(value),
    "expected a loopback HOST:PORT such as 127.0.0.1:PORT or [::1]:PORT",
  ),
  v.transform(splitHostPort),
  v.check((address) => address.port > 0 && address.port < 65536, "port must be 1-65535"),
);

/**
 * The policy listener's TCP address: a loopback HOST:PORT, port 0 for any free port (the daemon logs the
 * one it got; tests use it), or "none" for no TCP listener.
 */
export const optionalLoopbackAddress = v.pipe(
  v.string(),
  v.check(
    (value) => value === "none" || LOOPBACK.test(value) || LOCALHOST.test(value),
    'expected a loopback HOST:PORT such as 127.0.0.1:10037, or "none"',
  ),
  v.transform((value) => value === "none" ? undefined : splitHostPort(value)),
  v.check((address) => address === undefined || address.port < 65536, "port must be 0-65535"),
);
