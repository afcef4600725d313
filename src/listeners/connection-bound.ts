// What every policy listener does about too many connections and about bad input arriving in a flood: a
// bound on unanswered connections kept below the process's file limit, and warnings logged at most once
// per WARN_EVERY_MS with the number since the last.
import { setTimeout } from "node:timers";
import type { Config } from "../config/types.ts";
import type { Logger } from "../log.ts";
import { openFileLimit } from "./open-file-limit.ts";

const WARN_EVERY_MS = 10_000;

/**
 * A warning logged at most once per `everyMs` (WARN_EVERY_MS), with how many times it happened since the last line
 * (`countField`, this one included). Those held back are logged when the period ends, with the fields of
 * the latest: a burst ends with a line, not silence.
 */
export function rateLimitedWarning(
  log: Logger,
  source: string,
  message: string,
  countField = "count",
  everyMs = WARN_EVERY_MS,
): (fields?: Record<string, string | number>) => void {
  let count = 0;
  let logged = -Infinity;
  let latest: Record<string, string | number> | undefined;
  let pending: ReturnType<typeof setTimeout> | undefined;
  const write = (fields: Record<string, string | number> | undefined) => {
    logged = performance.now();
    log.warn(source, message, { ...fields, [countField]: count });
    count = 0;
  };
  const writeHeldBack = () => {
    pending = undefined;
    if (count > 0) write(latest);
  };
  return (fields) => {
    count++;
    const at = performance.now();
    if (at - logged >= everyMs) return write(fields);
    latest = fields;
    if (pending !== undefined) return;
    // Unref'd: a line held back must not keep a stopping process (or a test) alive.
    pending = setTimeout(writeHeldBack, everyMs - (at - logged)).unref();
  };
}

/**
 * Each listener may hold max_connections unanswered, kept well below the process's file limit (at it, the
 * runtime's accept loop spins: docs/decisions.md, "Measured on the request path"); onBusy logs refusals.
 */
export function listenerConnectionBound(
  config: Config,
  log: Logger,
  source: string,
): { maxConnections: number; onBusy(): void } {
  const maxConnections = Math.max(
    16,
    Math.min(config.daemon.maxConnections, Math.floor((openFileLimit() - 64) / 2)),
  );
  const warn = rateLimitedWarning(
    log,
    source,
    "too many connections: refusing new ones",
    "refused",
  );
  return { maxConnections, onBusy: () => warn({ max_connections: maxConnections }) };
}
