// Whether each concern answers: an incident starts with its first failure and ends with its next answer.
// The log gets one line for each (never one per request, which at thousands of requests a second would
// bury everything else); status, /health and /metrics read the book. A concern that answers every request
// with its own failure result because what it asks does not answer (SPF's temperror while DNS is down) is
// failing too: it says so itself (its impairment, logged by it), and the snapshot adds that.
import type { Logger } from "../log.ts";
import type { ConcernFailure, ConcernImpairment } from "./concern.ts";

export interface ConcernHealth {
  /** failing: its failure answer stands in (`reason`), or what it asks does not answer (`impaired`), or both. */
  state: "ok" | "failing";
  /** ms since epoch: when the current incident of failure answers began. */
  since?: number;
  /** What failed first in the current incident of failure answers. */
  reason?: ConcernFailure;
  /** What the concern asks that does not answer, while the concern answers with its own failure result. */
  impaired?: ConcernImpairment;
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

/** A concern's impairment now (Concern.impairment), by its id. */
export type ImpairmentOf = (concern: string) => ConcernImpairment | undefined;

export function createHealthBook(
  concerns: readonly string[],
  log: Logger,
  now = Date.now,
  impairmentOf: ImpairmentOf = () => undefined,
): HealthBook {
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
      return Object.fromEntries([...book].map(([id, health]) => {
        const copy = structuredClone(health);
        const impaired = impairmentOf(id);
        if (impaired !== undefined) Object.assign(copy, { state: "failing", impaired });
        return [id, copy];
      }));
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
