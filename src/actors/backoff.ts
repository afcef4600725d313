// The one retry backoff: the alerter waits before retrying a failed alert mail (retry_min doubling up to
// retry_max), the supervisor before restarting a failed actor (100 ms doubling up to 30 s).
import { timerDelay } from "./timer-delay.ts";

/**
 * The delay after `failures` failures in a row: `minMs` after the first, doubling with each further one,
 * at most `maxMs`; always a delay every timer honours (timerDelay), whatever the bounds.
 */
export function backoffDelay(failures: number, minMs: number, maxMs: number): number {
  return timerDelay(Math.min(maxMs, minMs * 2 ** Math.max(0, failures - 1)));
}
