// Collects each request a framing (framing.ts) cuts out of a connection and hands it over with a responder
// that writes the answer. With Exim's ${readsocket} framing (the default) that is one request per
// connection, up to the first newline or the client's half-close, and the answer ends the connection; a
// persistent framing (Postfix policy delegation) answers request after request on one connection. The
// transport is a Unix socket path or a loopback TCP address; the rest is the same. Half-open sockets are
// allowed, so a reply after an await still reaches a client that has shut down its side (DESIGN §3). On Bun
// the native Bun.listen is used, faster than node:net on the same runtime (docs/decisions.md, "Measured on
// the request path"); elsewhere (Deno) node:net.
import net from "node:net";
import { bunListen } from "../runtime.ts";
import { ENDS_AT_CLOSE, type Framing, readsocketFraming } from "./framing.ts";
import { listenError } from "./listen-error.ts";
import { ownerOnlyUmask } from "./unix-socket.ts";

/**
 * Answers one request: writes `text` and ends the connection (a persistent framing: waits for the next
 * request); later calls for the same request do nothing.
 */
export interface Responder {
  reply(text: string | Uint8Array): void;
  /**
   * Closes the connection without an answer, instead of reply (Postfix policy delegation: a malformed
   * request is logged and the connection closed; Postfix then applies its default_action).
   */
  drop(): void;
  /**
   * The listener's own note of the request it was last given, for onClientLeft: one field written for
   * every request rather than a map from connection to request. Kept until the next request.
   */
  note: unknown;
  /**
   * Persistent only: the client is within an exchange that its next requests complete (a milter's message,
   * whose connection is its own: Postfix does not reconnect within it). A drain then answers them too,
   * within its grace, instead of ending the connection after this answer. Set by the listener.
   */
  exchangeOpen: boolean;
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
  /** How requests are cut out of the bytes; by default Exim's readsocket framing with maxBytes. */
  framing?: Framing;
  /** The bound of the readsocket framing used when no framing is given. */
  maxBytes?: number;
  /**
   * Connections accepted and not yet answered; one more gets the framing's busy reply (Exim's: "error busy";
   * Postfix's: none), then lingers like any answered connection (reads and drops, closes on the client's
   * end or after LINGER_MS).
   */
  maxConnections: number;
  /**
   * Connections unanswered in every server that shares maxConnections (a listener's TCP address and Unix
   * socket: connection-bound.ts); by default this server's alone.
   */
  unansweredTogether?: UnansweredCount;
  /** A connection was refused for maxConnections, or closed at once for the budget. */
  onBusy(): void;
  /**
   * The sockets every server of the process may hold together (connection-bound.ts), kept below the file
   * limit; past it, or past this server's own share (maxConnections, and as many again lingering), a new
   * connection is closed at once, without a reply (lingering costs a descriptor).
   */
  budget?: ConnectionBudget;
  timeoutMs: number;
  /**
   * The request is `bytes` up to the end the framing found; with a framing that is not persistent more may
   * follow, to be ignored. `bytes` may be the runtime's read buffer: use them before returning, keep no
   * reference.
   */
  onRequest(bytes: Uint8Array, responder: Responder): void;
  /** No complete request within timeoutMs: reply once, the connection then ends (framing.answersTimeout). */
  onTimeout(bytesSoFar: number, responder: Responder): void;
  /**
   * A persistent connection's client left without reading its answer: it ended the connection while its
   * request was being decided (`unreadReply` undefined: still to come), or reset it with the answer unread
   * (a socket closed with unread bytes sends a reset). Postfix past its check's timeout does that, then
   * sends the request again on a new connection (postfix-retries.ts). `note`: the responder's.
   */
  onClientLeft?(note: unknown, unreadReply: string | Uint8Array | undefined): void;
  /** EPIPE/ECONNRESET: the client (Exim after its own timeout) left before the answer. */
  onClientError(code: string): void;
  /**
   * The server closes a persistent connection for what its client did: sent more than a request's bound
   * ahead of an answer still to come, did not read its answers, or stopped in the middle of a request.
   * `bytes`: what it had sent of the request(s) then.
   */
  onClosed(reason: string, bytes: number): void;
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

/**
 * Sockets held by all the servers sharing it (from accept to close: waiting for a request, being decided,
 * or lingering), and their bound.
 */
export interface ConnectionBudget {
  held: number;
  readonly max: number;
}

/** Connections accepted and not yet answered (nor gone). */
export interface UnansweredCount {
  count: number;
}

/** This server's unanswered connections, for a stop that answers them first, and its listener's. */
interface Unanswered {
  count: number;
  /** The count maxConnections bounds: this server's and those of the others sharing the bound. */
  together: UnansweredCount;
  lastAccept: number; // performance.now() of the latest accept
  /** While a drain waits for quiet: replies kept back (connection, text, connection, text…), see drain. */
  held: Array<Connection | string | Uint8Array> | undefined;
  /** The listener is closed for a drain: a persistent connection ends after its reply, or now if idle. */
  closing: boolean;
  /**
   * Connections whose request is being decided (or whose refusal is being written): out of `waiting`,
   * their sockets still held, in this server's share and in `budget`, until the reply is written.
   */
  deciding: number;
  budget: ConnectionBudget;
}

/** What a connection needs of its server after a reply (one object per server). */
interface Server {
  framing: Framing;
  /** Reads and drops what the client still sends, for a while (LINGER_MS). */
  linger(connection: Connection): void;
  /** No longer lingering: closed by its reply's end (writeInParts). */
  unlinger(connection: Connection): void;
  /** Waits for the next request (the timeout sweep), and takes one already buffered. */
  next(connection: Connection): void;
  /** The connection is closed for what its client did (RequestServerOptions.onClosed). */
  closing(reason: string, bytes: number): void;
}

// deno-lint-ignore no-explicit-any
type AnySocket = any;

// After a reply sent before the client finished sending (a line over maxBytes, bytes after the newline, a
// timeout), the connection lingers: it reads and drops what still comes until the client half-closes, for
// at most LINGER_MS and LINGER_BYTES. Closing a socket with unread bytes makes the kernel send a reset
// instead of the end of the stream, and the client may then lose the reply.
const LINGER_MS = 1000;
const LINGER_BYTES = 1024 * 1024;

// A persistent connection's answers its client has not read, past which it is closed (Postfix reads each
// answer before its next request). Bun: when the kernel's send buffer is full (a short write, a few hundred
// KB); node:net queues in the process, so up to this many bytes.
const UNREAD_ANSWER_BYTES = 1024 * 1024;

// Bun: a reply up to this size is written with end(data) in one call (policy answers are tens of bytes);
// a larger one (a spamd PROCESS answer, a control listener's /senders) part by part (writeInParts). Well
// below the smallest send buffer, a loopback TCP socket's first 16 KB.
const WHOLE_REPLY_BYTES = 8 * 1024;

/** A connection of the server answered, or gone without an answer: out of both counts. */
function answered(unanswered: Unanswered): void {
  unanswered.count--;
  unanswered.together.count--;
}

/** A connection's decision is being written (or it is dropped): from here its socket lingers or closes. */
function decided(unanswered: Unanswered): void {
  unanswered.deciding--;
  unanswered.budget.held--;
}

// One object per connection, its own responder: no closure per connection. It sits in `waiting` (at
// `slot`) from accept until its request is complete, for the timeout sweep, and again while it lingers.
class Connection implements Responder {
  buffer: Buffer | undefined = undefined; // bytes of a request that did not come whole in one chunk
  size = 0; // bytes in buffer
  scanned = 0; // the first bytes of buffer, where the framing found no end of a request
  persistent: boolean;
  done = false;
  replied = false;
  slot = -1;
  unread = false; // the client may still be sending: the reply must not close the socket at once
  lingerStart = 0;
  discarded = 0;
  pending: Uint8Array | undefined = undefined; // Bun: the part of a large reply the socket has yet to take
  expected = -1; // the request's whole length, once the framing knows it (lengthKnown); else -1
  dropping = 0; // bytes of a request over the framing's bound still to read and drop (expected)
  halfClosed = false; // persistent: the client has sent all it will
  started = performance.now(); // of the wait for the request (persistent: reset after each reply)
  waitMs: number; // the sweep's timeout for this wait
  constructor(
    readonly socket: AnySocket,
    readonly node: boolean,
    readonly unanswered: Unanswered,
    readonly server: Server,
    timeoutMs: number,
  ) {
    this.persistent = server.framing.persistent;
    this.waitMs = timeoutMs;
    unanswered.count++;
    unanswered.together.count++;
    unanswered.lastAccept = this.started;
  }

