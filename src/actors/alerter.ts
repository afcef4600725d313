// The alerter: a queue of alert mails delivered one at a time. It never blocks policy answers: the
// counters actor only sends it messages. Two regions run side by side:
// - delivery (idle → sending → backingOff): a mail that fails for the time being goes to the back of the
//   queue and the alerter backs off (retry_min doubling up to retry_max) before the next attempt, so one
//   mail that keeps failing cannot hold the others back; a mail refused for good, or still failing
//   retry_for after its key crossed, is parked (policy/alert-failure.ts);
// - digest (empty → collecting): beyond digest_after alerts within digest_window, alerts are held and go
//   out as one digest mail a window later (policy/alert-digest.ts).
import { hostname } from "node:os";
import { assign, fromPromise, setup } from "xstate";
import type { AlertsConfig, Config } from "../config/types.ts";
import type { Logger } from "../log.ts";
import { type AlertMail, type AlertNotice, composeAlertMail } from "../policy/alert-notice.ts";
import { composeDigestMail, digestBatches, routeAlert } from "../policy/alert-digest.ts";
import { afterFailure, failureKind } from "../policy/alert-failure.ts";
import { type AlertSent, createAlertTransport, type SendAlertMail } from "./alert-transport.ts";
import { type AnyActorSystem, liveActor } from "./actor.ts";
import { backoffDelay } from "./backoff.ts";
import { type Metrics, type RecentAlert, recordAlert, recordParked } from "../control/metrics.ts";

export type AlerterEvent =
  | { type: "alert"; notice: AlertNotice }
  | { type: "alert.withdraw"; id: string } // dropped from the counters actor's full outbox
  | { type: "config"; config: Config };

export interface AlerterInput {
  config: Config;
  log: Logger;
  metrics: Metrics;
  /** How mail leaves, made per [alerts] section (at start and reload): nodemailer unless a test says. */
  transport?: (alerts: AlertsConfig) => SendAlertMail;
}

/** One mail to send: a single alert, or a digest of several. */
interface Outgoing {
  notices: AlertNotice[];
  digest: boolean;
  /** The recipients still to reach: set when the relay took the mail for some and deferred the others. */
  recipients?: string[];
}

interface AlerterContext {
  config: Config;
  log: Logger;
  metrics: Metrics;
  send?: SendAlertMail; // undefined: no [alerts] section, notices are only logged
  transport: (alerts: AlertsConfig) => SendAlertMail;
  queue: Outgoing[]; // waiting, head first
  current?: Outgoing; // being delivered
  held: AlertNotice[]; // for the next digest
  recent: number[]; // arrival times of the latest alerts (routeAlert)
  known: Set<string>; // ids queued, held or being delivered: an alert offered again is not queued twice
  // Ids settled while the counters actor was down (delivered or not): its restart restores them from the
  // state file and offers them again, and they are reported then instead of sent a second time.
  unreported: Map<string, boolean>;
  attempt: number; // failed attempts in a row, for the backoff
  /** [alerts] changed by a reload while a mail was being sent: should it fail, it is tried again at once. */
  changedWhileSending: boolean;
}

const transportFor = (config: Config, transport: AlerterContext["transport"]) =>
  config.alerts ? transport(config.alerts) : undefined;

const recent = (notice: AlertNotice, status: RecentAlert["status"], error?: string): RecentAlert => ({
  id: notice.id,
  at: Date.now(),
  rule: notice.limit,
  key: notice.key,
  count: notice.count,
  limit: notice.limitCount,
  status,
  error,
});

// Without [alerts] nothing fails; the numbers only matter after a reload removed it mid-attempt.
const nextRetryMs = (context: AlerterContext) =>
  backoffDelay(
    context.attempt,
    context.config.alerts?.retryMinMs ?? 1000,
    context.config.alerts?.retryMaxMs ?? 1000,
  );

// The error of a failed delivery (the invoke's error event; the guards and actions are typed for every event).
const errorOf = (event: unknown) => (event as { error?: unknown }).error;

const errorText = (error: unknown) => (error as Error)?.message ?? String(error);

// Where the mail went, for the log (a reload may have removed [alerts] meanwhile).
const via = (config: Config) =>
  config.alerts?.sendmail ?? (config.alerts ? `${config.alerts.smtpHost}:${config.alerts.smtpPort}` : "none");

