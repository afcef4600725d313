// The control actor: serves the control API (control/app.ts) on the control socket and, when
// control_listen is set, on loopback TCP. It asks the counters actor by message, like the listener.
import { unlinkSync } from "node:fs";
import { resolve } from "node:path";
import type { Config } from "../config/types.ts";
import { type ControlDeps, createControlApp } from "../control/app.ts";
import type { Metrics } from "../control/metrics.ts";
import { CONTROL_SOCKET_LIMIT, CONTROL_TCP_LIMIT, createReadLimit } from "../control/read-limit.ts";
import { type RunningServer, serveHttp } from "../control/serve.ts";
import type { Logger } from "../log.ts";
import { claimSocketPath, setSocketAccess } from "../listeners/unix-socket.ts";
import { defineActor, liveActor } from "./actor.ts";
import type { PolicyEngine } from "../engine/policy-engine.ts";

export interface ControlInput {
  config: Config;
  log: Logger;
  metrics: Metrics;
  version: string;
  actorStates: () => Record<string, string>;
  actorRestarts: () => Record<string, number>;
  engine: PolicyEngine;
  reload: () => { ok: true } | { ok: false; errors: string[] };
}

export type ControlEvent = { type: "config"; config: Config };

const ASK_TIMEOUT_MS = 2000;
// The top senders of a large table are ranked in slices between policy answers (store/top-senders.ts):
// at a million keys under load that takes up to a second or two of wall time, not of blocked time.
const RANKING_TIMEOUT_MS = 10_000;

/** The names a request to the loopback listener may give in its Host header (at any port: control/app.ts). */
function loopbackHostnames(config: Config): string[] {
  return ["127.0.0.1", "localhost", "[::1]", config.daemon.controlListen?.hostname ?? "127.0.0.1"]
    .map((host) => host.includes(":") && !host.startsWith("[") ? `[${host}]` : host);
}

export const controlActor = defineActor<ControlInput, ControlEvent>(({ input, system, fail }) => {
  const { log, metrics } = input;
  let config = input.config;
  const path = config.daemon.controlSocket;
  const servers: RunningServer[] = [];
  let closed = false;
  let ownsSocket = false;

  const askCounters: ControlDeps["askCounters"] = (event) =>
    new Promise((resolve) => {
      const counters = liveActor(system, "counters");
      if (!counters) return resolve(undefined);
      const timeoutMs = event.type === "senders" ? RANKING_TIMEOUT_MS : ASK_TIMEOUT_MS;
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      counters.send({
        ...event,
        reply: (value: unknown) => {
          clearTimeout(timer);
          resolve(value as never);
        },
      });
    });

  const deps: ControlDeps = {
    version: input.version,
    configFile: () => (config.file.startsWith("(") ? config.file : resolve(config.file)),
    ruleNames: () => config.limits.map((limit) => limit.name),
    metrics,
    actorStates: input.actorStates,
    actorRestarts: input.actorRestarts,
    concernHealth: () => input.engine.health(),
    askCounters,
    reload: input.reload,
  };
  const app = createControlApp({ ...deps, readLimit: createReadLimit(CONTROL_SOCKET_LIMIT) });
  // Loopback TCP has no file permissions: anyone on the host may connect, and a browser may be steered
  // to it (DNS rebinding). It serves reads only, to requests addressed to a loopback name.
  // Paced too (control/read-limit.ts): polling loops there must not take the thread that answers Exim.
  const tcpApp = createControlApp({
    ...deps,
    readOnly: true,
    allowedHostnames: loopbackHostnames(config),
    readLimit: createReadLimit(CONTROL_TCP_LIMIT),
  });

  const stopServers = () => {
    for (const server of servers.splice(0)) server.stop();
    if (ownsSocket) {
      ownsSocket = false;
      try {
        unlinkSync(path);
      } catch { /* already gone */ }
    }
  };

  (async () => {
    await claimSocketPath(path);
    if (closed) return;
    servers.push(await serveHttp({ unix: path }, app.fetch, log));
    ownsSocket = true;
    if (closed) return stopServers(); // stopped while it started listening
    setSocketAccess(path, config.daemon.socketMode, config.daemon.controlGroup, log, "control");
    log.info("control", "listening", { socket: path });
    const tcp = config.daemon.controlListen;
    if (tcp) {
      // A taken port must not cost the control socket (status, monit's /health): log and go on.
      try {
        servers.push(await serveHttp(tcp, tcpApp.fetch, log));
        if (closed) return stopServers();
        log.info("control", "listening", { address: `${tcp.hostname}:${tcp.port}`, access: "read-only" });
      } catch (error) {
        log.error("control", "cannot listen on control_listen; the control socket still serves", {
          address: `${tcp.hostname}:${tcp.port}`,
          error: (error as Error).message,
        });
      }
    }
  })().catch(fail);

  return {
    receive(event) {
      if (event.type === "config") config = event.config;
    },
    stop() {
      closed = true;
      stopServers();
    },
  };
});
