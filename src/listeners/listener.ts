// What the policy listener actors share (Exim's policy-listener.ts, Postfix's postfix-listener.ts): their
// input and events, and the set of request servers each keeps, one per transport (a Unix socket, loopback
// TCP), started, drained and stopped together.
import { unlinkSync } from "node:fs";
import type { Config } from "../config/types.ts";
import type { Metrics } from "../control/metrics.ts";
import type { PolicyEngine } from "../engine/policy-engine.ts";
import type { Logger } from "../log.ts";
import { type BoundedServerOptions, listenBounded } from "./bounded-server.ts";
import { connectionBound, rateLimitedWarning } from "./connection-bound.ts";
import type { RequestServer, Transport } from "./request-server.ts";

export interface ListenerInput {
  config: Config;
  log: Logger;
  metrics: Metrics;
  engine: PolicyEngine;
}

export type ListenerEvent =
  | { type: "config"; config: Config }
  /** Stop accepting, answer what was accepted; `done` gets the number left unanswered after graceMs. */
  | { type: "drain"; graceMs: number; done(unanswered: number): void };

/** What a listener tells each of its servers; the set adds the connection bound and the error handling. */
export type ServeOptions = Omit<BoundedServerOptions, "onClosed">;

export interface ServerSet {
  /** A server on options.transport; resolves with the address bound. Fails the actor once listening(). */
  serve(options: ServeOptions): Promise<Transport>;
  /** Every server is up: from now on a server's error fails the actor (the supervisor restarts it). */
  listening(): void;
  /** Drains every server at once; resolves with the number left unanswered in all. */
  drain(graceMs: number): Promise<number>;
  stop(): void;
}

/**
 * The servers of the listener `source`: each holds at most max_connections unanswered (connection-bound.ts),
 * logs a client's connection error at debug (bounded-server.ts) and a connection it closes for what its
 * client did as a warning, and fails the actor on its own error once listening.
 */
export function serverSet(
  config: Config,
  log: Logger,
  source: string,
  fail: (error: unknown) => void,
): ServerSet {
  const servers: RequestServer[] = [];
  const bound = connectionBound(log, source, config.daemon.maxConnections);
  const closed = rateLimitedWarning(log, source, "connection closed");
  let up = false;
  return {
    serve(options) {
      const { server, listening } = listenBounded(
        log,
        source,
        bound,
        { ...options, onClosed: (reason, bytes) => closed({ reason, bytes }) },
        // Before listening(), the error of a server already up is dropped (the set is starting), as before.
        (error) => {
          if (up) fail(error);
        },
      );
      servers.push(server);
      return listening;
    },
    listening: () => up = true,
    async drain(graceMs) {
      const left = await Promise.all(servers.map((server) => server.drain(graceMs)));
      return left.reduce((sum, count) => sum + count, 0);
    },
    stop() {
      for (const server of servers) server.stop();
    },
  };
}

/** Removes a socket path the listener owns; one already gone is fine. */
export function unlinkSocket(path: string): void {
  try {
    unlinkSync(path);
  } catch { /* already gone */ }
}
