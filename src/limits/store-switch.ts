// The store the counting engine holds: the memory store, or the shared store once [redis] is configured
// (limits/shared-store.ts); a reload that adds or removes [redis] switches it under the engine, which keeps
// its one reference. One more call per check and commit (docs/decisions.md, "Redis: a store that switches").
import type { CounterStore } from "./counter-store.ts";

export interface StoreSwitch extends CounterStore {
  current: CounterStore;
}

export function createStoreSwitch(first: CounterStore): StoreSwitch {
  const to: StoreSwitch = {
    current: first,
    configure: (limits, maxKeys) => to.current.configure(limits, maxKeys),
    check: (batch, done) => to.current.check(batch, done),
    commit: (batch, at, done) => to.current.commit(batch, at, done),
    recordSubject: (limit, key, subject) => to.current.recordSubject(limit, key, subject),
    alertSettled: (limit, key, firstSeen) => to.current.alertSettled(limit, key, firstSeen),
    expire: (at) => to.current.expire(at),
    top: (count, rule, reply) => to.current.top(count, rule, reply),
    show: (key, reply) => to.current.show(key, reply),
    reset: (key, reply) => to.current.reset(key, reply),
  };
  return to;
}
