// The SpamAssassin actor: asks a real spamd about the messages the SpamAssassin concern sends it
// (engine/spamassassin-concern.ts), one connection per scan (spamd closes after each answer), never more
// than max_in_flight at once, at most max_queue waiting beyond them (one more fails at once: "busy"), each
// scan within its deadline, and a circuit breaker in front (open: fail at once, no connect). A failed scan
// is answered undefined: the engine then answers with [spamassassin] fail_mode. docs/spamassassin.md.
import type { Config, SpamAssassinConfig } from "../config/types.ts";
import type { Metrics } from "../control/metrics.ts";
import { recordSpamdScan, type SpamdOutcome } from "../control/spamd-metrics.ts";
import type { Logger } from "../log.ts";
import type { ConcernAnswer } from "../model/answer.ts";
import type { PolicyRequest } from "../policy/request.ts";
import { spamdAnswer } from "../spamd/answer.ts";
import { type BreakerState, createCircuitBreaker } from "../spamd/circuit-breaker.ts";
import { createWaitQueue } from "../spamd/wait-queue.ts";
import { rateLimitedWarning } from "../listeners/connection-bound.ts";
import { isSpamdUserName } from "../protocols/spamd-client.ts";
import { defineActor } from "./actor.ts";
import { describeAddress, type RunningScan, scanMessage, type ScanResult } from "./spamd-scan.ts";

export interface SpamAssassinInput {
  config: Config;
  log: Logger;
  metrics: Metrics;
}

type MessageRequest = Extract<PolicyRequest, { form: "message" }>;
type ScanReply = (answer: ConcernAnswer | undefined) => void;

export type SpamAssassinEvent =
  | { type: "scan"; request: MessageRequest; reply: ScanReply }
  | { type: "config"; config: Config };

interface Scan {
  request: MessageRequest;
  reply: ScanReply;
  /** performance.now() after which the scan is given up, waiting or running. */
  deadline: number;
  running?: RunningScan;
}

/**
 * A scan's deadline, from when it arrives (waiting for a connection included): nine tenths of [spamassassin]
 * timeout, so that the actor gives up, closes the socket and counts the timeout before the engine answers
 * with fail_mode.
 */
export function scanBudgetMs(config: Config): number {
  return Math.floor(config.concerns.spamassassin.timeoutMs * 0.9);
}

const WAITED = "waited for a connection until its deadline";

