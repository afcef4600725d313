// What every policy listener does about too many connections and about bad input arriving in a flood: a
// bound on unanswered connections kept below the process's file limit, and warnings logged at most once
// per WARN_EVERY_MS with the number since the last.
import { setTimeout } from "node:timers";
import type { Logger } from "../log.ts";
import { type DescriptorPlan, descriptorPlan } from "./descriptor-plan.ts";
import { openFileLimit } from "./open-file-limit.ts";
import type { ConnectionBudget, UnansweredCount } from "./request-server.ts";

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

let processPlan: DescriptorPlan | undefined;
let processBudget: ConnectionBudget | undefined;

/**
 * How this process shares its file limit (descriptor-plan.ts), made once: by the daemon at start with
 * [spamassassin] max_in_flight (`spamdConnections`), else by the first listener or resolver with none.
 */
export function processDescriptorPlan(spamdConnections = 0): DescriptorPlan {
  return processPlan ??= descriptorPlan(openFileLimit(), spamdConnections);
}

/**
 * The sockets all the listeners of the process (policy, Postfix, spamd front, control) may hold together:
 * the plan's listenerSockets. At the limit the runtime's accept loop spins (Bun) or stops for good
 * (Deno): docs/decisions.md, "Measured on the request path".
 */
export function connectionBudget(): ConnectionBudget {
  return processBudget ??= { held: 0, max: processDescriptorPlan().listenerSockets };
}

/** What a request server is given of its listener's bound (request-server.ts, RequestServerOptions). */
export interface ConnectionBound {
  maxConnections: number;
  /**
   * The connections the listener's servers hold unanswered together, when maxConnections bounds them all
   * (the spamd front: each holds a message). Absent: each server counts its own, so that a flood of the
   * policy socket, open to local users, leaves Exim's TCP address answering.
   */
  unanswered?: UnansweredCount;
  budget: ConnectionBudget;
  onBusy(): void;
}

/**
 * A listener may hold `wanted` connections unanswered on each of its servers (max_connections, 16 or more
 * by the schema; the control listeners' own 64), at most the process's budget, all listeners together the
 * budget (connectionBudget, at least 64); onBusy logs refusals under `source`, at most once per interval.
 */
export function connectionBound(log: Logger, source: string, wanted: number): ConnectionBound {
  const budget = connectionBudget();
  const maxConnections = Math.min(wanted, budget.max);
  const warn = rateLimitedWarning(
    log,
    source,
    "too many connections: refusing new ones",
    "refused",
  );
  return { maxConnections, budget, onBusy: () => warn({ max_connections: maxConnections }) };
}
