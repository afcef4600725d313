// A memory store as the tests use it without a daemon: no journal, no metrics, nothing logged, and a
// failure between turns of the event loop thrown where the test sees it.
import { createLogger } from "../../src/log.ts";
import { createMemoryStore, type MemoryStore } from "../../src/limits/memory-store.ts";

export function bareMemoryStore(now: () => number): MemoryStore {
  return createMemoryStore({
    now,
    log: createLogger("error", () => {}),
    touched: () => {},
    changed: () => {},
    fail: (error) => {
      throw error;
    },
  });
}
