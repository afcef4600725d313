// [daemon] max_keys for the memory store: when the counters are full, a new key takes the place of a key
// that may give way (store/eviction.ts), or shares OVERFLOW_KEY when none may. Each incident (keys giving
// way for a while) is logged when it starts and a minute after it ends, and counted in the metrics.
import type { Logger } from "../log.ts";
import type { Metrics } from "../control/metrics.ts";
import type { LimitConfig } from "../model/limit.ts";
import { capacity, currentLevel } from "../policy/rate.ts";
import { ALERT_NONE, type SenderCounter } from "../policy/sender-counter.ts";
import { chooseVictim, type EvictionCursor } from "../store/eviction.ts";

/** New keys share this one when every key that could give way is over its limit (max_keys reached). */
export const OVERFLOW_KEY = "<overflow>";
// An eviction incident is over, and logged as such, when a minute passes without one.
const INCIDENT_QUIET_MS = 60_000;

/** What max_keys needs of a limit's table. */
export interface RoomTable {
  limit: LimitConfig;
  counters: Map<string, SenderCounter>;
  cursor: EvictionCursor;
  incident?: { since: number; last: number; evicted: number; overflowed: number };
  /** A counter was dropped: the owner counts its stale wheel entry and invalidates held probes. */
  forgot(): void;
}

export interface KeyRoom {
  /**
   * Makes room for a new key of `table`: forgets a key of this limit that is under its limit and has not
   * alerted, the least recently seen of a few; else one of the largest limit's (this limit may hold
   * nothing yet). False when none may go: the new key is then counted under OVERFLOW_KEY.
   */
  makeRoom(table: RoomTable, at: number): boolean;
  /**
   * Forgets one key that may give way, of the largest limit that has one: max_keys was lowered below the
   * keys held. False when none may go.
   */
  shed(at: number): boolean;
  /** Logs the end of incidents quiet for a minute (called every tick). */
  endQuietIncidents(at: number): void;
}

export function createKeyRoom(
  tables: () => Iterable<RoomTable>,
  maxKeys: () => number,
  log: Logger,
  metrics: Metrics | undefined,
): KeyRoom {
  const noteIncident = (table: RoomTable, at: number, what: "evicted" | "overflowed") => {
    const rule = table.limit.name;
    const totals = what === "evicted" ? metrics?.keysEvicted : metrics?.keysOverflowed;
    totals?.set(rule, (totals.get(rule) ?? 0) + 1);
    if (!table.incident) {
      table.incident = { since: at, last: at, evicted: 0, overflowed: 0 };
      log.warn("counters", "max_keys reached: the least recently seen keys give way", {
        rule,
        max_keys: maxKeys(),
      });
    }
    table.incident.last = at;
    table.incident[what]++;
    if (what === "overflowed" && table.incident.overflowed === 1) {
      log.warn(
        "counters",
        `every key that could give way is over its limit: new keys count as ${OVERFLOW_KEY}`,
        {
          rule,
        },
      );
    }
  };

  /** Forgets a key of `from` that may give way; false when none of those looked at may. */
  const evictFrom = (from: RoomTable, at: number): boolean => {
    const limit = from.limit;
    const victim = chooseVictim(
      from.counters,
      from.cursor,
      (counter) => counter.alert === ALERT_NONE && currentLevel(counter, limit, at) < capacity(limit),
    );
    if (victim === undefined) return false;
    from.counters.delete(victim);
    from.forgot();
    noteIncident(from, at, "evicted");
    return true;
  };

  return {
    makeRoom(table, at) {
      let largest = table;
      for (const other of tables()) if (other.counters.size > largest.counters.size) largest = other;
      for (const from of largest === table ? [table] : [table, largest]) {
        if (evictFrom(from, at)) return true;
      }
      noteIncident(table, at, "overflowed");
      return false;
    },
    shed(at) {
      const bySize = [...tables()].sort((a, b) => b.counters.size - a.counters.size);
      return bySize.some((table) => table.counters.size > 0 && evictFrom(table, at));
    },
    endQuietIncidents(at) {
      for (const table of tables()) {
        if (!table.incident || at - table.incident.last < INCIDENT_QUIET_MS) continue;
        const { since, evicted, overflowed } = table.incident;
        table.incident = undefined;
        log.info("counters", "max_keys: no key had to give way for a minute", {
          rule: table.limit.name,
          evicted,
          overflowed,
          seconds: Math.round((at - since) / 1000),
        });
      }
    },
  };
}
