// The policy socket and TCP listener Exim's ${readsocket} talks to: parses each request (request-server.ts
// collects it with the readsocket framing, framing.ts), asks the policy engine, and answers in the
// request's form.
import type { PolicyRequest } from "../policy/request.ts";
import { formatBadRequestReply, formatDecision, formatLegacyDecision } from "../engine/reply.ts";
import { decideAndReply } from "./decide-and-reply.ts";
import { headerMemory, newHeadersOnly } from "../policy/header-memory.ts";
import { formatErrorReply, MAX_REQUEST_BYTES, parseReadsocketRequest } from "../protocols/readsocket.ts";
import { defineActor } from "./../actors/actor.ts";
import { recordRequest } from "../control/metrics.ts";
import { describeTransport, type Responder, type Transport } from "./request-server.ts";
import { claimSocketPath, setSocketAccess } from "./unix-socket.ts";
import { readsocketFraming } from "./framing.ts";
import { rateLimitedWarning } from "./connection-bound.ts";
import { type ListenerEvent, type ListenerInput, serverSet, unlinkSocket } from "./listener.ts";

export type PolicyListenerInput = ListenerInput;
export type PolicyListenerEvent = ListenerEvent;

export const policyListenerActor = defineActor<PolicyListenerInput, PolicyListenerEvent>(
  ({ input, fail }) => {
    const { log } = input;
    let config = input.config;
    const path = config.daemon.policySocket;
    let ownsPath = false;
    let closed = false;

    // Exim's RCPT ACL adds an answer's headers for every recipient: each goes into a message once, also
    // across reloads (the actor lives on).
    const firstTime = headerMemory();
    const decide = decideAndReply(
      input.engine,
      input.metrics,
      log,
      (decision, request) =>
        request.form === "attributes"
          ? formatDecision(newHeadersOnly(decision, request.attributes.instance, firstTime))
          : formatLegacyDecision(decision),
    );

    // A client sending garbage or nothing in a loop must not fill the log: a line per WARN_EVERY_MS at most,
    // with the number since the last (connection-bound.ts).
    const badRequest = rateLimitedWarning(log, "policy", "bad request");
    const noRequest = rateLimitedWarning(log, "policy", "client sent no complete request in time");
    // Runs for every request: one closure (the engine's reply) is all it allocates besides the request.
    const answer = (bytes: Uint8Array, responder: Responder) => {
      const started = performance.now();
      const parsed = parseReadsocketRequest(bytes);
      if (parsed.kind === "invalid") {
        badRequest({ error: parsed.reason, form: parsed.form, bytes: bytes.length });
        recordRequest(input.metrics, "error", undefined, (performance.now() - started) / 1000);
        return responder.reply(formatBadRequestReply(parsed.form, parsed.reason));
      }
      let request: PolicyRequest;
      if (parsed.kind === "legacy") request = { form: "legacy", key: parsed.key };
      else {
        request = { form: "attributes", stage: parsed.stage, attributes: parsed.attributes };
        if (parsed.ignored.length > 0) {
          log.debug("policy", "ignored attributes", { names: parsed.ignored.join(",") });
        }
        if (parsed.eightBit) log.debug("policy", "request has raw 8-bit bytes, read as Windows-1252");
      }
      decide(request, started, responder);
    };

    // The same requests on the Unix socket and, when policy_listen is set, on loopback TCP (what the Exim
    // snippets use: docs/exim.md). Either failing fails the actor, which the supervisor restarts.
    const servers = serverSet(config, log, "policy", fail);
    const framing = readsocketFraming(MAX_REQUEST_BYTES);
    const serve = (transport: Transport) =>
      servers.serve({
        transport,
        framing,
        timeoutMs: config.daemon.requestTimeoutMs,
        onRequest: answer,
        onTimeout(bytes, responder) {
          noRequest({ timeout_ms: config.daemon.requestTimeoutMs, bytes });
          responder.reply(formatErrorReply("timeout waiting for request"));
        },
      });
    (async () => {
      await claimSocketPath(path);
      if (closed) return;
      const unix = serve({ path });
      const tcp = config.daemon.policyListen ? serve(config.daemon.policyListen) : undefined;
      await unix;
      ownsPath = true;
      setSocketAccess(path, config.daemon.socketMode, config.daemon.socketGroup, log, "policy");
      const bound = tcp && await tcp;
      servers.listening();
      log.info("policy", "listening", {
        socket: path,
        mode: config.daemon.socketMode.toString(8),
        tcp: bound && describeTransport(bound),
      });
    })().catch(fail);

    const drain = async (graceMs: number): Promise<number> => {
      // The path goes first: a new client then finds no socket (Exim's fallback) instead of waiting in the
      // backlog of a socket about to close.
      if (ownsPath) unlinkSocket(path);
      ownsPath = false;
      return await servers.drain(graceMs);
    };

    return {
      receive(event) {
        if (event.type === "drain") {
          drain(event.graceMs).then(event.done, () => event.done(-1));
          return;
        }
        // A changed policy_socket or policy_listen waits for the daemon's restart; the daemon says so
        // (config/start-only.ts), also while this actor is down.
        if (event.type === "config") config = event.config;
      },
      stop() {
        closed = true;
        servers.stop();
        if (ownsPath) unlinkSocket(path);
      },
    };
  },
);