function composeMail(item: Outgoing, config: Config): AlertMail {
  const alerts = config.alerts!;
  const mail = item.digest
    ? composeDigestMail(item.notices, { ...alerts, ...config.alertQueue }, hostname())
    : composeAlertMail(item.notices[0], alerts, hostname());
  return item.recipients ? { ...mail, envelopeTo: item.recipients } : mail;
}

// The recipients a failed attempt still has to reach, when the relay took the mail for the others
// (alert-transport.ts): a retry to every recipient would send those a second copy.
const undelivered = (error: unknown): string[] | undefined => {
  const list = (error as { undelivered?: unknown })?.undelivered;
  return Array.isArray(list) && list.length > 0 ? list.map(String) : undefined;
};

// The moment the item's (first) key crossed its limit: retry_for counts from there.
const crossedAt = (item: Outgoing) => Math.min(...item.notices.map((notice) => notice.lastSeen));

// What the log says about an item: the key, or how many a digest holds.
const about = (item: Pick<Outgoing, "notices" | "digest">) =>
  item.digest ? { keys: item.notices.length } : { key: item.notices[0].key };

// Takes a withdrawn alert out of the queue or the held digest. The counters actor withdraws its oldest alert
// when the outbox is full, so it is nearly always at the front of the queue (items are in arrival order but
// for retried ones), then at the front of the held list: the scan from the front is short.
function withdraw(context: AlerterContext, id: string): void {
  for (let i = 0; i < context.queue.length; i++) {
    const notices = context.queue[i].notices;
    const at = notices.findIndex((notice) => notice.id === id);
    if (at < 0) continue;
    notices.splice(at, 1);
    if (notices.length === 0) context.queue.splice(i, 1);
    // A digest left with one key goes out as that key's alert, as digestBatches makes a batch of one.
    else if (notices.length === 1) context.queue[i].digest = false;
    return;
  }
  const held = context.held.findIndex((notice) => notice.id === id);
  if (held >= 0) context.held.splice(held, 1);
}

/**
 * The notices of the mail just tried that the alerter still holds, and those withdrawn while it was tried.
 * The counters actor withdraws its oldest alert when the outbox is full; during a storm behind a relay that is
 * down, that is the head of the queue, so often the mail being tried, which withdraw() finds neither queued nor
 * held. Requeued after a failed attempt, it was mailed later although the log had said it was dropped, and
 * such mails (digests of up to 1000 keys) piled up in the queue beyond outbox_max.
 */
function withdrawnOrNot(
  context: AlerterContext,
  item: Outgoing,
): { kept: AlertNotice[]; withdrawn: AlertNotice[] } {
  const kept = item.notices.filter((notice) => context.known.has(notice.id));
  const withdrawn = item.notices.filter((notice) => !context.known.has(notice.id));
  return { kept, withdrawn };
}

/** Says that the mail of alerts withdrawn while it was tried failed, and is not tried again. */
function notRetried(context: AlerterContext, withdrawn: AlertNotice[], error: string): void {
  // Listed as dropped in `status` (alert.withdraw), not as failed or parked.
  context.log.warn("alerter", "alert mail failed, not retried: its alert was dropped", {
    ...about({ notices: withdrawn, digest: withdrawn.length > 1 }),
    via: via(context.config),
    error,
  });
}

function settle(context: AlerterContext, system: AnyActorSystem, delivered: boolean): void {
  const ids = context.current!.notices.map((notice) => notice.id);
  for (const id of ids) context.known.delete(id);
  const counters = liveActor(system, "counters");
  if (counters !== undefined) return void counters.send({ type: "alerts.done", ids, delivered });
  // Failed, its restart not due yet: the message would be lost, and the alert, still in the outbox the
  // restart reads, offered and mailed again. Kept until then; no more than an outbox can hold.
  for (const id of ids) context.unreported.set(id, delivered);
  for (const id of context.unreported.keys()) {
    if (context.unreported.size <= context.config.alertQueue.outboxMax) break;
    context.unreported.delete(id);
  }
  context.log.info("alerter", "counters actor down: the alert's end is reported when it is back", {
    ...about(context.current!),
  });
}

