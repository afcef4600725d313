// What every policy listener does about too many connections and about bad input arriving in a flood: a
// bound on unanswered connections kept below the process's file limit, and warnings logged at most once
// per WARN_EVERY_MS with the number since the last.
import type { Config } from "../config/types.ts";
import type { Logger } from "../log.ts";
import { openFileLimit } from "./open-file-limit.ts";

const WARN_EVERY_MS = 10_000;

/** A warning logged at most once per WARN_EVERY_MS, with how many times it happened (`countField`). */
export function rateLimitedWarning(
  log: Logger,
  source: string,
  message: string,
  countField = "count",
): (fields?: Record<string, string | number>) => void {
  let count = 0;
  let logged = -Infinity;
  return (fields) => {
    count++;
    const at = performance.now();
    if (at - logged < WARN_EVERY_MS) return;
    logged = at;
    log.warn(source, message, { ...fields, [countField]: count });
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
    "too many connections: refusing new ones (error busy)",
    "refused",
  );
  return { maxConnections, onBusy: () => warn({ max_connections: maxConnections }) };
}
