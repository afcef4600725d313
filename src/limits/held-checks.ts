// Checks waiting for their commit (limits/limit-engine.ts, the policy engine's two passes). Between a
// check and its commit other concerns answer (SPF, spamd: up to seconds), so a caller that never commits
// (a concern that hung, a bug) must not hold counts back nor grow memory: at most MAX_HELD checks are
// held, and one held longer than HOLD_MS (or a concern's timeout, if longer: holdFor) is committed as its
// own verdict said. Either is logged once per
// incident (docs/architecture.md, "Counters").
import type { Verdict } from "../policy/verdict.ts";

/**
 * Pass 1's answer: `verdict` is what `hit` would answer (undefined: the store could not answer, the
 * concern failed); `ticket` 0 means nothing to commit.
 */
export interface LimitsCheck {
  verdict: Verdict | undefined;
  ticket: number;
}

export const MAX_HELD = 10_000;
export const HOLD_MS = 30_000;

/**
 * How long a check waits for its commit: HOLD_MS, or longer when a concern's timeout is. The policy engine
 * commits every ticket once the slowest concern answered or timed out; given up before that, a check
 * would count a request as its own verdict said while the merged decision (an SPF fail after 40 s) was
 * still to come, and the real commit would be ignored. A second more for the deadline timer's lag.
 */
export function holdFor(timeoutsMs: readonly number[]): number {
  let hold = HOLD_MS;
  for (const timeout of timeoutsMs) hold = Math.max(hold, timeout + 1000);
  return hold;
}

/** Why held checks were committed without their final verdict: too old, or too many held. */
export type HeldIncident = { kind: "expired"; count: number } | { kind: "full"; max: number };

export interface HeldChecks<T> {
  /** Holds `check` and returns its ticket (> 0); when MAX_HELD are held, the oldest is committed first. */
  hold(check: T): number;
  /** The check held under `ticket`, no longer held; undefined when unknown (committed, or given up). */
  release(ticket: number): T | undefined;
  /** Commits the checks held `holdMs` or longer. */
  expire(holdMs?: number): void;
  readonly size: number;
}

// Tickets are unique in the process, not per engine: the policy engine outlives the counters actor, so a
// commit for a check held by an instance that crashed reaches its restarted successor, which must not take
// it for one of its own (and commit another request with this one's verdict).
let lastTicket = 0;

export function createHeldChecks<T>(
  now: () => number,
  on: { commit: (check: T) => void; incident: (incident: HeldIncident) => void },
  max = MAX_HELD,
): HeldChecks<T> {
  // Insertion order is age order: the oldest are first.
  const held = new Map<number, { check: T; since: number }>();
  let expiring = false; // an incident of expired checks is under way
  let full = false; // an incident of a full table is under way

  const giveUp = (ticket: number, check: T) => {
    held.delete(ticket);
    on.commit(check);
  };

  return {
    hold(check) {
      if (held.size < max) full = false;
      while (held.size >= max) {
        const [ticket, oldest] = held.entries().next().value!;
        if (!full) on.incident({ kind: "full", max });
        full = true;
        giveUp(ticket, oldest.check);
      }
      const ticket = ++lastTicket;
      held.set(ticket, { check, since: now() });
      return ticket;
    },
    release(ticket) {
      const entry = held.get(ticket);
      if (entry === undefined) return undefined;
      held.delete(ticket);
      return entry.check;
    },
    expire(holdMs = HOLD_MS) {
      const at = now();
      let count = 0;
      for (const [ticket, entry] of held) {
        if (at - entry.since < holdMs) break;
        giveUp(ticket, entry.check);
        count++;
      }
      if (count > 0 && !expiring) on.incident({ kind: "expired", count });
      expiring = count > 0;
    },
    get size() {
      return held.size;
    },
  };
}
