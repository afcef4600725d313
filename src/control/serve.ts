// Serves the control API over HTTP/1.1 (http-message.ts) on the request server, on a Unix socket or on
// loopback TCP: the same server as the policy listeners, in both runtimes, with their connection bound and
// timeouts. Bun.serve and Deno.serve, used before, bound neither the connections they hold nor (Deno) a
// client that never finishes its head: a local flood exhausted the process's descriptors, and the policy
// listeners with them (docs/decisions.md, "The control listeners on the request server").
import type { Logger } from "../log.ts";
import { listenBounded } from "../listeners/bounded-server.ts";
import { connectionBound } from "../listeners/connection-bound.ts";
import type { Responder } from "../listeners/request-server.ts";
import { errorResponse, HttpFraming, parseHttpRequest, responseBytes } from "./http-message.ts";

export interface RunningServer {
  stop(): void;
}

type Fetch = (request: Request) => Response | Promise<Response>;

// A control client is a person, a monitor or a dashboard: a few at a time. A request's head must be in
// within timeoutMs (Bun.serve's idle timeout was 10 s).
const CONTROL_BOUNDS = { maxConnections: 64, timeoutMs: 10_000 };

const framing = new HttpFraming();

/** Resolves once listening; rejects if it cannot listen (a port taken, a path not writable). */
export function serveHttp(
  where: { unix: string } | { hostname: string; port: number },
  fetch: Fetch,
  log: Logger,
  bounds = CONTROL_BOUNDS,
): Promise<RunningServer> {
  const { timeoutMs } = bounds;
  const timeoutReply = errorResponse(408, `no complete request within ${timeoutMs / 1000} s`);
  const origin = "unix" in where ? "http://localhost" : `http://${where.hostname}:${where.port}`;
  const answer = async (bytes: Uint8Array, responder: Responder) => {
    const parsed = parseHttpRequest(bytes);
    if ("status" in parsed) {
      log.debug("control", "bad HTTP request", { status: parsed.status, reason: parsed.reason });
      return responder.reply(errorResponse(parsed.status, parsed.reason));
    }
    let request: Request;
    try {
      const body = parsed.method === "GET" || parsed.method === "HEAD" ? undefined : parsed.body;
      // Appended, not resolved against the origin: resolved, `//x/sender?key=K` (or `/\x/…`) read `x` as a
      // host, and DELETE of that path reset K.
      request = new Request(new URL(origin + parsed.target), {
        method: parsed.method,
        headers: parsed.headers,
        body,
      });
    } catch (error) {
      return responder.reply(errorResponse(400, (error as Error).message));
    }
    try {
      responder.reply(await responseBytes(await fetch(request), parsed.method));
    } catch (error) {
      log.error("control", "request failed", { path: parsed.target, error: (error as Error).message });
      responder.reply(errorResponse(500, "internal error; see the daemon's log"));
    }
  };
  const { server, listening } = listenBounded(
    log,
    "control",
    connectionBound(log, "control", bounds.maxConnections),
    {
      transport: "unix" in where ? { path: where.unix } : where,
      framing,
      timeoutMs,
      onRequest: (bytes, responder) => void answer(bytes.slice(), responder),
      onTimeout: (_bytes, responder) => responder.reply(timeoutReply),
      onClosed: () => {}, // not persistent: never called
    },
    (error) => log.error("control", "listener error", { error: error.message }),
  );
  return listening.then(() => ({ stop: () => server.stop() }));
}