  note: unknown = undefined;
  exchangeOpen = false;
  lastReply: string | Uint8Array | undefined = undefined; // persistent: for onClientLeft

  reply(text: string | Uint8Array): void {
    if (this.replied) return;
    this.replied = true;
    this.lastReply = text;
    answered(this.unanswered);
    if (this.unanswered.held) this.unanswered.held.push(this, text);
    else this.write(text);
  }

  drop(): void {
    if (this.replied) return;
    this.replied = true;
    this.note = undefined;
    answered(this.unanswered);
    decided(this.unanswered);
    this.persistent = false;
    this.close();
  }

  write(text: string | Uint8Array): void {
    // Decided: counted again if it waits for its next request (next) or lingers (linger).
    decided(this.unanswered);
    // A client that half-closed after sending requests ahead gets all their answers, then the end.
    // In a drain, only a client within an exchange waits for its next request.
    const waitsOn = !this.unanswered.closing || this.exchangeOpen;
    if (this.persistent && (!this.halfClosed || this.size > 0) && waitsOn) {
      return this.answerAndWait(text);
    }
    if (this.node) {
      if (this.socket.destroyed) return;
      // node:net reads on after end() until the client half-closes (allowHalfOpen), then closes: only bounded.
      this.socket.end(text);
      if (!this.socket.readableEnded) this.server.linger(this);
    } else if (text.length > WHOLE_REPLY_BYTES) {
      this.writeInParts(typeof text === "string" ? Buffer.from(text) : text);
    } else if (!this.unread) this.socket.end(text); // Bun: end() closes the socket at once
    else {
      const bytes = typeof text === "string" ? Buffer.from(text) : text;
      const written = this.socket.write(bytes);
      if (written < bytes.length) { // a full send buffer: not on a fresh connection, but then as before
        this.socket.end(bytes.subarray(Math.max(0, written)));
        return;
      }
      // shutdown(): SHUT_WR, the end of the reply; Bun reads on and closes once the client half-closes too.
      // (shutdown(true) is SHUT_RD, measured here.)
      this.socket.shutdown();
      this.server.linger(this);
    }
  }