/** An alert offered by a restarted counters actor that this alerter settled while it was down. */
function reportAgain(context: AlerterContext, system: AnyActorSystem, id: string): void {
  const delivered = context.unreported.get(id)!;
  context.unreported.delete(id);
  liveActor(system, "counters")?.send({ type: "alerts.done", ids: [id], delivered });
  context.log.info("alerter", "alert offered again by the restarted counters: done, not sent", {
    id,
    delivered,
  });
}

/**
 * An alert this alerter still holds, offered again by a restarted counters actor: when the relay deferred
 * some of its recipients while the counters actor was down, that report (`alerts.partly`) went nowhere, and
 * the outbox still has the alert for every recipient: a restart of the daemon would mail them all again.
 */
function reportRecipientsAgain(context: AlerterContext, system: AnyActorSystem, notice: AlertNotice): void {
  const item = [context.current, ...context.queue].find((item) =>
    item?.notices.some(({ id }) => id === notice.id)
  );
  const recipients = item?.recipients;
  if (recipients === undefined || recipients.join(",") === notice.recipients?.join(",")) return;
  liveActor(system, "counters")?.send({ type: "alerts.partly", ids: [notice.id], recipients });
  context.log.info("alerter", "alert offered again by the restarted counters: still to reach", {
    id: notice.id,
    to: recipients.join(","),
  });
}

