// The counting engine: which limits apply to a request and under which key, what the store says of each,
// which limit decides (the strictest action among those over), and what counts. Pure apart from the
// store and the injected clock and hooks: no timers, files nor logging of its own.
//
// Two passes. check: every applicable limit says what this request would make its level, and the verdict
// follows. commit: a "strict" limit always counts the request, a "leaky" one only when the final verdict
// (of every concern, not only the limits) does not refuse it. `hit` does both with its own verdict; the
// policy engine calls `check`, merges, and `commit`s the ticket with the merged verdict later.
import type { LimitConfig } from "../model/limit.ts";
import { isExempt, limitKey, requestCost } from "../policy/limit-key.ts";
import { isOwnAlert, isSenderSubmission, type OwnAlertMail } from "../policy/own-alert.ts";
import { capacity, wholeCount } from "../policy/rate.ts";
import type { PolicyRequest } from "../policy/request.ts";
import {
  type LimitOutcome,
  outranks,
  refuses,
  sameRefusal,
  type Verdict,
  verdictFor,
} from "../policy/verdict.ts";
import { displaySubject } from "../protocols/subject.ts";
import {
  type CounterStore,
  countsOnVerdict,
  newBatch,
  newProbe,
  type Probe,
  type ProbeBatch,
} from "./counter-store.ts";
import { createHeldChecks, type HeldIncident, HOLD_MS, type LimitsCheck } from "./held-checks.ts";

export type { LimitsCheck };

export interface LimitEngineHooks {
  /** A limit passed for a key (Probe.crossed): log it, and queue its alert when the limit alerts. */
  crossed(probe: Probe): void;
  /** The daemon's own alert mail came by: it is not counted. */
  ownAlert(): void;
  /** Held checks were committed as their own verdict said: the first of an incident. */
  heldIncident(incident: HeldIncident): void;
}

export interface LimitEngine {
  /**
   * The store from now on ([redis] added or removed by a reload). Batches the old one still holds finish
   * there; a check held across the switch is committed in the new one (both stores accept that).
   */
  useStore(next: CounterStore): void;
  /**
   * The limits, in config order, the daemon's own alert mail (never counted), and how long a check waits
   * for its commit (held-checks.ts holdFor).
   */
  configure(limits: readonly LimitConfig[], ownAlert: OwnAlertMail | undefined, holdMs?: number): void;
  /**
   * Check and commit with its own verdict: the answer when the limits are the only concern. Undefined:
   * the store could not answer (ProbeBatch.failed).
   */
  hit(request: PolicyRequest, reply: (verdict: Verdict | undefined) => void): void;
  /** Pass 1: the verdict, and a ticket for `commit` (0: nothing to commit). */
  check(request: PolicyRequest, reply: (check: LimitsCheck) => void): void;
  /** Pass 2: `refused` is the final verdict's (every concern's). An unknown ticket is ignored. */
  commit(ticket: number, refused: boolean): void;
  /** Commits, as their own verdict said, the checks held longer than the bound (called every tick). */
  expireHeld(): void;
  /**
   * The alerter is handing an alert to `[alerts] sendmail =`: Postfix's milter may see it under a sender
   * its canonical maps rewrote, so the next milter request to alert recipients only is taken for it.
   */
  alertHandedOver(): void;
  readonly heldCount: number;
}

/** A request's batch, with what the engine needs to finish it after the store's answer. */
interface RequestBatch extends ProbeBatch {
  request: PolicyRequest | undefined;
  hitReply: ((verdict: Verdict | undefined) => void) | undefined;
  checkReply: ((check: LimitsCheck) => void) | undefined;
  /** The request's own verdict refuses (for a held check committed without a final verdict). */
  refused: boolean;
  /** A held check's reservations in `pending`. */
  reserved: Reservation[] | undefined;
}

/** What a held check will count under one limit and key, if let through; `instance`: its message's. */
interface Reservation {
  id: string;
  charge: number;
  instance: string | undefined;
}

