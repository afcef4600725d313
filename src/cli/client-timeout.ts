// The client commands' --timeout: how long status, top, show, reset, reload and check wait for the
// daemon's answer before they exit 2 as if it were down. A monitoring script wants less than the default;
// its range and default are the schema's.
import * as v from "valibot";
import { CLIENT_COMMAND_OPTIONS } from "../config/schema.ts";

const TIMEOUT = CLIENT_COMMAND_OPTIONS.timeout;

/** The timeout without --timeout. */
export const DEFAULT_CLIENT_TIMEOUT_MS = v.parse(TIMEOUT.schema, TIMEOUT.default);

/**
 * `--timeout DURATION` in milliseconds ("2s", "500ms", "1" for a second), the default without one, or
 * why it is not one.
 */
export function clientTimeoutMs(text: string | undefined): number | { problem: string } {
  if (text === undefined) return DEFAULT_CLIENT_TIMEOUT_MS;
  const parsed = v.safeParse(TIMEOUT.schema, text);
  return parsed.success ? parsed.output : { problem: `--timeout ${text}: ${parsed.issues[0].message}` };
}