export const alerterMachine = setup({
  types: {
    context: {} as AlerterContext,
    events: {} as AlerterEvent,
    input: {} as AlerterInput,
  },
  actors: {
    deliver: fromPromise<AlertSent | void, { item: Outgoing; config: Config; send?: SendAlertMail }>(
      async ({ input, system }) => {
        if (!input.send || !input.config.alerts) return;
        let mail: AlertMail;
        try {
          mail = composeMail(input.item, input.config);
        } catch (error) {
          // No retry makes a mail of this notice: failureKind parks it.
          throw Object.assign(new Error(`cannot compose the alert: ${errorText(error)}`), {
            cannotCompose: true,
          });
        }
        // Before the program runs: Postfix's milter then asks about it, maybe under a sender rewritten by
        // canonical maps, and the counters know it by this (own-alert.ts, isOwnSenderSubmission).
        if (input.config.alerts.sendmail) liveActor(system, "counters")?.send({ type: "alerts.handing" });
        return await input.send(mail);
      },
    ),
  },
  delays: {
    retry: ({ context }) => nextRetryMs(context),
    digestWindow: ({ context }) => context.config.alertQueue.digestWindowMs,
  },
  guards: {
    hasWork: ({ context }) => context.queue.length > 0,
    alertsChanged: ({ context, event }) =>
      event.type === "config" &&
      JSON.stringify(event.config.alerts) !== JSON.stringify(context.config.alerts),
    holding: ({ context }) => context.held.length > 0,
    known: ({ context, event }) => event.type === "alert" && context.known.has(event.notice.id),
    unreported: ({ context, event }) => event.type === "alert" && context.unreported.has(event.notice.id),
    partlyDelivered: ({ event }) => event.type === "alert" && event.notice.recipients !== undefined,
    refusedForGood: ({ event }) => failureKind(errorOf(event)) === "permanent",
    tooOld: ({ context }) =>
      afterFailure(
        "temporary",
        crossedAt(context.current!),
        Date.now(),
        context.config.alertQueue.retryForMs,
      ) ===
        "park",
  },
  actions: {
    // Out of the alerter for good: the counters actor drops it from the outbox, and marks its counter sent,
    // or unsent when the mail did not go out: `top` and `show` say which.
    settle: ({ context, system }) => settle(context, system, context.config.alerts !== undefined),
    settleUnsent: ({ context, system }) => settle(context, system, false),
    triedNow: ({ context }) =>
      context.log.info("alerter", "[alerts] changed: the waiting alert mail is tried now", {
        queued: context.queue.length,
        via: via(context.config),
      }),
    // Only what the alerter still holds is parked: one withdrawn while it was tried is already dropped, and
    // counted so (withdrawnOrNot).
    park: ({ context, event }) => {
      const { kept, withdrawn } = withdrawnOrNot(context, context.current!);
      const error = errorText(errorOf(event));
      for (const notice of kept) {
        recordParked(context.metrics, recent(notice, "parked", error), context.config.alertQueue.parkedMax);
      }
      if (kept.length > 0) {
        context.log.error("alerter", "alert mail given up, parked", {
          ...about({ notices: kept, digest: kept.length > 1 }),
          via: via(context.config),
          reason: failureKind(errorOf(event)) === "permanent"
            ? "refused for good"
            : "still failing after retry_for",
          error,
        });
      }
      if (withdrawn.length > 0) notRetried(context, withdrawn, error);
    },
  },
}).createMachine({
  id: "alerter",
  type: "parallel",
  context: ({ input }) => {
    const transport = input.transport ?? createAlertTransport;
    return {
      config: input.config,
      log: input.log,
      metrics: input.metrics,
      send: transportFor(input.config, transport),
      transport,
      queue: [],
      held: [],
      recent: [],
      known: new Set(),
      unreported: new Map(),
      attempt: 0,
      changedWhileSending: false,
    };
  },
  // A restarted alerter has an empty queue: ask the counters actor for the alerts still undelivered.
  entry: ({ system }) => liveActor(system, "counters")?.send({ type: "alerts.offer" }),
  on: {
    alert: [
      {
        guard: "unreported",
        actions: ({ context, event, system }) => reportAgain(context, system, event.notice.id),
      },
      {
        guard: "known",
        actions: ({ context, event, system }) => reportRecipientsAgain(context, system, event.notice),
      },
      {
        // Delivered to all but these before a restart (the outbox kept them): to those only, alone.
        guard: "partlyDelivered",
        actions: [
          ({ context, event }) => {
            context.known.add(event.notice.id);
            context.queue.push({
              notices: [event.notice],
              digest: false,
              recipients: event.notice.recipients,
            });
          },
          ({ context, event }) => recordAlert(context.metrics, recent(event.notice, "pending")),
        ],
      },
      {
        actions: [
          // The queue, the held list and `known` change in place: with up to outbox_max alerts waiting
          // (a relay down during a storm), a copy per alert would make a storm quadratic.
          assign(({ context, event }) => {
            const { alone, recent } = routeAlert(
              context.recent,
              Date.now(),
              context.config.alertQueue,
              context.held.length > 0,
            );
            context.known.add(event.notice.id);
            if (alone) context.queue.push({ notices: [event.notice], digest: false });
            else context.held.push(event.notice);
            return { recent };
          }),
          ({ context, event }) => recordAlert(context.metrics, recent(event.notice, "pending")),
        ],
      },
    ],
    "alert.withdraw": {
      actions: ({ context, event }) => {
        if (!context.known.delete(event.id)) return;
        withdraw(context, event.id);
        // It will not go out: `status` must not list it as pending.
        const listed = context.metrics.recentAlerts.find((alert) => alert.id === event.id);
        if (listed?.status === "pending" || listed?.status === "failed") listed.status = "dropped";
      },
    },
    config: {
      actions: assign(({ context, event }) => ({
        config: event.config,
        send: transportFor(event.config, context.transport),
      })),
    },
  },
  states: {
    delivery: {
      initial: "idle",
      states: {
        idle: {
          always: {
            guard: "hasWork",
            target: "sending",
            actions: assign(({ context }) => ({ current: context.queue.shift() })),
          },
        },
        sending: {
          entry: assign({ changedWhileSending: false }),
          // The attempt under way goes on with the settings it started with.
          on: {
            config: {
              guard: "alertsChanged",
              actions: assign(({ context, event }) => ({
                config: event.config,
                send: transportFor(event.config, context.transport),
                changedWhileSending: true,
              })),
            },
          },
          invoke: {
            src: "deliver",
            input: ({ context }) => ({ item: context.current!, config: context.config, send: context.send }),
            onDone: {
              target: "idle",
              actions: [
                // Out of the outbox (and in the journal) before the log says so: whoever sees the line
                // knows a restart will not send it again.
                "settle",
                ({ context, event }) => {
                  const item = context.current!;
                  const alerts = context.config.alerts;
                  for (const notice of item.notices) {
                    recordAlert(context.metrics, recent(notice, alerts ? "sent" : "logged"));
                  }
                  if (!alerts) {
                    for (const notice of item.notices) {
                      context.log.warn("alerter", "no [alerts] configured, alert only logged", {
                        key: notice.key,
                      });
                    }
                    return;
                  }
                  if (item.digest) context.metrics.alertDigests++;
                  const refused = (event.output as AlertSent | undefined)?.refused;
                  context.log[refused ? "warn" : "info"](
                    "alerter",
                    item.digest ? "alert digest sent" : "alert mail sent",
                    {
                      ...about(item),
                      rule: item.digest ? undefined : item.notices[0].limit,
                      to: (item.recipients ?? [...alerts.to, ...alerts.cc]).join(","),
                      // Recipients the relay refused for good: they will not get this alert.
                      refused,
                    },
                  );
                },
                assign({ current: undefined, attempt: 0 }),
              ],
            },
            onError: [
              {
                // The relay answered (or no mail could be made): nothing to back off from.
                guard: "refusedForGood",
                target: "idle",
                actions: ["park", "settleUnsent", assign({ current: undefined, attempt: 0 })],
              },
              {
                guard: "tooOld",
                target: "backingOff",
                actions: [
                  "park",
                  "settleUnsent",
                  assign(({ context }) => ({ current: undefined, attempt: context.attempt + 1 })),
                ],
              },
              {
                target: "backingOff",
                actions: [
                  assign(({ context, event }) => {
                    const item = context.current!;
                    item.recipients = undelivered(event.error) ?? item.recipients;
                    return { attempt: context.attempt + 1 };
                  }),
                  ({ context, event, system }) => {
                    // Into the outbox too: a restart sent the alert again to every recipient.
                    const rest = undelivered(event.error);
                    const ids = withdrawnOrNot(context, context.current!).kept.map((notice) => notice.id);
                    if (!rest || ids.length === 0) return;
                    liveActor(system, "counters")?.send({ type: "alerts.partly", ids, recipients: rest });
                  },
                  ({ context, event }) => {
                    const { kept, withdrawn } = withdrawnOrNot(context, context.current!);
                    const error = errorText(event.error);
                    for (const notice of kept) recordAlert(context.metrics, recent(notice, "failed", error));
                    if (kept.length > 0) {
                      context.log.error("alerter", "alert mail failed, will retry", {
                        ...about({ notices: kept, digest: kept.length > 1 }),
                        via: via(context.config),
                        attempt: context.attempt,
                        retry_in_ms: nextRetryMs(context),
                        error,
                      });
                    }
                    if (withdrawn.length === 0) return;
                    // Counted as a failed attempt (a refusal for good is not one: "park").
                    context.metrics.alertsFailed += withdrawn.length;
                    notRetried(context, withdrawn, error);
                  },
                  assign(({ context }) => {
                    const item = context.current!;
                    item.notices = withdrawnOrNot(context, item).kept;
                    // A digest left with one key goes out as that key's alert, as withdraw() does.
                    if (item.notices.length === 1) item.digest = false;
                    if (item.notices.length > 0) context.queue.push(item);
                    return { current: undefined };
                  }),
                ],
              },
            ],
          },
        },
        backingOff: {
          after: { retry: "idle" },
          // The postmaster fixed the relay (or its login) and reloaded: the mail waiting out its backoff
          // (up to retry_max, 10 min by default) is tried now with the new settings, the backoff afresh;
          // so is one whose attempt failed after such a reload, with the settings before it.
          // Any other reload goes to the handler of the whole machine.
          always: {
            guard: ({ context }) => context.changedWhileSending,
            target: "idle",
            actions: [
              assign({ attempt: 0, changedWhileSending: false }),
              "triedNow",
            ],
          },
          on: {
            config: {
              guard: "alertsChanged",
              target: "idle",
              actions: [
                assign(({ context, event }) => ({
                  config: event.config,
                  send: transportFor(event.config, context.transport),
                  attempt: 0,
                })),
                "triedNow",
              ],
            },
          },
        },
      },
    },
    digest: {
      initial: "empty",
      states: {
        empty: {
          always: { guard: "holding", target: "collecting" },
        },
        collecting: {
          after: {
            digestWindow: {
              target: "empty",
              actions: assign(({ context }) => {
                for (const notices of digestBatches(context.held)) {
                  context.queue.push({ notices, digest: notices.length > 1 });
                }
                return { held: [] };
              }),
            },
          },
        },
      },
    },
  },
});
