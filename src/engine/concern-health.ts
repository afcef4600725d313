// Whether each concern answers: an incident starts with its first failure and ends with its next answer.
// The log gets one line for each (never one per request, which at thousands of requests a second would
// bury everything else); status, /health and /metrics read the book.
import type { Logger } from "../log.ts";
import type { ConcernFailure } from "./concern.ts";

export interface ConcernHealth {
  state: "ok" | "failing";
  /** ms since epoch: when the current incident began. */
  since?: number;
  /** What failed first in the current incident. */
  reason?: ConcernFailure;
  /** Requests the concern answered itself, and those it failed, by how, since the daemon started. */
  answered: number;
  failures: Record<ConcernFailure, number>;
  /** Requests answered with the failure verdict in the current incident. */
  failedInIncident: number;
}

export interface HealthBook {
  answered(concern: string): void;
  failed(concern: string, failure: ConcernFailure, failMode: "open" | "closed"): void;
  snapshot(): Record<string, ConcernHealth>;
}

export function createHealthBook(concerns: readonly string[], log: Logger, now = Date.now): HealthBook {
  const book = new Map<string, ConcernHealth>();
  for (const id of concerns) {
    book.set(id, {
      state: "ok",
      answered: 0,
      failures: { down: 0, timeout: 0, error: 0 },
      failedInIncident: 0,
    });
  }
  return {
    answered(concern) {
      const health = book.get(concern)!;
      health.answered++;
      if (health.state === "ok") return;
      log.info("engine", `concern ${concern} answers again`, {
        concern,
        failed_requests: health.failedInIncident,
        seconds: Math.round((now() - health.since!) / 1000),
      });
      health.state = "ok";
      health.since = undefined;
      health.reason = undefined;
      health.failedInIncident = 0;
    },
    failed(concern, failure, failMode) {
      const health = book.get(concern)!;
      health.failures[failure]++;
      health.failedInIncident++;
      if (health.state === "failing") return;
      health.state = "failing";
      health.since = now();
      health.reason = failure;
      log.warn(
        "engine",
        `concern ${concern} ${describe(failure)}: answering fail-${failMode} until it answers`,
        {
          concern,
          reason: failure,
        },
      );
    },
    snapshot() {
      return Object.fromEntries([...book].map(([id, health]) => [id, structuredClone(health)]));
    },
  };
}

function describe(failure: ConcernFailure): string {
  switch (failure) {
    case "down":
      return "is down";
    case "timeout":
      return "did not answer in time";
    case "error":
      return "failed on a request";
  }
}