  /**
   * Bun: a large reply, written as the client reads it (drain). Bun's end(data) writes what the socket
   * takes and drops the rest: a reply over the send buffer (~200 KB on a Unix socket) was cut. It lingers
   * meanwhile; each part written restarts the clock, so only a client that stops reading is closed.
   */
  writeInParts(bytes: Uint8Array): void {
    const written = this.socket.write(bytes);
    if (written < 0) return; // closed meanwhile: the client is gone
    if (written < bytes.length) {
      if (this.pending === undefined) this.server.linger(this);
      this.lingerStart = performance.now();
      this.pending = bytes.subarray(written);
      return;
    }
    const lingering = this.pending !== undefined;
    this.pending = undefined;
    if (!this.unread) {
      this.socket.end();
      if (lingering) this.server.unlinger(this);
      return;
    }
    this.socket.shutdown();
    if (!lingering) this.server.linger(this);
  }

  /** A persistent connection's answer: written, then the connection waits for its next request. */
  answerAndWait(text: string | Uint8Array): void {
    if (this.gone) return;
    if (this.node) {
      this.socket.write(text);
      if (this.socket.writableLength > UNREAD_ANSWER_BYTES) return this.answersUnread();
    } else {
      const bytes = typeof text === "string" ? Buffer.from(text) : text;
      const written = this.socket.write(bytes);
      if (written < 0) return this.socket.terminate(); // closed meanwhile: the client is gone
      if (written < bytes.length) return this.answersUnread();
    }
    this.done = false;
    this.replied = false;
    this.unread = false;
    this.started = performance.now();
    this.waitMs = this.server.framing.idleMs;
    this.unanswered.count++;
    this.unanswered.together.count++;
    this.server.next(this);
  }

  /** Appends a chunk to the buffer, which grows by doubling. */
  append(chunk: Uint8Array): void {
    const size = this.size + chunk.length;
    let buffer = this.buffer;
    if (buffer === undefined || buffer.length < size) {
      const grown = Buffer.allocUnsafe(Math.max(size, 2 * (buffer?.length ?? 0), 256));
      if (buffer !== undefined) grown.set(buffer.subarray(0, this.size));
      this.buffer = buffer = grown;
    }
    buffer.set(chunk, this.size);
    this.size = size;
  }

