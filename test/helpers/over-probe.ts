// A probe as the Redis store hands it to its cache of keys over a limit (limits/over-cache.ts): Redis found
// it over, at `level` with `charge` added.
import type { Probe } from "../../src/limits/counter-store.ts";
import type { LimitConfig } from "../../src/model/limit.ts";

export function overProbe(
  limit: LimitConfig,
  key: string,
  over = { level: 3, charge: 1 },
  instance?: string,
): Probe {
  return {
    limit,
    key,
    cost: 1,
    instance,
    charge: over.charge,
    level: over.level,
    over: true,
    isNew: false,
    counted: false,
    crossed: false,
    count: 0,
    counter: undefined,
    ref: undefined,
    mark: 0,
  };
}
