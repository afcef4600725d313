// The policy socket Exim's ${readsocket} talks to. Exim writes its request, half-closes (SHUT_WR) and
// reads to EOF, so the server allows half-open sockets and answers after the await, then ends; a client
// that ends its line with \n and waits (monit, socat) is answered at the newline.
import { unlinkSync } from "node:fs";
import net from "node:net";
import type { Config } from "../config/types.ts";
import type { Logger } from "../log.ts";
import type { PolicyRequest } from "../policy/request.ts";
import { formatVerdict, type Verdict } from "../policy/verdict.ts";
import { formatAttributes } from "../protocols/attributes.ts";
import {
  formatErrorReply,
  formatLegacyReply,
  MAX_REQUEST_BYTES,
  parseReadsocketRequest,
  type ReadsocketRequest,
} from "../protocols/readsocket.ts";
import { defineActor, liveActor } from "./../actors/actor.ts";
import { type Metrics, type RecordedAction, recordRequest } from "../control/metrics.ts";
import { claimSocketPath, setSocketAccess } from "./unix-socket.ts";

export interface PolicyListenerInput {
  config: Config;
  log: Logger;
  metrics: Metrics;
}

export type PolicyListenerEvent = { type: "config"; config: Config };

function describe(request: PolicyRequest): Record<string, string | undefined> {
  if (request.form === "legacy") return { key: request.key };
  const { sender, recipient, client_address, instance } = request.attributes;
  return { stage: request.stage, sender, recipient, client: client_address, instance };
}

export const policyListenerActor = defineActor<PolicyListenerInput, PolicyListenerEvent>(
  ({ input, system, fail }) => {
    const { log } = input;
    let config = input.config;
    const path = config.daemon.policySocket;
    const sockets = new Set<net.Socket>();
    let listening = false;
    let closed = false;

    const failReply = (form: "legacy" | "attributes"): string => {
      const closed = config.daemon.failMode === "closed";
      if (form === "legacy") return formatLegacyReply(closed);
      return closed
        ? formatAttributes([["action", "defer"], [
          "message",
          "mail policy service unavailable, try again later",
        ]])
        : "action=accept";
    };

    const badRequestReply = (parsed: Extract<ReadsocketRequest, { kind: "invalid" }>): string =>
      parsed.form === "legacy"
        ? formatErrorReply(parsed.reason)
        : formatAttributes([["action", "defer"], ["message", `mailpolicyd: bad request: ${parsed.reason}`]]);

    const answer = (socket: net.Socket, bytes: Buffer) => {
      const started = performance.now();
      const done = (action: RecordedAction, rule?: string) =>
        recordRequest(input.metrics, action, rule, (performance.now() - started) / 1000);
      const parsed = parseReadsocketRequest(bytes);
      if (parsed.kind === "invalid") {
        log.warn("policy", "bad request", { error: parsed.reason, form: parsed.form, bytes: bytes.length });
        done("error");
        return socket.end(badRequestReply(parsed));
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
      const counters = liveActor(system, "counters");
      const failed = () => {
        done(config.daemon.failMode === "closed" ? "defer" : "accept", `fail-${config.daemon.failMode}`);
        return failReply(request.form);
      };
      if (!counters) {
        log.warn("policy", `counters down, answering fail-${config.daemon.failMode}`, describe(request));
        return socket.end(failed());
      }
      counters.send({
        type: "hit",
        request,
        reply: (verdict: Verdict | undefined) => {
          if (!verdict) {
            const reply = failed();
            return void (!socket.destroyed && socket.end(reply));
          }
          done(verdict.action, verdict.outcome?.limit.name);
          if (verdict.outcome && verdict.action !== "accept") {
            log.info("policy", verdict.action, {
              rule: verdict.outcome.limit.name,
              key: verdict.outcome.key,
              count: Math.ceil(verdict.outcome.level),
            });
          } else if (log.enabled("debug")) {
            log.debug("policy", "request", {
              ...describe(request),
              action: verdict.action,
              over: verdict.over,
            });
          }
          if (socket.destroyed) return;
          socket.end(request.form === "legacy" ? formatLegacyReply(verdict.over) : formatVerdict(verdict));
        },
      });
    };

    const serve = (socket: net.Socket) => {
      sockets.add(socket);
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const finish = (request: Buffer) => {
        if (done) return;
        done = true;
        socket.setTimeout(0);
        answer(socket, request);
      };
      socket.setTimeout(config.daemon.requestTimeoutMs);
      socket.on("data", (chunk: Buffer) => {
        if (done) return;
        const newline = chunk.indexOf(0x0a);
        chunks.push(newline >= 0 ? chunk.subarray(0, newline + 1) : chunk);
        size += chunk.length;
        if (newline >= 0 || size > MAX_REQUEST_BYTES) finish(Buffer.concat(chunks));
      });
      socket.on("end", () => finish(Buffer.concat(chunks)));
      socket.on("timeout", () => {
        if (done) return;
        done = true;
        log.warn("policy", "client sent no complete request in time", {
          timeout_ms: config.daemon.requestTimeoutMs,
          bytes: size,
        });
        socket.end(formatErrorReply("timeout waiting for request"));
        socket.destroySoon?.();
      });
      // EPIPE/ECONNRESET: the client (Exim after its own timeout) left before the answer. Nothing to do.
      socket.on("error", (error: NodeJS.ErrnoException) => {
        log.debug("policy", "client connection error", { error: error.code ?? error.message });
      });
      socket.on("close", () => sockets.delete(socket));
    };

    const server = net.createServer({ allowHalfOpen: true }, serve);
    server.on("error", (error) => fail(error));

    (async () => {
      await claimSocketPath(path);
      if (closed) return;
      server.listen(path, () => {
        listening = true;
        try {
          setSocketAccess(path, config.daemon.socketMode, config.daemon.socketGroup, log, "policy");
        } catch (error) {
          return fail(error);
        }
        log.info("policy", "listening", { socket: path, mode: config.daemon.socketMode.toString(8) });
      });
    })().catch(fail);

    return {
      receive(event) {
        if (event.type === "config") {
          if (event.config.daemon.policySocket !== path) {
            log.warn("policy", "policy_socket changed: takes effect after a restart", { socket: path });
          }
          config = event.config;
        }
      },
      stop() {
        closed = true;
        server.close();
        for (const socket of sockets) socket.destroy();
        if (listening) {
          try {
            unlinkSync(path);
          } catch { /* already gone */ }
        }
      },
    };
  },
);
