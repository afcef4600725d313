// One request per connection, as Exim's ${readsocket} makes them: collect bytes up to the first newline
// or the client's half-close, hand them over with a responder that writes the answer and ends the
// connection. The transport is a Unix socket path or a loopback TCP address; the rest is the same. Half-open sockets are allowed, so a reply after an await still reaches a client that has
// shut down its side (DESIGN §3). On Bun the native Bun.listen is used: measured here 41k against 32k
// requests/s for node:net on the same runtime; elsewhere (Deno) node:net.
import net from "node:net";
import { bunListen } from "../runtime.ts";

/** Answers one request: writes `text` and ends the connection; later calls do nothing. */
export interface Responder {
  reply(text: string): void;
}

/** Where to listen: a Unix socket path, or a TCP address (port 0: any free port). */
export type Transport = { path: string } | { hostname: string; port: number };

export function describeTransport(transport: Transport): string {
  if ("path" in transport) return transport.path;
  const host = transport.hostname.includes(":") ? `[${transport.hostname}]` : transport.hostname;
  return `${host}:${transport.port}`;
}

export interface RequestServerOptions {
  transport: Transport;
  maxBytes: number;
  /** Connections accepted and not yet answered; one more is told "error busy" and closed at once. */
  maxConnections: number;
  /** A connection was refused for maxConnections. */
  onBusy(): void;
  timeoutMs: number;
  /**
   * The request is `bytes` up to the first newline; more may follow, to be ignored. `bytes` may be the
   * runtime's read buffer: use them before returning, keep no reference.
   */
  onRequest(bytes: Uint8Array, responder: Responder): void;
  /** No complete request within timeoutMs: reply once, the connection then ends. */
  onTimeout(bytesSoFar: number, responder: Responder): void;
  /** EPIPE/ECONNRESET: the client (Exim after its own timeout) left before the answer. */
  onClientError(code: string): void;
  onError(error: Error): void;
  /** Listening; for TCP `bound` carries the port actually bound (port 0 asks for any free one). */
  onListening(bound: Transport): void;
}

export interface RequestServer {
  /**
   * Stops accepting connections and resolves once every accepted one has had its answer, or after graceMs,
   * with the number still unanswered then. The caller stops the server afterwards.
   */
  drain(graceMs: number): Promise<number>;
  stop(): void;
}

/** Connections accepted and not yet answered (nor gone), for a stop that answers them first. */
interface Unanswered {
  count: number;
  lastAccept: number; // performance.now() of the latest accept
  /** While a drain waits for quiet: replies kept back (connection, text, connection, text…), see drain. */
  held: Array<Connection | string> | undefined;
}

// deno-lint-ignore no-explicit-any
type AnySocket = any;

// After a reply sent before the client finished sending (a line over maxBytes, bytes after the newline, a
// timeout), the connection lingers: it reads and drops what still comes until the client half-closes, for
// at most LINGER_MS and LINGER_BYTES. Closing a socket with unread bytes makes the kernel send a reset
// instead of the end of the stream, and the client may then lose the reply.
const LINGER_MS = 1000;
const LINGER_BYTES = 1024 * 1024;

// One object per connection, its own responder: no closure per connection. It sits in `waiting` (at
// `slot`) from accept until its request is complete, for the timeout sweep, and again while it lingers.
class Connection implements Responder {
  chunks: Uint8Array[] | undefined = undefined;
  size = 0;
  done = false;
  replied = false;
  slot = -1;
  unread = false; // the client may still be sending: the reply must not close the socket at once
  lingerStart = 0;
  discarded = 0;
  readonly started = performance.now();
  constructor(
    readonly socket: AnySocket,
    readonly node: boolean,
    readonly unanswered: Unanswered,
    readonly linger: (c: Connection) => void,
  ) {
    unanswered.count++;
    unanswered.lastAccept = this.started;
  }

  reply(text: string): void {
    if (this.replied) return;
    this.replied = true;
    this.unanswered.count--;
    if (this.unanswered.held) this.unanswered.held.push(this, text);
    else this.write(text);
  }

  write(text: string): void {
    if (this.node) {
      if (this.socket.destroyed) return;
      // node:net reads on after end() until the client half-closes (allowHalfOpen), then closes: only bounded.
      this.socket.end(text);
      if (!this.socket.readableEnded) this.linger(this);
    } else if (!this.unread) this.socket.end(text); // Bun: end() closes the socket at once
    else {
      const bytes = Buffer.from(text);
      const written = this.socket.write(bytes);
      if (written < bytes.length) { // a full send buffer: not on a fresh connection, but then as before
        this.socket.end(bytes.subarray(Math.max(0, written)));
        return;
      }
      // shutdown(): SHUT_WR, the end of the reply; Bun reads on and closes once the client half-closes too.
      // (shutdown(true) is SHUT_RD, measured here.)
      this.socket.shutdown();
      this.linger(this);
    }
  }

