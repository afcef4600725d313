// The runtimes' timers (setTimeout, setInterval, xstate's `after`) take a delay of at most 2^31-1 ms
// (24.8 days); a longer one is replaced by 1 ms (Bun, Deno and Node alike), so a timer meant for "in a
// month" fires at once, and an interval fires every millisecond. The config refuses such durations
// (config/schema.ts); this keeps a delay computed from them (a doubling retry, say) in range anyway.
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** `ms` made a delay every timer honours: a whole number in [1, 2^31-1]; NaN becomes the maximum. */
export function timerDelay(ms: number): number {
  if (!(ms >= 1)) return Number.isNaN(ms) ? MAX_TIMER_DELAY_MS : 1;
  return Math.min(Math.round(ms), MAX_TIMER_DELAY_MS);
}
