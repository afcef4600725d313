// The spamd front: the listener Exim's `spam =` (spamd_address) and spamc talk to, on loopback TCP and/or a
// Unix socket ([spamd] listen, socket). Each request (cut by SpamdFraming, parsed by protocols/spamd-front.ts)
// becomes a "message" request to the policy engine; the merged decision goes through the thresholds
// (engine/spam-thresholds.ts) and is answered in the shape the client parses. docs/spamd-front.md.
import type { SpamdConfig } from "../config/types.ts";
import type { Logger } from "../log.ts";
import { spamVerdict } from "../engine/spam-thresholds.ts";
import { defineActor } from "../actors/actor.ts";
import {
  createSpamFrontMetrics,
  recordSpamError,
  recordSpamScan,
  type SpamFrontMetrics,
} from "../control/spam-front-metrics.ts";
import {
  formatSpamdError,
  formatSpamdReply,
  MAX_HEAD_BYTES,
  parseSpamdRequest,
  PONG_REPLY,
  SPAMC_ADDED_BYTES,
  spamdReply,
  type SpamdRequest,
  type SpamdVerdict,
} from "../protocols/spamd-front.ts";
import type { Decision } from "../model/answer.ts";
import type { PolicyRequest } from "../policy/request.ts";
import { isOwnAlertMessage, ownAlertMail } from "../policy/own-alert.ts";
import { decideAndReply } from "./decide-and-reply.ts";
import { SpamdFraming } from "./framing.ts";
import { describeTransport, type RequestServer, type Responder } from "./request-server.ts";
import type { Transport } from "./request-server.ts";
import { claimSocketPath, setSocketAccess } from "./unix-socket.ts";
import { type ListenerEvent, type ListenerInput, unlinkSocket } from "./listener.ts";
import { type ConnectionBound, connectionBudget, rateLimitedWarning } from "./connection-bound.ts";
import { listenBounded } from "./bounded-server.ts";

export type SpamdFrontInput = ListenerInput;
export type SpamdFrontEvent = ListenerEvent;

const OWN_ALERT_NOTE = "not scanned: mailpolicyd's own alert mail";

/** The request as the engine sees it, with the parsed spamd request it came from (for the reply). */
type FrontRequest = Extract<PolicyRequest, { form: "message" }> & { spamd: SpamdRequest };

/** The words of the front's answer to one decided request; counts it and logs it. */
function replyFormat(settings: () => SpamdConfig, front: SpamFrontMetrics, log: Logger) {
  return (decision: Decision, policyRequest: PolicyRequest): string | Uint8Array => {
    const request = (policyRequest as FrontRequest).spamd;
    const config = settings();
    front.inFlight--;
    // The bytes kept: the bound the framing cut at, read at start (a reload's takes a restart), less what
    // a head over MAX_HEAD_BYTES took of it; both without the mbox copy's envelope lines, not the message's.
    const own = request.envelopeBytes;
    const notes = request.truncated
      ? [`not scanned: over ${request.message.length - own} bytes (message of ${request.size - own} bytes)`]
      : [];
    const verdict = spamVerdict(decision, thresholds(config), notes);
    recordSpamScan(front, verdict, request.truncated);
    const fields = {
      action: verdict.action,
      score: verdict.score.toFixed(2),
      symbols: verdict.symbols.map((symbol) => symbol.name).join(",") || undefined,
      sender: request.envelope.sender,
      id: request.envelope.queueId,
      size: request.size,
      truncated: request.truncated || undefined,
      protocol: `${request.verb} ${request.protocol}/${request.version}`,
    };
    if (verdict.action === "no action") log.debug("spamd", "scanned", fields);
    else log.info("spamd", "scanned", fields);
    // Refused either way: with an error for the part not held, or with EX_TEMPFAIL below.
    if (request.truncated && (request.verb === "PROCESS" || request.verb === "HEADERS")) {
      logProcessRefused(log, request);
    }
    // SpamAssassin's protocol has no "try later": an error reply, which Exim's `spam =` treats as a defer.
    if (verdict.action === "soft reject" && request.protocol === "SPAMC") {
      return formatSpamdError("SPAMC", "EX_TEMPFAIL", decision.message ?? "try again later");
    }
    const { reply, namesNotShown } = spamdReply(request, verdict);
    if (namesNotShown > 0) logNamesNotShown(log, request, verdict, namesNotShown);
    return reply;
  };
}