  /** Bytes after the request: dropped; past LINGER_BYTES the connection is closed (the sweep forgets it). */
  discard(bytes: number): void {
    this.unread = true;
    this.discarded += bytes;
    if (this.discarded > LINGER_BYTES && this.replied) this.close();
  }

  close(): void {
    if (this.node) this.socket.destroy();
    else this.socket.end();
  }

  /** Closed before its request was complete, without an end event (a socket error): nothing to answer. */
  get gone(): boolean {
    return this.node ? this.socket.destroyed : this.socket.readyState < 0;
  }
}

/**
 * Adds a chunk; returns the request once it is complete (newline seen, or too long to wait for more).
 * The usual request comes whole in its first chunk: that chunk itself is returned, no copy.
 */
function collect(connection: Connection, chunk: Uint8Array, maxBytes: number): Uint8Array | undefined {
  const newline = chunk.indexOf(0x0a);
  // More bytes after the newline: the client is still sending, the reply must linger (above).
  if (newline >= 0 && newline !== chunk.length - 1) connection.unread = true;
  if (newline >= 0 && connection.chunks === undefined) return chunk;
  const chunks = connection.chunks ??= [];
  chunks.push(newline >= 0 ? chunk.subarray(0, newline + 1) : chunk);
  connection.size += chunk.length;
  if (newline >= 0) return Buffer.concat(chunks);
  if (connection.size <= maxBytes) return undefined;
  connection.unread = true;
  return Buffer.concat(chunks);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Closing a listening socket resets the connections still in its accept backlog, whose clients may have
// written their request already. So a drain first goes on accepting for at least QUIET_MS and until no
// client has connected for QUIET_MS (a Unix path is unlinked by then, so its backlog only empties), at most
// ACCEPT_ON_MS, then closes. Meanwhile it keeps its replies back: a client answered at once would connect
// again at once, and a TCP listener (which cannot be unlinked) would never see quiet; with them held, every
// client is either accepted or still connecting, and after the close a new connect is refused (Exim's
// fallback) instead of reset after its write (docs/decisions.md, "Graceful stop").
const QUIET_MS = 25;
const ACCEPT_ON_MS = 500;

/**
 * Accepts until quiet, calls `close`, then waits until nothing accepted is unanswered or graceMs has
 * passed; resolves with what is left unanswered.
 */
async function drainThenClose(unanswered: Unanswered, graceMs: number, close: () => void): Promise<number> {
  const began = performance.now();
  const deadline = began + graceMs;
  const acceptUntil = began + Math.min(ACCEPT_ON_MS, graceMs / 2);
  const held: Array<Connection | string> = unanswered.held = [];
  do await sleep(5); while (
    performance.now() < acceptUntil &&
    (performance.now() - began < QUIET_MS || performance.now() - unanswered.lastAccept < QUIET_MS)
  );
  close();
  unanswered.held = undefined;
  for (let i = 0; i < held.length; i += 2) (held[i] as Connection).write(held[i + 1] as string);
  while (unanswered.count > 0 && performance.now() < deadline) await sleep(5);
  return Math.max(0, unanswered.count);
}

// At the process's file limit the runtime's accept loop spins (5.3 CPU-s in 10.5 s, measured) and good
// clients wait seconds; refusing past maxConnections keeps the daemon below it. The client gets a reply
// (Exim's snippets log it and accept), not a reset.
const BUSY_REPLY = "error busy: too many connections";

export function listenForRequests(options: RequestServerOptions): RequestServer {
  const unanswered: Unanswered = { count: 0, lastAccept: 0, held: undefined };
  const refuse = (socket: AnySocket) => {
    options.onBusy();
    socket.end(BUSY_REPLY);
  };
  // Connections still waiting for their request, for the timeout sweep: an array with swap-removal rather
  // than a Set, which hashed each connection twice (~0.3 µs per request).
  const waiting: Connection[] = [];
  const watch = (connection: Connection) => {
    connection.slot = waiting.length;
    waiting.push(connection);
  };
  const unwatch = (connection: Connection) => {
    const last = waiting.pop()!;
    if (last !== connection) {
      waiting[connection.slot] = last;
      last.slot = connection.slot;
    }
    connection.slot = -1;
  };
  const linger = (connection: Connection) => {
    connection.lingerStart = performance.now();
    watch(connection);
  };
  const finish = (connection: Connection, bytes: Uint8Array) => {
    if (connection.done) return;
    connection.done = true;
    unwatch(connection);
    options.onRequest(bytes, connection);
  };
  // One sweep for every connection's timeout, rather than a timer per connection. A connection whose
  // socket closed without a request leaves quietly here (Bun: no close handler, which cost ~0.4 µs).
  const sweep = setInterval(() => {
    const now = performance.now();
    for (let i = waiting.length - 1; i >= 0; i--) {
      const connection = waiting[i];
      if (i >= waiting.length) continue;
      const gone = connection.gone;
      if (connection.done) { // lingering after its reply
        if (!gone && now - connection.lingerStart < LINGER_MS) continue;
        unwatch(connection);
        if (!gone) connection.close();
        continue;
      }
      if (!gone && now - connection.started < options.timeoutMs) continue;
      connection.done = true;
      unwatch(connection);
      connection.unread = true; // it may send more after the timeout's reply
      if (gone) unanswered.count--; // never to be answered
      else options.onTimeout(connection.size, connection);
    }
  }, Math.max(10, Math.min(250, options.timeoutMs / 4)));

  if (bunListen) {
    let listener: ReturnType<typeof bunListen> | undefined;
    const transport = options.transport;
    try {
      listener = bunListen({
        ...("path" in transport ? { unix: transport.path } : transport),
        allowHalfOpen: true,
        socket: {
          open(socket: AnySocket) {
            if (unanswered.count >= options.maxConnections) return refuse(socket);
            const connection = new Connection(socket, false, unanswered, linger);
            socket.data = connection;
            watch(connection);
          },
          data(socket: AnySocket, chunk: Uint8Array) {
            const connection = socket.data as Connection | undefined;
            if (!connection) return; // refused: busy
            if (connection.done) return connection.discard(chunk.length);
            const request = collect(connection, chunk, options.maxBytes);
            if (request) finish(connection, request);
          },
          end(socket: AnySocket) {
            const connection = socket.data as Connection | undefined;
            if (!connection) return; // refused: busy
            if (connection.done) {
              // All the client sent has been read: a reply still to come may close at once, a lingering
              // connection closes now.
              connection.unread = false;
              if (connection.slot >= 0) {
                unwatch(connection);
                socket.end();
              }
              return;
            }
            finish(connection, connection.chunks ? Buffer.concat(connection.chunks) : new Uint8Array(0));
          },
          error(_socket: AnySocket, error: NodeJS.ErrnoException) {
            options.onClientError(error.code ?? error.message);
          },
        },
      });
      const bound = "path" in transport ? transport : { ...transport, port: listener!.port! };
      queueMicrotask(() => options.onListening(bound));
    } catch (error) {
      clearInterval(sweep);
      queueMicrotask(() => options.onError(error as Error));
    }
    return {
      drain(graceMs) {
        return drainThenClose(unanswered, graceMs, () => listener?.stop(false));
      },
      stop() {
        clearInterval(sweep);
        listener?.stop(true);
      },
    };
  }

  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    if (unanswered.count >= options.maxConnections) return refuse(socket);
    sockets.add(socket);
    const connection = new Connection(socket, true, unanswered, linger);
    watch(connection);
    socket.on("data", (chunk: Buffer) => {
      if (connection.done) return connection.discard(chunk.length);
      const request = collect(connection, chunk, options.maxBytes);
      if (request) finish(connection, request);
    });
    socket.on("end", () => finish(connection, Buffer.concat(connection.chunks ?? [])));
    socket.on("error", (error: NodeJS.ErrnoException) => options.onClientError(error.code ?? error.message));
    socket.on("close", () => {
      sockets.delete(socket);
      if (!connection.done) unanswered.count--; // closed before its request: never to be answered
      connection.done = true;
      if (connection.slot >= 0) unwatch(connection);
    });
  });
  server.on("error", (error) => options.onError(error));
  const transport = options.transport;
  const listening = () =>
    options.onListening(
      "path" in transport ? transport : { ...transport, port: (server.address() as net.AddressInfo).port },
    );
  if ("path" in transport) server.listen(transport.path, listening);
  else server.listen({ host: transport.hostname, port: transport.port }, listening);
  return {
    drain(graceMs) {
      return drainThenClose(unanswered, graceMs, () => server.close());
    },
    stop() {
      clearInterval(sweep);
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}
