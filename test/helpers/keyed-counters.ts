// A fake counters actor that answers `sender` and `reset` from a table of keys, one counter of rule
// `r<i>` for the i-th key: a request that reaches another key than it names shows as another rule, or as
// another key reset.
import type { ControlDeps } from "../../src/control/app.ts";
import type { SenderDetail, SenderRow } from "../../src/policy/sender-report.ts";

export interface KeyedCounters {
  askCounters: ControlDeps["askCounters"];
  /** The keys still counted, in the order given. */
  keys(): string[];
  /** The one counter of `key`, as `sender` answers it. */
  detail(key: string): SenderDetail;
}

/** A row as /senders answers it: `count` against a limit of 2 per hour, the window and last hit at `at`. */
export const fakeRow = (
  key: string,
  rule: string,
  count: number,
  at = Date.UTC(2026, 0, 1, 10),
): SenderRow => ({
  rule,
  key,
  count,
  limit: 2,
  window: "1h",
  windowSeconds: 3600,
  algorithm: "fixed",
  action: "defer",
  windowStart: new Date(at).toISOString(),
  lastSeen: new Date(at).toISOString(),
  over: count > 2,
  atLimit: count >= 2,
  alert: "none",
});

export function keyedCounters(keys: string[]): KeyedCounters {
  const table = new Map(keys.map((key, i): [string, SenderDetail] => [key, {
    ...fakeRow(key, `r${i}`, i + 1),
    subjects: [],
    clientIps: [],
  }]));
  const ask = (event: { type: string; key?: string }): unknown => {
    const counter = table.get(event.key ?? "");
    if (event.type === "sender") return counter ? [counter] : [];
    if (event.type === "reset") return table.delete(event.key ?? "") ? 1 : 0;
    return undefined;
  };
  return {
    askCounters:
      ((event: { type: string; key?: string }) => Promise.resolve(ask(event))) as ControlDeps["askCounters"],
    keys: () => [...table.keys()],
    detail: (key) => table.get(key)!,
  };
}