/**
 * PROCESS (and HEADERS) of a message over max_message_size is refused: the front holds only that much of it
 * and cannot answer the rest. spamc then passes the message on unchanged, but under `-x` it prints nothing
 * and exits 74 (EX_IOERR) for any refusal, which an Exim pipe transport takes for a permanent failure
 * (temp_errors 75:73): the postmaster needs to know, and spamc's `-s` at most max_message_size is the cure
 * (spamc then passes a larger message on itself, exit 0 even under -x).
 */
function logProcessRefused(log: Logger, request: SpamdRequest): void {
  const own = request.envelopeBytes;
  log.warn("spamd", `${request.verb} of a message over max_message_size refused (spamc -x exits 74)`, {
    size: request.size - own,
    max_message_size: request.message.length - own,
    sender: request.envelope.sender,
    id: request.envelope.queueId,
    hint: "spamc -s at most max_message_size passes larger messages on unchanged",
  });
}

/**
 * SYMBOLS, and the tests= list of the X-Spam-Status header PROCESS and HEADERS add, answer only the rule
 * names that fit in what spamc holds (protocols/spamd-front.ts, symbolsList and spamHeaders): no item of a
 * list may say that others were left out, so this line says it, beside the "scanned" line that names them
 * all. (RSPAMC's SYMBOLS is answered as its CHECK, and a truncated PROCESS with an error: nothing left out.)
 */
function logNamesNotShown(log: Logger, request: SpamdRequest, verdict: SpamdVerdict, notShown: number): void {
  const list = request.verb === "SYMBOLS" ? "SYMBOLS" : "X-Spam-Status tests=";
  log.info("spamd", `${list}: rule names left out, over what spamc holds`, {
    shown: verdict.symbols.length - notShown,
    not_shown: notShown,
    bytes: SPAMC_ADDED_BYTES,
  });
}

const thresholds = (config: SpamdConfig) => ({ mark: config.markThreshold, reject: config.rejectThreshold });