  /**
   * A persistent client that does not read its answers (they fill the socket): closed at once, what is
   * unsent dropped. An end() would wait for the client to read first, and keep the socket meanwhile.
   */
  answersUnread(): void {
    this.server.closing("the client does not read its answers", this.size);
    this.persistent = false;
    this.buffer = undefined;
    this.size = 0;
    if (this.node) this.socket.destroy();
    else this.socket.terminate();
  }

  /**
   * More bytes from a persistent client while its request is being decided. Postfix sends one request
   * at a time; up to a request's bound is kept for the next, past it the answer ends the connection and
   * the rest is dropped (as a lingering connection drops it), so the buffer stays bounded.
   */
  sentAhead(chunk: Uint8Array, maxBytes: number): void {
    if (this.persistent && this.size + chunk.length <= maxBytes) return this.append(chunk);
    if (this.persistent) {
      this.server.closing("sent more than max_request_size ahead of its answer", this.size + chunk.length);
      this.persistent = false;
      this.buffer = undefined;
      this.size = 0;
      this.scanned = 0;
    }
    this.discard(chunk.length);
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
 * Adds a chunk; returns the request once it is complete (the framing found its end, or it is too long to
 * wait for more). The usual request comes whole in its first chunk: that chunk itself is returned, no copy.
 * A persistent connection keeps the bytes after the request (a copy) for the next one.
 */
function collect(connection: Connection, chunk: Uint8Array, framing: Framing): Uint8Array | undefined {
  if (connection.dropping > 0) return drop(connection, chunk);
  if (connection.size === 0) {
    const end = framing.requestEnd(chunk, 0);
    if (end === chunk.length) return chunk;
    if (end >= 0) {
      // More bytes after the request: the client is still sending, the reply must linger (above).
      connection.unread = true;
      if (!connection.persistent) return chunk;
      connection.append(chunk.subarray(end));
      return chunk.subarray(0, end);
    }
    if (end < -1) connection.expected = -2 - end;
    connection.append(chunk);
  } else {
    connection.append(chunk);
    const end = nextEnd(connection, framing);
    if (end >= 0) return take(connection, end);
  }
  connection.scanned = connection.size;
  if (connection.size <= framing.maxBytes) return undefined;
  const declared = connection.expected < ENDS_AT_CLOSE ? connection.expected : -1;
  if (declared > connection.size) {
    // Longer than the bound, with a declared length: read on to its end, keep only the first maxBytes.
    connection.dropping = declared - connection.size;
    connection.size = framing.maxBytes;
    return undefined;
  }
  connection.unread = true;
  return take(connection, connection.size);
}

/**
 * Where the buffered request ends, or -1: by the length the framing said it has, without asking again
 * (a head is not searched once per chunk of its body), or by asking the framing.
 */
function nextEnd(connection: Connection, framing: Framing): number {
  if (connection.expected >= 0) return connection.size >= connection.expected ? connection.expected : -1;
  const end = framing.requestEnd(connection.buffer!.subarray(0, connection.size), connection.scanned);
  if (end < -1) connection.expected = -2 - end;
  return end;
}

/** A chunk of an over-long request with a declared length: dropped; the kept bytes at its end. */
function drop(connection: Connection, chunk: Uint8Array): Uint8Array | undefined {
  if (chunk.length < connection.dropping) {
    connection.dropping -= chunk.length;
    return undefined;
  }
  if (chunk.length > connection.dropping) connection.unread = true;
  connection.dropping = 0;
  return take(connection, connection.size);
}

/**
 * The buffered request of `end` bytes, which empties the buffer; a persistent connection keeps the bytes
 * after it, a readsocket one ignores them. Kept in place, as the buffer's view from `end` on: appending
 * writes only past them, so the request stays as it is while onRequest reads it, and requests sent ahead
 * in one write are taken without copying the rest once per request.
 */
function take(connection: Connection, end: number): Uint8Array {
  const buffer = connection.buffer!;
  const size = connection.size;
  connection.buffer = undefined;
  connection.size = 0;
  connection.scanned = 0;
  connection.expected = -1;
  if (end < size) {
    connection.unread = true;
    if (connection.persistent) {
      connection.buffer = buffer.subarray(end);
      connection.size = size - end;
    }
  }
  return buffer.subarray(0, end);
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
  const held: Array<Connection | string | Uint8Array> = unanswered.held = [];
  do await sleep(5); while (
    performance.now() < acceptUntil &&
    (performance.now() - began < QUIET_MS || performance.now() - unanswered.lastAccept < QUIET_MS)
  );
  close();
  unanswered.closing = true;
  unanswered.held = undefined;
  for (let i = 0; i < held.length; i += 2) (held[i] as Connection).write(held[i + 1] as string | Uint8Array);
  while (unanswered.count > 0 && performance.now() < deadline) await sleep(5);
  return Math.max(0, unanswered.count);
}

// At the process's file limit the runtime's accept loop spins and good clients wait seconds (docs/
// decisions.md, "Measured on the request path"); refusing past maxConnections keeps the daemon below it. The
// refused client gets the framing's busy reply (Exim's snippets log it and accept; Postfix gets silence and
// applies its default_action), and the request it already sent is read and dropped, not answered with a
// reset that could lose the reply.
const BUSY_REPLY = "error busy: too many connections";

export function listenForRequests(options: RequestServerOptions): RequestServer {
  if (!options.framing && options.maxBytes === undefined) {
    throw new Error("request server: no framing, no maxBytes");
  }
  const framing = options.framing ?? readsocketFraming(options.maxBytes!);
  const budget = options.budget ?? { held: 0, max: Number.MAX_SAFE_INTEGER };
  const unanswered: Unanswered = {
    count: 0,
    together: options.unansweredTogether ?? { count: 0 },
    lastAccept: 0,
    held: undefined,
    closing: false,
    deciding: 0,
    budget,
  };
  // The connection is answered at once and lingers as any answered one does: a socket closed with its
  // client's request unread lost the reply on a Unix socket (Bun), and under node:net, read by nobody, it
  // never saw the client's end and kept its descriptor for the life of the process.
  const refuse = (connection: Connection) => {
    options.onBusy();
    unanswered.deciding++;
    budget.held++;
    connection.persistent = false;
    connection.done = true;
    connection.unread = true;
    connection.reply(framing.busyReply ?? BUSY_REPLY);
  };
  // Past the budget not even a refusal can linger: the connection is closed at once (its client may see
  // a reset), so the process keeps descriptors for the connections it serves.
  const overBudget = (socket: AnySocket, node: boolean) => {
    options.onBusy();
    if (node) socket.destroy();
    else socket.terminate();
  };
  // Connections still waiting for their request, for the timeout sweep: an array with swap-removal rather
  // than a Set, which hashed each connection twice (docs/decisions.md, "Measured on the request path").
  const waiting: Connection[] = [];
  // This server's own share of the budget: maxConnections unanswered, and as many again (at least 64)
  // refused or answered and lingering; its sockets are those waiting and those being decided. A flood of
  // one listener (the control port is open to any local user) then leaves the budget to the others.
  const maxHeld = options.maxConnections + Math.max(64, options.maxConnections);
  const watch = (connection: Connection) => {
    connection.slot = waiting.length;
    waiting.push(connection);
    budget.held++;
  };
  const leave = (connection: Connection) => {
    const last = waiting.pop()!;
    if (last !== connection) {
      waiting[connection.slot] = last;
      last.slot = connection.slot;
    }
    connection.slot = -1;
  };
  // Its socket given up (closed, or gone): out of the budget too.
  const unwatch = (connection: Connection) => {
    budget.held--;
    leave(connection);
  };
  // Its request complete, to be decided: its socket stays in the budget until the reply is written.
  const decide = (connection: Connection) => {
    unanswered.deciding++;
    leave(connection);
  };
  // At a stop: the sweep that would see them go is stopped, and Bun tells nothing of their close. Their
  // sockets leave the process's budget now, or a listener restarted by its supervisor would keep them.
  const forgetAll = () => {
    budget.held -= waiting.length;
    for (const connection of waiting) connection.slot = -1;
    waiting.length = 0;
  };
  const linger = (connection: Connection) => {
    connection.lingerStart = performance.now();
    watch(connection);
  };
  const finish = (connection: Connection, bytes: Uint8Array) => {
    if (connection.done) return;
    connection.done = true;
    decide(connection);
    if (framing.overLongReply !== undefined && bytes.length > framing.maxBytes) {
      connection.persistent = false; // the answer ends the connection
      return connection.reply(framing.overLongReply);
    }
    options.onRequest(bytes, connection);
  };
  // A persistent connection after its reply: waits again, or answers the next request it already sent.
  const between: Server = {
    framing,
    linger,
    unlinger: (connection) => {
      if (connection.slot >= 0) unwatch(connection);
    },
    closing: (reason, bytes) => options.onClosed(reason, bytes),
    next(connection) {
      watch(connection);
      // Requests sent ahead are taken one at a time, each on its own turn: an answer given at once would
      // otherwise recurse once per request.
      if (connection.size > 0) queueMicrotask(() => resume(connection));
    },
  };
  const resume = (connection: Connection) => {
    if (connection.done || connection.gone || connection.size === 0) return;
    const size = connection.size;
    const end = nextEnd(connection, framing);
    if (end >= 0) return finish(connection, take(connection, end));
    connection.scanned = size;
    if (size > framing.maxBytes) finish(connection, take(connection, size));
    else if (connection.halfClosed) closeUnanswered(connection);
  };
  // A connection closed before its request was complete (framing.halfCloseIsEnd false, an idle persistent
  // one in a drain, a timeout without an answer).
  const closeUnanswered = (connection: Connection) => {
    connection.done = true;
    if (connection.slot >= 0) unwatch(connection);
    answered(unanswered);
    connection.close();
  };
  // A persistent connection's client left without reading its answer (onClientLeft): said once.
  const clientLeft = (connection: Connection) => {
    const note = connection.note;
    if (!connection.persistent || note === undefined || options.onClientLeft === undefined) return;
    connection.note = undefined;
    const deciding = connection.done && !connection.replied;
    options.onClientLeft(note, deciding ? undefined : connection.lastReply);
  };
  // The client of a persistent connection half-closed: a request being answered gets its answer, then the
  // connection ends; a partial one is answered only if the framing says so.
  const halfClose = (connection: Connection) => {
    connection.halfClosed = true;
    connection.unread = false; // all the client sent has been read: the reply may close at once
    if (connection.done) {
      if (!connection.replied) clientLeft(connection); // gave up on its answer
      return;
    }
    if (framing.halfCloseIsEnd) {
      connection.persistent = false;
      return finish(connection, connection.buffer ? take(connection, connection.size) : Buffer.alloc(0));
    }
    if (connection.size > 0) {
      const end = nextEnd(connection, framing); // a request sent ahead, complete: answered, then the end
      if (end >= 0) return finish(connection, take(connection, end));
      options.onClosed("the client ended in the middle of a request", connection.size);
    }
    closeUnanswered(connection);
  };
  // One sweep for every connection's timeout, rather than a timer per connection. A connection whose
  // socket closed without a request leaves quietly here (Bun: no close handler, which cost time per
  // request: docs/decisions.md, "Measured on the request path").
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
      if (gone) {
        connection.done = true;
        unwatch(connection);
        answered(unanswered); // never to be answered
        continue;
      }
      // Idle in a drain; one within an exchange waits for its next request as usual.
      if (unanswered.closing && connection.persistent && connection.size === 0 && !connection.exchangeOpen) {
        closeUnanswered(connection);
        continue;
      }
      if (now - connection.started < connection.waitMs) continue;
      if (!framing.answersTimeout) {
        // A persistent connection idle between requests ends quietly (Postfix's max_idle) unless its framing
        // says why not (a milter's); one stopped in the middle of a request is worth a line.
        const reason = connection.size > 0
          ? "no complete request within the timeout"
          : framing.idleCloseReason;
        if (reason !== undefined) options.onClosed(reason, connection.size);
        closeUnanswered(connection);
        continue;
      }
      connection.done = true;
      decide(connection);
      connection.unread = true; // it may send more after the timeout's reply
      connection.persistent = false; // the timeout's reply ends the connection
      options.onTimeout(connection.size, connection);
    }
  }, Math.max(10, Math.min(250, options.timeoutMs / 4)));