// Batches done with are kept for the next request: the memory store answers at once, so `hit` takes
// and gives back the same one (no allocation); an asynchronous store needs one per request in flight.
const SPARE_BATCHES = 16;

const ACCEPT = verdictFor(undefined);
/**
 * Alerts handed to sendmail and not yet seen by the milter, at most: one that never reaches it (a host
 * without the milter, or the milter down and Postfix's fail-open) leaves a message to the alert recipients
 * uncounted later, and no more than this many such ever wait.
 */
const HANDED_OVER_MAX = 10;

const NOTHING_HELD: LimitsCheck = Object.freeze({ verdict: ACCEPT, ticket: 0 });
const FAILED: LimitsCheck = Object.freeze({ verdict: undefined, ticket: 0 });

export function createLimitEngine(
  first: CounterStore,
  now: () => number,
  hooks: LimitEngineHooks,
): LimitEngine {
  let store = first;
  let limits: readonly LimitConfig[] = [];
  let ownAlert: OwnAlertMail | undefined;
  let holdMs = HOLD_MS;
  let handedOver = 0; // alerts handed to sendmail, not yet seen by the milter (HANDED_OVER_MAX)
  const spare: RequestBatch[] = [];
  let lastOver: Verdict | undefined; // the latest answer for a limit that was over
  // What the checks held for their commit (the policy engine's two passes: SPF still looking a record up)
  // will count if let through, by limit and key. A check made meanwhile counts them in: measured without
  // them, concurrent sessions of one client were each checked against the level before the others' commits,
  // and all let through (three messages through a limit of two: exim-overlapping-checks.test.ts).
  const pending = new Map<string, Reservation[]>();
  const pendingId = (probe: Probe) => `${probe.limit.name}\n${probe.key}`;

  /**
   * The held checks' charges added to each probe's level (and `over` judged on it), before deciding. A
   * held recipient of the probe's own message (per = message) is that message: counted once, in `charge`.
   */
  const withPending = (batch: RequestBatch) => {
    if (pending.size === 0) return;
    for (let i = 0; i < batch.size; i++) {
      const probe = batch.probes[i];
      const reservations = pending.get(pendingId(probe));
      if (reservations === undefined) continue;
      let charges = 0;
      for (const held of reservations) {
        if (held.instance === undefined || held.instance !== probe.instance) charges += held.charge;
      }
      if (charges === 0) continue;
      probe.level += charges;
      probe.over = probe.level > capacity(probe.limit);
    }
  };

  const hasPending = (batch: RequestBatch): boolean => {
    if (pending.size === 0) return false;
    for (let i = 0; i < batch.size; i++) if (pending.has(pendingId(batch.probes[i]))) return true;
    return false;
  };

  /** A held check reserves what it counts on its own verdict (a leaky limit refused by it: nothing). */
  const reserve = (batch: RequestBatch) => {
    for (let i = 0; i < batch.size; i++) {
      const probe = batch.probes[i];
      if (probe.charge === 0 || !countsOnVerdict(probe, batch.refused)) continue;
      const reservation = { id: pendingId(probe), charge: probe.charge, instance: probe.instance };
      const reservations = pending.get(reservation.id);
      if (reservations === undefined) pending.set(reservation.id, [reservation]);
      else reservations.push(reservation);
      (batch.reserved ??= []).push(reservation);
    }
  };

  const release = (batch: RequestBatch) => {
    const reserved = batch.reserved;
    if (reserved === undefined) return;
    batch.reserved = undefined;
    for (const reservation of reserved) {
      const reservations = pending.get(reservation.id);
      if (reservations === undefined) continue;
      const at = reservations.indexOf(reservation);
      if (at >= 0) reservations.splice(at, 1);
      if (reservations.length === 0) pending.delete(reservation.id);
    }
  };

  const takeBatch = (): RequestBatch =>
    spare.pop() ?? {
      ...newBatch(),
      request: undefined,
      hitReply: undefined,
      checkReply: undefined,
      refused: false,
      reserved: undefined,
    };

  const giveBack = (batch: RequestBatch) => {
    batch.failed = false;
    batch.ahead = false;
    batch.request = undefined;
    batch.hitReply = undefined;
    batch.checkReply = undefined;
    batch.reserved = undefined;
    if (spare.length < SPARE_BATCHES) spare.push(batch);
  };

  /** Fills the batch with the limits that apply to the request; returns how many. */
  const prepare = (batch: RequestBatch, request: PolicyRequest): number => {
    const attributes = request.form === "attributes" ? request.attributes : undefined;
    let size = 0;
    for (let i = 0; i < limits.length; i++) {
      const limit = limits[i];
      const key = limitKey(limit, request);
      if (key === undefined || isExempt(limit, request)) continue;
      const probe = batch.probes[size] ??= newProbe(limit, key);
      size++;
      probe.limit = limit;
      probe.key = key;
      probe.cost = requestCost(limit, request);
      // per = message at RCPT: the message's first recipient counts it, the others see the same count.
      probe.instance = attributes && limit.per === "message" ? attributes.instance || undefined : undefined;
    }
    batch.size = size;
    batch.at = now();
    batch.request = request;
    return size;
  };

  // The count every surface shows (reply, log, alert, status): what the limit holds once the request is
  // decided. A request it does not count (a leaky limit, refused) leaves the count where it was.
  const countAfter = (probe: Probe, counted: boolean): number =>
    wholeCount(counted ? probe.level : probe.level - probe.charge);

  const outcomeOf = (probe: Probe, count: number): LimitOutcome => ({
    limit: probe.limit,
    key: probe.key,
    count,
    over: probe.over,
  });

  /** The request's own verdict from the checked probes; sets batch.refused. */
  const decide = (batch: RequestBatch): Verdict => {
    let winner: Probe | undefined;
    for (let i = 0; i < batch.size; i++) {
      const probe = batch.probes[i];
      if (probe.over && (!winner || outranks(probe.limit.action, winner.limit.action))) winner = probe;
    }
    // The strictest limit over decides; it refuses (defer, reject) or nothing does.
    const refused = winner !== undefined && refuses(winner.limit.action);
    batch.refused = refused;
    if (!winner) return ACCEPT;
    const count = countAfter(winner, !refused || winner.limit.mode === "strict");
    if (batch.request!.form === "legacy") return verdictFor(outcomeOf(winner, count), false);
    if (!sameRefusal(lastOver, winner.limit, winner.key, count)) {
      lastOver = verdictFor(outcomeOf(winner, count));
    }
    return lastOver!;
  };

  /** The sightings a commit records: the request's subject and client address. */
  const noteSightings = (batch: RequestBatch) => {
    const request = batch.request!;
    batch.subject = subjectOf(request);
    batch.clientAddress = request.form === "attributes" ? request.attributes.client_address : undefined;
  };

  const commitBatch = (batch: RequestBatch, refused: boolean, at: number) => {
    release(batch);
    for (let i = 0; i < batch.size; i++) batch.probes[i].counted = countsOnVerdict(batch.probes[i], refused);
    noteSightings(batch);
    store.commit(batch, at, committed);
  };

  function committed(batch: ProbeBatch): void {
    const done = batch as RequestBatch;
    if (done.crossings > 0) {
      for (let i = 0; i < done.size; i++) if (done.probes[i].crossed) hooks.crossed(done.probes[i]);
    }
    if (done.subject !== undefined) recordElsewhere(done, done.subject);
    giveBack(done);
  }

  const subjectOf = (request: PolicyRequest): string | undefined => {
    const subject = request.form === "attributes" ? request.attributes.subject : undefined;
    return subject === undefined ? undefined : displaySubject(subject);
  };

  // The subject arrives at DATA; limits counted at RCPT still want it for their alerts' top subjects.
  const recordElsewhere = (batch: RequestBatch, subject: string) => {
    for (const limit of limits) {
      let probed = false;
      for (let i = 0; i < batch.size && !probed; i++) probed = batch.probes[i].limit === limit;
      if (probed) continue;
      const key = limitKey(limit, batch.request!, true);
      if (key !== undefined) store.recordSubject(limit, key, subject);
    }
  };

  function hitChecked(batch: ProbeBatch): void {
    const checked = batch as RequestBatch;
    const reply = checked.hitReply!;
    if (checked.failed) return failedCheck(checked, reply);
    withPending(checked);
    const verdict = decide(checked);
    commitBatch(checked, checked.refused, checked.at);
    reply(verdict);
  }

  // The store checked and committed in one step (CounterStore.checkAndCommit): the verdict from the
  // checked values, as hitChecked makes it; the crossings as committed.
  function hitCommitted(batch: ProbeBatch): void {
    const checked = batch as RequestBatch;
    const reply = checked.hitReply!;
    if (checked.failed) return failedCheck(checked, reply);
    const verdict = decide(checked);
    committed(checked);
    reply(verdict);
  }

  // A request accepted before the store answered (CounterStore.answersAhead): the answer only counts. A
  // failed one was counted by nothing (the fallback was open or closed): the accept stands, as it would
  // have for a failed concern answered open.
  function aheadCommitted(batch: ProbeBatch): void {
    const done = batch as RequestBatch;
    if (done.failed) return giveBack(done);
    committed(done);
  }

  const held = createHeldChecks<RequestBatch>(now, {
    commit: (batch) => commitBatch(batch, batch.refused, now()),
    incident: (incident) => hooks.heldIncident(incident),
  });

  /** The store could not check: nothing to commit, and the concern's failure answer decides. */
  const failedCheck = (batch: RequestBatch, reply: (answer: undefined) => void) => {
    giveBack(batch);
    reply(undefined);
  };

  function checkChecked(batch: ProbeBatch): void {
    const checked = batch as RequestBatch;
    const reply = checked.checkReply!;
    if (checked.failed) return failedCheck(checked, () => reply(FAILED));
    withPending(checked);
    const verdict = decide(checked);
    reserve(checked);
    reply({ verdict, ticket: held.hold(checked) });
  }

  /** The request's batch, or undefined when no limit applies or it is the daemon's own alert mail. */
  const batchFor = (request: PolicyRequest): RequestBatch | undefined => {
    if (ownAlert !== undefined && isOwnAlert(request, ownAlert, handedOver > 0)) {
      if (handedOver > 0 && isSenderSubmission(request)) handedOver--;
      hooks.ownAlert();
      return undefined;
    }
    const batch = takeBatch();
    if (prepare(batch, request) > 0) return batch;
    const subject = subjectOf(request);
    if (subject !== undefined) recordElsewhere(batch, subject);
    giveBack(batch);
    return undefined;
  };

  return {
    useStore(next) {
      store = next;
    },

    configure(next, mail, hold = HOLD_MS) {
      limits = next;
      ownAlert = mail;
      holdMs = hold;
    },

    hit(request, reply) {
      const batch = batchFor(request);
      if (batch === undefined) return reply(ACCEPT);
      batch.hitReply = reply;
      // A key with held checks is measured with them (withPending), which one atomic step cannot.
      if (store.checkAndCommit === undefined || hasPending(batch)) return store.check(batch, hitChecked);
      noteSightings(batch);
      if (store.answersAhead?.(batch)) {
        store.checkAndCommit(batch, aheadCommitted);
        return reply(ACCEPT);
      }
      store.checkAndCommit(batch, hitCommitted);
    },

    check(request, reply) {
      const batch = batchFor(request);
      if (batch === undefined) return reply(NOTHING_HELD);
      batch.checkReply = reply;
      store.check(batch, checkChecked);
    },

    commit(ticket, refused) {
      const batch = held.release(ticket);
      if (batch) commitBatch(batch, refused, now());
    },

    expireHeld: () => held.expire(holdMs),

    alertHandedOver() {
      handedOver = Math.min(handedOver + 1, HANDED_OVER_MAX);
    },

    get heldCount() {
      return held.size;
    },
  };
}