export const spamdFrontActor = defineActor<SpamdFrontInput, SpamdFrontEvent>(({ input, fail }) => {
  const { log } = input;
  let config = input.config;
  const spamd = config.spamd;
  if (!spamd) throw new Error("spamd front started without a [spamd] section");
  const settings = () => config.spamd ?? spamd;
  // Kept across restarts of the front, as the daemon's other counters are (scans of a failed front's
  // connections still end, each counting itself out of inFlight).
  const front = input.metrics.spamFront ??= createSpamFrontMetrics();
  const maxMessageSize = spamd.maxMessageSize;
  const format = replyFormat(settings, front, log);
  const decide = decideAndReply(input.engine, input.metrics, log, format);

  // Garbage or silence in a loop: a line per WARN_EVERY_MS at most, with the number since the last.
  const badRequest = rateLimitedWarning(log, "spamd", "bad request");
  const noRequest = rateLimitedWarning(log, "spamd", "client sent no complete request in time");
  // The daemon's own alert mail is answered unscanned (policy/own-alert.ts): it quotes a spammer's subjects.
  let ownAlert = ownAlertMail(config.alerts);
  const answerOwnAlert = (request: SpamdRequest, responder: Responder) => {
    const verdict = spamVerdict({ action: "accept" }, thresholds(settings()), [OWN_ALERT_NOTE]);
    recordSpamScan(front, verdict, false);
    const { sender, recipients, queueId } = request.envelope;
    log.info("spamd", "the daemon's own alert mail, not scanned", {
      sender,
      recipients: recipients.join(","),
      id: queueId,
    });
    responder.reply(formatSpamdReply(request, verdict));
  };
  const answer = (bytes: Uint8Array, responder: Responder) => {
    const started = performance.now();
    const parsed = parseSpamdRequest(bytes, maxMessageSize);
    if (!parsed.ok) {
      badRequest({ error: parsed.reason, bytes: bytes.length });
      recordSpamError(front);
      return responder.reply(formatSpamdError(parsed.protocol, parsed.code, parsed.reason));
    }
    const request = parsed.request;
    if (request.verb === "PING") return responder.reply(PONG_REPLY);
    if (request.verb === "SKIP") return responder.reply("");
    if (isOwnAlertMessage(request.envelope, ownAlert)) return answerOwnAlert(request, responder);
    front.inFlight++;
    const { envelope, size, truncated } = request;
    // `bytes` may be the runtime's read buffer, valid only until this returns; the concerns read the
    // message later: a copy of the kept bytes (the read buffer of a larger one is let go).
    const message = request.message.slice();
    const policyRequest: FrontRequest = {
      form: "message",
      envelope,
      message,
      size,
      truncated,
      spamd: { ...request, message },
    };
    decide(policyRequest, started, responder);
  };

  const servers: RequestServer[] = [];
  const framing = new SpamdFraming(MAX_HEAD_BYTES, maxMessageSize);
  // Connections still sending and scans being decided: each holds up to max_message_size. A refusal is
  // a scan error in /metrics and worded for spamc (framing.ts, busyReply).
  const busy = rateLimitedWarning(log, "spamd", "too many scans in flight: answering EX_TEMPFAIL", "refused");
  const budget = connectionBudget();
  const bound: ConnectionBound = {
    maxConnections: Math.min(spamd.maxScans, budget.max),
    // Over listen and socket together: each connection holds up to max_message_size (docs/spamd-front.md).
    unanswered: { count: 0 },
    budget,
    onBusy() {
      recordSpamError(front);
      busy({ max_scans: spamd.maxScans });
    },
  };
  const serve = (transport: Transport) => {
    const { server, listening } = listenBounded(log, "spamd", bound, {
      transport,
      framing,
      timeoutMs: spamd.timeoutMs,
      onRequest: answer,
      onTimeout(bytes, responder) {
        noRequest({ timeout_ms: spamd.timeoutMs, bytes });
        recordSpamError(front);
        responder.reply(formatSpamdError("SPAMC", "EX_TIMEOUT", "timeout waiting for the request"));
      },
      // Not persistent, and a timeout is answered: only for the type (request-server.ts).
      onClosed: (reason, bytes) => log.warn("spamd", "connection closed", { reason, bytes }),
    }, fail);
    servers.push(server);
    return listening;
  };

  let ownsPath = false;
  let closed = false;
  const path = spamd.socket;
  (async () => {
    const tcp = spamd.listen ? serve(spamd.listen) : undefined;
    if (path) {
      await claimSocketPath(path);
      if (closed) return;
      await serve({ path });
      ownsPath = true;
      setSocketAccess(path, config.daemon.socketMode, config.daemon.socketGroup, log, "spamd");
    }
    const tcpBound = tcp && await tcp;
    log.info("spamd", "listening", {
      tcp: tcpBound && describeTransport(tcpBound),
      socket: path,
      mark_threshold: spamd.markThreshold,
      reject_threshold: spamd.rejectThreshold,
      max_message_size: maxMessageSize,
    });
  })().catch(fail);

  const removePath = () => {
    if (!ownsPath || !path) return;
    unlinkSocket(path);
    ownsPath = false;
  };

  return {
    receive(event) {
      if (event.type === "drain") {
        removePath();
        Promise.all(servers.map((server) => server.drain(event.graceMs)))
          .then((left) => event.done(left.reduce((sum, n) => sum + n, 0)), () => event.done(-1));
        return;
      }
      // [spamd] removed, or a setting the front binds or bounds with changed: the daemon says they wait for
      // its restart (config/start-only.ts), also while this actor is down.
      config = event.config;
      ownAlert = ownAlertMail(config.alerts);
    },
    stop() {
      closed = true;
      for (const server of servers) server.stop();
      removePath();
    },
  };
});