  if (bunListen) {
    let listener: ReturnType<typeof bunListen> | undefined;
    const transport = options.transport;
    // A Unix socket is its owner's alone until its listener gives it its mode (unix-socket.ts).
    const restoreUmask = ownerOnlyUmask();
    try {
      listener = bunListen({
        ...("path" in transport ? { unix: transport.path } : transport),
        allowHalfOpen: true,
        socket: {
          open(socket: AnySocket) {
            if (budget.held >= budget.max || waiting.length + unanswered.deciding >= maxHeld) {
              return overBudget(socket, false);
            }
            const busy = unanswered.together.count >= options.maxConnections;
            const connection = new Connection(socket, false, unanswered, between, options.timeoutMs);
            socket.data = connection;
            if (busy) refuse(connection);
            else watch(connection);
          },
          data(socket: AnySocket, chunk: Uint8Array) {
            const connection = socket.data as Connection | undefined;
            if (connection === undefined) return; // closed over the budget
            if (connection.done) return connection.sentAhead(chunk, framing.maxBytes);
            const request = collect(connection, chunk, framing);
            if (request) finish(connection, request);
          },
          end(socket: AnySocket) {
            const connection = socket.data as Connection | undefined;
            if (connection === undefined) return;
            if (connection.persistent) return halfClose(connection);
            if (connection.done) {
              // All the client sent has been read: a reply still to come may close at once, a lingering
              // connection closes now (one whose reply is still being written, once it is).
              connection.unread = false;
              if (connection.slot >= 0 && connection.pending === undefined) {
                unwatch(connection);
                socket.end();
              }
              return;
            }
            finish(connection, connection.buffer ? take(connection, connection.size) : new Uint8Array(0));
          },
          error(_socket: AnySocket, error: NodeJS.ErrnoException) {
            options.onClientError(error.code ?? error.message);
          },
          // Bun says a reset only here. Only for a server that asks (the Postfix listener, whose connections
          // persist): a close handler costs each connection ~0.4 µs (docs/decisions.md), Exim's a request.
          ...(options.onClientLeft && {
            close(socket: AnySocket, error?: NodeJS.ErrnoException) {
              const connection = socket.data as Connection | undefined;
              if (connection !== undefined && error?.code === "ECONNRESET") clientLeft(connection);
            },
          }),
          drain(socket: AnySocket) {
            const connection = socket.data as Connection | undefined;
            if (connection?.pending !== undefined && connection.slot >= 0) {
              connection.writeInParts(connection.pending);
            }
          },
        },
      });
      const bound = "path" in transport ? transport : { ...transport, port: listener!.port! };
      queueMicrotask(() => options.onListening(bound));
    } catch (error) {
      clearInterval(sweep);
      queueMicrotask(() => options.onError(listenError(error, describeTransport(transport))));
    } finally {
      restoreUmask();
    }
    return {
      drain(graceMs) {
        return drainThenClose(unanswered, graceMs, () => listener?.stop(false));
      },
      stop() {
        clearInterval(sweep);
        forgetAll();
        listener?.stop(true);
      },
    };
  }

  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    if (budget.held >= budget.max || waiting.length + unanswered.deciding >= maxHeld) {
      return overBudget(socket, true);
    }
    const busy = unanswered.together.count >= options.maxConnections;
    sockets.add(socket);
    const connection = new Connection(socket, true, unanswered, between, options.timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      if (connection.done) return connection.sentAhead(chunk, framing.maxBytes);
      const request = collect(connection, chunk, framing);
      if (request) finish(connection, request);
    });
    socket.on("end", () => {
      if (connection.persistent) halfClose(connection);
      else finish(connection, connection.buffer ? take(connection, connection.size) : Buffer.alloc(0));
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ECONNRESET") clientLeft(connection);
      options.onClientError(error.code ?? error.message);
    });
    socket.on("close", () => {
      sockets.delete(socket);
      if (!connection.done) answered(unanswered); // closed before its request: never to be answered
      connection.done = true;
      if (connection.slot >= 0) unwatch(connection);
    });
    if (busy) refuse(connection);
    else watch(connection);
  });
  server.on("error", (error) => options.onError(error));
  const transport = options.transport;
  const listening = () =>
    options.onListening(
      "path" in transport ? transport : { ...transport, port: (server.address() as net.AddressInfo).port },
    );
  const restoreUmask = ownerOnlyUmask(); // as for Bun.listen above
  try {
    if ("path" in transport) server.listen(transport.path, listening);
    else server.listen({ host: transport.hostname, port: transport.port }, listening);
  } finally {
    restoreUmask();
  }
  return {
    drain(graceMs) {
      return drainThenClose(unanswered, graceMs, () => server.close());
    },
    stop() {
      clearInterval(sweep);
      forgetAll();
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}