export const spamAssassinActor = defineActor<SpamAssassinInput, SpamAssassinEvent>(({ input }) => {
  const { log, metrics } = input;
  let config = input.config;
  // A reload that drops the section keeps the last settings: the concern stops asking (it applies only with
  // [spamassassin]), and the actor goes when the daemon restarts.
  let spam = config.spamassassin!;
  const clock = () => performance.now();
  const breaker = createCircuitBreaker(
    () => ({ failures: spam.breakerFailures, resetMs: spam.breakerResetMs }),
    clock,
    (state) => breakerChanged(log, spam, state),
  );
  const waiting = createWaitQueue<Scan>(() => spam.maxQueue);
  const running = new Set<Scan>();
  let waitTimer: ReturnType<typeof setTimeout> | undefined;
  const incidents = createIncidentLog(log);
  // Scans the actor's own bounds refuse (max_queue full, no connection free before the deadline): spamd was
  // not asked, and under load they come between its good answers: a line per interval, not an incident.
  const saturated = rateLimitedWarning(
    log,
    "spamassassin",
    "spamd busy: scans answered with fail_mode",
    "scans",
  );
  // A user the MTA named that spamd's protocol cannot carry (an apostrophe, a space, over 64 characters:
  // isSpamdUserName) is not sent, and spamd scans as its default user: said, or a site whose per-user
  // preferences depend on `spam = $local_part` lost them for such users without a word.
  const userNotSent = rateLimitedWarning(
    log,
    "spamassassin",
    "user not sent to spamd (not a name its protocol takes): scanned as its default user",
    "scans",
  );
  metrics.spamd.live = () => ({ breaker: breaker.state(), inFlight: running.size, queued: waiting.size });

  /** Answers a scan: spamd's verdict, or undefined (fail_mode) with why, for the metrics and the log. */
  const answer = (scan: Scan, outcome: SpamdOutcome, result: ScanResult | string) => {
    if (typeof result !== "string" && result.outcome === "ok") {
      recordSpamdScan(metrics.spamd, "ok", result.seconds);
      incidents.answered();
      return scan.reply(spamdAnswer(result.reply));
    }
    recordSpamdScan(metrics.spamd, outcome);
    incidents.failed(outcome, typeof result === "string" ? result : result.error);
    scan.reply(undefined);
  };
  const unasked = (scan: Scan, outcome: "busy" | "timeout", why: string) => {
    recordSpamdScan(metrics.spamd, outcome);
    saturated({ outcome, error: why });
    scan.reply(undefined);
  };

  const start = (scan: Scan) => {
    const timeoutMs = scan.deadline - clock();
    if (timeoutMs <= 0) return unasked(scan, "timeout", WAITED);
    if (!breaker.admit()) return answer(scan, "breaker-open", "circuit breaker open");
    running.add(scan);
    const finished = (result: ScanResult) => {
      running.delete(scan);
      if (result.outcome === "ok") breaker.succeeded();
      else breaker.failed();
      answer(scan, result.outcome, result);
      startWaiting();
    };
    const { envelope, message } = scan.request;
    const user = spam.user !== "" ? spam.user : envelope.user;
    if (user !== undefined && user !== "" && !isSpamdUserName(user)) userNotSent({ user });
    try {
      scan.running = scanMessage(
        { address: spam.address, command: spam.command, user, message, timeoutMs },
        finished,
      );
    } catch (error) {
      finished({ outcome: "error", error: `cannot connect: ${(error as Error).message}` });
    }
  };

  /** Starts waiting scans while there are free connections; the earliest deadline gets the timer. */
  const startWaiting = () => {
    while (running.size < spam.maxInFlight && waiting.size > 0) start(waiting.take()!);
    clearTimeout(waitTimer);
    const next = waiting.nextDeadline();
    if (next === undefined) return;
    waitTimer = setTimeout(() => {
      // Given up while waiting: spamd was not asked, so the breaker does not count it.
      for (const scan of waiting.expired(clock())) unasked(scan, "timeout", WAITED);
      startWaiting();
    }, Math.max(0, next - clock()));
  };

  const receive = (request: MessageRequest, reply: ScanReply) => {
    const scan: Scan = { request, reply, deadline: clock() + scanBudgetMs(config) };
    if (breaker.state() === "open") return answer(scan, "breaker-open", "circuit breaker open");
    if (running.size < spam.maxInFlight) return start(scan);
    if (!waiting.offer(scan)) {
      return unasked(scan, "busy", `${running.size} scans running and ${waiting.size} waiting (max_queue)`);
    }
    startWaiting();
  };

  return {
    receive(event) {
      if (event.type === "config") {
        config = event.config;
        spam = config.spamassassin ?? spam;
        startWaiting(); // max_in_flight may have grown
      } else if (event.request.form !== "message") event.reply(undefined);
      else receive(event.request, event.reply);
    },
    stop() {
      clearTimeout(waitTimer);
      metrics.spamd.live = undefined;
      for (const scan of running) {
        scan.running?.cancel();
        scan.reply(undefined);
      }
      running.clear();
      for (const scan of waiting.drain()) scan.reply(undefined);
    },
  };
});

function breakerChanged(log: Logger, spam: SpamAssassinConfig, state: BreakerState): void {
  const fields = { spamd: describeAddress(spam.address) };
  if (state === "open") {
    log.warn("spamassassin", "circuit breaker open: scans fail at once", {
      ...fields,
      failures: spam.breakerFailures,
      retry_in: `${spam.breakerResetMs}ms`,
    });
  } else if (state === "half-open") log.info("spamassassin", "circuit breaker half-open: one probe", fields);
  else log.info("spamassassin", "circuit breaker closed: spamd answers again", fields);
}

/**
 * Logs a failing spamd once per incident and per kind of failure (not once per message), and the end of
 * the incident with the number of scans that failed in it.
 */
function createIncidentLog(log: Logger) {
  let lastKind = "";
  let failedScans = 0;
  return {
    failed(outcome: SpamdOutcome, error: string) {
      failedScans++;
      if (outcome === lastKind) return;
      lastKind = outcome;
      log.warn("spamassassin", "scan failed: the engine answers with fail_mode", { outcome, error });
    },
    answered() {
      if (failedScans > 0) log.info("spamassassin", "spamd answers again", { failed_scans: failedScans });
      lastKind = "";
      failedScans = 0;
    },
  };
}
