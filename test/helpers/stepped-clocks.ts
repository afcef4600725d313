// The process's two clocks moved for the length of one synchronous call: the wall clock (Date.now), as NTP
// or an administrator steps it, and the monotonic one (performance.now), as time passes. Synchronous so
// that no other test's code runs while they are moved.

export interface ClockSteps {
  /** Added to Date.now(), ms: negative for a wall clock stepped back. */
  wallMs: number;
  /** Added to performance.now(), ms: the time that really passed. */
  elapsedMs: number;
}

export function withClocksStepped<T>(steps: ClockSteps, call: () => T): T {
  const realNow = Date.now;
  const realPerformanceNow = performance.now;
  const ownPerformanceNow = Object.hasOwn(performance, "now");
  Date.now = () => realNow() + steps.wallMs;
  performance.now = () => realPerformanceNow.call(performance) + steps.elapsedMs;
  try {
    return call();
  } finally {
    Date.now = realNow;
    if (ownPerformanceNow) performance.now = realPerformanceNow;
    else delete (performance as { now?: unknown }).now;
  }
}
