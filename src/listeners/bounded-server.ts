// A request server (request-server.ts) as the listeners start it: within their connection bound
// (connection-bound.ts), a client's connection error logged at debug, and a promise that settles once it
// listens. The policy and Postfix listeners' servers (listener.ts, serverSet), the control listeners'
// (control/serve.ts) and the spamd front's (spamd-front.ts) start this way.
import type { Logger } from "../log.ts";
import type { ConnectionBound } from "./connection-bound.ts";
import {
  listenForRequests,
  type RequestServer,
  type RequestServerOptions,
  type Transport,
} from "./request-server.ts";

/** What the listener gives a server of its own; the rest comes from listenBounded. */
export type BoundedServerOptions = Omit<
  RequestServerOptions,
  keyof ConnectionBound | "unansweredTogether" | "onClientError" | "onError" | "onListening"
>;

export interface BoundedServer {
  server: RequestServer;
  /** Resolves with the address bound (a TCP port 0 made real); rejects if it cannot listen. */
  listening: Promise<Transport>;
}

/**
 * Starts a server on options.transport within `bound`, logging a client's connection error at debug under
 * `source`. An error before it listens rejects `listening`; one after goes to `onError`.
 */
export function listenBounded(
  log: Logger,
  source: string,
  bound: ConnectionBound,
  options: BoundedServerOptions,
  onError: (error: Error) => void,
): BoundedServer {
  let resolve!: (bound: Transport) => void;
  let reject!: (error: Error) => void;
  const listening = new Promise<Transport>((settle, fail) => {
    resolve = settle;
    reject = fail;
  });
  let up = false;
  const server = listenForRequests({
    ...options,
    maxConnections: bound.maxConnections,
    unansweredTogether: bound.unanswered,
    budget: bound.budget,
    onBusy: bound.onBusy,
    onClientError: (code) => log.debug(source, "client connection error", { error: code }),
    onError: (error) => up ? onError(error) : reject(error),
    onListening: (transport) => {
      up = true;
      resolve(transport);
    },
  });
  return { server, listening };
}
