// The alerter: a queue of alert notices delivered one at a time; a failed delivery backs off
// (retry_min doubling up to retry_max) and is tried again, while new notices keep queueing. It never
// blocks policy answers: the counters actor only sends it messages.
import { hostname } from "node:os";
import { assign, fromPromise, setup } from "xstate";
import type { Config } from "../config/types.ts";
import type { Logger } from "../log.ts";
import { type AlertNotice, composeAlertMail } from "../policy/alert-notice.ts";
import { createAlertTransport, type SendAlertMail } from "./alert-transport.ts";
import { liveActor } from "./actor.ts";
import { type Metrics, type RecentAlert, recordAlert } from "../control/metrics.ts";

export type AlerterEvent =
  | { type: "alert"; notice: AlertNotice }
  | { type: "config"; config: Config };

export interface AlerterInput {
  config: Config;
  log: Logger;
  metrics: Metrics;
}

interface AlerterContext {
  config: Config;
  log: Logger;
  metrics: Metrics;
  send?: SendAlertMail; // undefined: no [alerts] section, notices are only logged
  queue: AlertNotice[];
  attempt: number;
}

const transportFor = (config: Config) => config.alerts ? createAlertTransport(config.alerts) : undefined;

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

export function retryDelayMs(attempt: number, minMs: number, maxMs: number): number {
  return Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1));
}

export const alerterMachine = setup({
  types: {
    context: {} as AlerterContext,
    events: {} as AlerterEvent,
    input: {} as AlerterInput,
  },
  actors: {
    deliver: fromPromise<void, { notice: AlertNotice; config: Config; send?: SendAlertMail }>(
      async ({ input }) => {
        if (!input.send || !input.config.alerts) return;
        await input.send(composeAlertMail(input.notice, input.config.alerts, hostname()));
      },
    ),
  },
  delays: {
    retry: ({ context }) =>
      retryDelayMs(
        context.attempt,
        context.config.alerts?.retryMinMs ?? 10_000,
        context.config.alerts?.retryMaxMs ?? 600_000,
      ),
  },
  guards: {
    hasWork: ({ context }) => context.queue.length > 0,
  },
}).createMachine({
  id: "alerter",
  context: ({ input }) => ({
    config: input.config,
    log: input.log,
    metrics: input.metrics,
    send: transportFor(input.config),
    queue: [],
    attempt: 0,
  }),
  // A restarted alerter has an empty queue: ask the counters actor for the alerts still undelivered.
  entry: ({ system }) => liveActor(system, "counters")?.send({ type: "alerts.offer" }),
  on: {
    alert: {
      guard: ({ context, event }) => !context.queue.some((queued) => queued.id === event.notice.id),
      actions: [
        assign({ queue: ({ context, event }) => [...context.queue, event.notice] }),
        ({ context, event }) => recordAlert(context.metrics, recent(event.notice, "pending")),
      ],
    },
    config: {
      actions: assign(({ event }) => ({ config: event.config, send: transportFor(event.config) })),
    },
  },
  initial: "idle",
  states: {
    idle: {
      always: { guard: "hasWork", target: "sending" },
    },
    sending: {
      invoke: {
        src: "deliver",
        input: ({ context }) => ({ notice: context.queue[0], config: context.config, send: context.send }),
        onDone: {
          target: "idle",
          actions: [
            ({ context, system }) => {
              const notice = context.queue[0];
              const alerts = context.config.alerts;
              recordAlert(context.metrics, recent(notice, alerts ? "sent" : "logged"));
              if (alerts) {
                context.log.info("alerter", "alert mail sent", {
                  key: notice.key,
                  rule: notice.limit,
                  to: [...alerts.to, ...alerts.cc].join(","),
                });
              } else {
                context.log.warn("alerter", "no [alerts] configured, alert only logged", { key: notice.key });
              }
              liveActor(system, "counters")?.send({ type: "alert.delivered", id: notice.id });
            },
            assign({ queue: ({ context }) => context.queue.slice(1), attempt: 0 }),
          ],
        },
        onError: {
          target: "backingOff",
          actions: [
            assign({ attempt: ({ context }) => context.attempt + 1 }),
            ({ context, event }) => {
              const alerts = context.config.alerts!;
              recordAlert(
                context.metrics,
                recent(context.queue[0], "failed", (event.error as Error)?.message ?? String(event.error)),
              );
              context.log.error("alerter", "alert mail failed, will retry", {
                key: context.queue[0].key,
                via: alerts.sendmail ?? `${alerts.smtpHost}:${alerts.smtpPort}`,
                attempt: context.attempt,
                retry_in_ms: retryDelayMs(context.attempt, alerts.retryMinMs, alerts.retryMaxMs),
                error: (event.error as Error)?.message ?? String(event.error),
              });
            },
          ],
        },
      },
    },
    backingOff: {
      after: { retry: "sending" },
    },
  },
});
