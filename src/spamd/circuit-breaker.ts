// A circuit breaker for a service that may go down (spamd): after `failures` failures in a row it opens
// and refuses every ask at once, so a dead or hung service costs nothing per message; after `resetMs` it
// lets exactly one probe through (half-open); the probe's success closes it, its failure opens it again
// for another `resetMs`. Pure: the clock is injected and the caller reports each outcome.

export type BreakerState = "closed" | "open" | "half-open";

export interface BreakerSettings {
  failures: number;
  resetMs: number;
}

export interface CircuitBreaker {
  /**
   * May an ask go through now? "open" refuses it. In half-open only the first ask is let through (the
   * probe); the others are refused until its outcome is reported.
   */
  admit(): boolean;
  /** An ask that went through got its answer. */
  succeeded(): void;
  /** An ask that went through failed (refused, timed out, answered garbage). */
  failed(): void;
  /** The state now (an open breaker whose reset time passed reads half-open). */
  state(): BreakerState;
}

export function createCircuitBreaker(
  settings: () => BreakerSettings,
  clock: () => number,
  changed: (state: BreakerState) => void = () => {},
): CircuitBreaker {
  let state: BreakerState = "closed";
  let failuresInARow = 0;
  let openedAt = 0;
  let probing = false;

  const enter = (next: BreakerState) => {
    if (next === state) return;
    state = next;
    changed(next);
  };
  const open = () => {
    openedAt = clock();
    probing = false;
    enter("open");
  };
  const current = (): BreakerState => {
    if (state === "open" && clock() - openedAt >= settings().resetMs) enter("half-open");
    return state;
  };

  return {
    admit() {
      const now = current();
      if (now === "closed") return true;
      if (now === "open" || probing) return false;
      probing = true;
      return true;
    },
    succeeded() {
      failuresInARow = 0;
      // A late answer to an ask made before the breaker opened does not close it: only a probe, made
      // after the reset time, says the service is back.
      if (state === "half-open") {
        probing = false;
        enter("closed");
      }
    },
    failed() {
      if (state === "open") return; // asks made before it opened, failing late: it is open already
      if (state === "half-open") return open();
      if (++failuresInARow >= settings().failures) open();
    },
    state: current,
  };
}
