// A probe as the Redis store hands it to its cache of keys over a limit (limits/over-cache.ts): Redis found
// it over, at `level` with `charge` added.
import { newProbe, type Probe } from "../../src/limits/counter-store.ts";
import type { LimitConfig } from "../../src/model/limit.ts";

export function overProbe(
  limit: LimitConfig,
  key: string,
  over = { level: 3, charge: 1 },
  instance?: string,
): Probe {
  return Object.assign(newProbe(limit, key), { cost: 1, instance, ...over, over: true });
}
