// The policy socket Exim's ${readsocket} talks to. Exim writes its request, half-closes (SHUT_WR) and
// reads to EOF, so the server allows half-open sockets and answers after the await, then ends; a client
// that ends its line with \n and waits (monit, socat) is answered at the newline.
import { chmodSync, existsSync, mkdirSync, unlinkSync } from "node:fs";
import net from "node:net";
import { dirname } from "node:path";
import type { Config } from "../config/types.ts";
import type { Logger } from "../log.ts";
import {
  formatErrorReply,
  formatLegacyReply,
  MAX_REQUEST_BYTES,
  parseReadsocketRequest,
} from "../protocols/readsocket.ts";
import { defineActor, liveActor } from "./../actors/actor.ts";
import type { HitVerdict } from "../actors/counters.ts";

export interface PolicyListenerInput {
  config: Config;
  log: Logger;
}

export type PolicyListenerEvent = { type: "config"; config: Config };

/** A live daemon still answering on the path means a second instance: refuse to steal its socket. */
function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createConnection({ path });
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}

export const policyListenerActor = defineActor<PolicyListenerInput, PolicyListenerEvent>(
  ({ input, system, fail }) => {
    const { log } = input;
    let config = input.config;
    const path = config.daemon.policySocket;
    const sockets = new Set<net.Socket>();
    let listening = false;
    let closed = false;

    const failVerdict = (): boolean => config.daemon.failMode === "closed";

    const answer = (socket: net.Socket, request: Buffer) => {
      const parsed = parseReadsocketRequest(request);
      if (parsed.kind === "invalid") {
        log.warn("policy", "bad request", { error: parsed.reason, bytes: request.length });
        return socket.end(formatErrorReply(parsed.reason));
      }
      const counters = liveActor(system, "counters");
      if (!counters) {
        log.warn("policy", `counters down, answering fail-${config.daemon.failMode}`, { key: parsed.key });
        return socket.end(formatLegacyReply(failVerdict()));
      }
      counters.send({
        type: "hit",
        request: { key: parsed.key },
        reply: (verdict: HitVerdict | undefined) => {
          const over = verdict ? verdict.over : failVerdict();
          if (log.enabled("debug")) {
            log.debug("policy", "request", {
              key: parsed.key,
              over,
              count: verdict?.count,
              rule: verdict?.limit,
            });
          }
          if (!socket.destroyed) socket.end(formatLegacyReply(over));
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
      mkdirSync(dirname(path), { recursive: true });
      if (existsSync(path)) {
        if (await socketInUse(path)) throw new Error(`${path} is in use by another process`);
        unlinkSync(path); // left over from a daemon that died without cleaning up
      }
      if (closed) return;
      server.listen(path, () => {
        listening = true;
        chmodSync(path, config.daemon.socketMode);
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
