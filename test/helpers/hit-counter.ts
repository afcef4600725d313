import type { HitCounter } from "../../src/limits/redis-hit-args.ts";
import type { LimitConfig } from "../../src/model/limit.ts";

/** A counter of a hit request: cost 1, no instance, nothing carried, leaky, refusing, alerting. */
export function hitCounter(limit: LimitConfig, overrides: Partial<HitCounter> = {}): HitCounter {
  return {
    limit,
    cost: 1,
    instance: undefined,
    carry: 0,
    carryInstance: "",
    strict: false,
    refuses: true,
    alerts: true,
    ...overrides,
  };
}
