// Converters from INI text to typed values, as valibot schemas so each failure carries a readable message.
import * as v from "valibot";

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "300" (seconds, as the seed writes it), "500ms", "30s", "5m", "1h", "1d" → milliseconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(text.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * UNITS_MS[(match[2] ?? "s").toLowerCase()];
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

export const duration = (minMs: number) =>
  v.pipe(
    v.string(),
    v.transform(parseDuration),
    v.number("expected a duration such as 300, 30s, 5m, 1h or 1d"),
    v.minValue(minMs, `must be at least ${minMs} ms`),
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

/** A name usable bare in replies (`rule=NAME`) and in section headers. */
export const limitName = v.pipe(v.string(), v.regex(/^[a-z0-9_.-]+$/, "limit names use a-z, 0-9, _ . -"));

/** "127.0.0.1:8025" or "[::1]:8025": the control plane's optional TCP listener, loopback only. */
export const loopbackAddress = v.pipe(
  v.string(),
  v.regex(
    /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]):\d{1,5}$/,
    "expected a loopback HOST:PORT such as 127.0.0.1:8025",
  ),
  v.transform((value) => {
    const colon = value.lastIndexOf(":");
    return { hostname: value.slice(0, colon).replace(/^\[|\]$/g, ""), port: Number(value.slice(colon + 1)) };
  }),
  v.check((address) => address.port > 0 && address.port < 65536, "port must be 1-65535"),
);
