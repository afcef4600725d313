// The counters actor's outbox: alert notices not yet delivered (or parked) by the alerter. They are kept
// in the state file and the journal, offered to the alerter again when it restarts, and bounded.
import type { Logger } from "../log.ts";
import type { Metrics } from "../control/metrics.ts";
import type { AlertNotice } from "../policy/alert-notice.ts";
import type { Journal } from "../store/state-journal.ts";
import { outboxEntryProblem } from "../store/outbox-entry.ts";

export interface AlertOutboxOptions {
  log: Logger;
  metrics?: Metrics;
  journal: Pick<Journal, "alert" | "sent">;
  /** Hands a notice to the alerter, if it is up. */
  offer: (notice: AlertNotice) => void;
  /** Tells the alerter to forget a notice it may hold. */
  withdraw: (id: string) => void;
  /** The notice is done with: its counter must not alert again in that window. `delivered`: a mail went out. */
  settled: (notice: AlertNotice, delivered: boolean) => void;
  changed: () => void;
}

export interface AlertOutbox {
  /** A new alert: kept, journalled and offered; the oldest goes when more than `max` are kept. */
  add(notice: AlertNotice, max: number): void;
  /** A notice from the state file: kept and offered, or refused (logged) when no mail can be made of it. */
  restore(notice: AlertNotice): void;
  /**
   * The relay took these alerts' mail for some recipients and deferred `recipients`: kept (and journalled)
   * with them, so that an alert offered again after a restart goes to those only.
   */
  partlyDelivered(ids: string[], recipients: string[]): void;
  /** The alerter is done with it: delivered, or not (parked, or only logged for want of [alerts]). */
  settle(id: string, delivered: boolean): void;
  /** Drops the oldest notices beyond `max`. */
  bound(max: number): void;
  offerAll(): void;
  values(): IterableIterator<AlertNotice>;
  readonly size: number;
}

export function createAlertOutbox(options: AlertOutboxOptions): AlertOutbox {
  const { log, journal } = options;
  const outbox = new Map<string, AlertNotice>();

  const settle = (id: string, delivered: boolean) => {
    const notice = outbox.get(id);
    if (!notice) return;
    outbox.delete(id);
    journal.sent(id);
    options.settled(notice, delivered);
    options.changed();
  };

  // The outbox is bounded: a storm while the relay is down for days would otherwise grow memory and the
  // state file without end. The oldest notice goes first: it is the stalest (its window has most likely
  // ended), and its crossing is in the log. Its key is not alerted again in that window.
  const bound = (max: number) => {
    for (const [id, notice] of outbox) {
      if (outbox.size <= max) return;
      settle(id, false);
      if (options.metrics) options.metrics.alertsDropped++;
      log.warn("counters", "alert outbox full, oldest alert dropped", {
        key: notice.key,
        rule: notice.limit,
        outbox_max: max,
      });
      options.withdraw(id);
    }
  };

  return {
    add(notice, max) {
      outbox.set(notice.id, notice);
      journal.alert(notice);
      options.offer(notice);
      bound(max);
    },
    restore(notice) {
      // An entry that no mail can be made of (`{}`, a time past any date) would fail at every attempt.
      const problem = outboxEntryProblem(notice);
      if (problem !== undefined) {
        log.error("counters", "malformed alert in the state file's outbox, refused", {
          problem,
          entry: JSON.stringify(notice).slice(0, 200),
        });
        return;
      }
      outbox.set(notice.id, notice);
      options.offer(notice);
    },
    partlyDelivered(ids, recipients) {
      for (const id of ids) {
        const notice = outbox.get(id);
        if (!notice) continue; // dropped from a full outbox meanwhile
        const kept = { ...notice, recipients };
        outbox.set(id, kept); // in its place: the order of the outbox stays the order of crossing
        journal.alert(kept); // replayed over the first record of the same id
        log.info("counters", "alert partly delivered, kept for the recipients still to reach", {
          key: notice.key,
          rule: notice.limit,
          to: recipients.join(","),
        });
      }
      options.changed();
    },
    settle,
    bound,
    offerAll() {
      for (const notice of outbox.values()) options.offer(notice);
    },
    values: () => outbox.values(),
    get size() {
      return outbox.size;
    },
  };
}
