import {
  BAD_CONTENT_LENGTH,
  declaredContentLength,
  formatSpamdError,
  spamdHeadEnd,
} from "../protocols/spamd-front.ts";
import { indexOfBytes } from "../runtime.ts";

// How a listener's requests are cut out of a connection's byte stream: what the request server
// (request-server.ts) asks of a protocol, so that one server, with its transports, timeouts, connection bound,
// lingering and graceful drain, serves every protocol. Finding the end of a request is pure (bytes in, an
// index out) and unit-testable; all I/O stays in the server.
//
// A framing is a class instance with a fixed shape, made once per listener: the server calls its methods on
// the request path, where a closure or an object per request would cost (tens of thousands a second).

/** What the request server needs to know about a protocol's framing. */
export interface Framing {
  /**
   * Where the first complete request in `bytes` ends (the index just past its last byte), or -1 if none is
   * complete yet, or `lengthKnown(length)` if none is complete yet but the request's whole length is (a
   * head that declares it; ENDS_AT_CLOSE: only the client's half-close ends it): the server then waits for
   * that many bytes without asking again. Bytes before `from` were looked at by an earlier call that found
   * no end: a framing whose end marker spans bytes (an empty line) starts where it must. Pure: no I/O, no
   * reference kept to `bytes`.
   */
  requestEnd(bytes: Uint8Array, from: number): number;
  /** Bytes one request may take; past them without an end the request is over-long (overLongReply). */
  readonly maxBytes: number;
  /** The connection stays open after a reply, for the next request (answered in turn). */
  readonly persistent: boolean;
  /**
   * Persistent only: how long a connection may wait for its next request after a reply (the first one has
   * the server's timeoutMs); then it is closed without a word.
   */
  readonly idleMs: number;
  /**
   * Optional, persistent only: the reason logged when a connection that waited idleMs for its next request,
   * with nothing of it yet, is closed. Absent: closed quietly (Postfix's policy client reconnects when it
   * next asks); a milter's connection has no idle time between messages, and its close loses a message.
   */
  readonly idleCloseReason?: string;
  /**
   * The client half-closed before a complete request: true hands the bytes so far (maybe none) over as the
   * request, to be answered; false closes the connection, unanswered.
   */
  readonly halfCloseIsEnd: boolean;
  /**
   * No complete request within the timeout: true asks the server's onTimeout for an answer; false closes the
   * connection without one.
   */
  readonly answersTimeout: boolean;
  /**
   * More than maxBytes without an end: undefined hands them over as the request (its parser then says why it
   * is refused); a string is written as the answer and the connection ends.
   */
  readonly overLongReply: string | undefined;
  /**
   * Optional: the answer to a connection refused for the server's maxConnections, in the protocol's words
   * ("": closed without one).
   */
  readonly busyReply?: string;
}

/**
 * requestEnd's answer for a request not complete yet whose whole length is known. A request longer than
 * maxBytes is then read to its end, its first maxBytes kept and the rest dropped, instead of being
 * over-long; its parser learns from the head that bytes are missing.
 */
export const lengthKnown = (length: number): number => -2 - length;
/** requestEnd's length of a request that only the client's half-close ends (spamd without Content-length). */
export const ENDS_AT_CLOSE = 2 ** 52;

/**
 * Exim's ${readsocket}: one request per connection, ending at the first newline or at the client's
 * half-close; bytes after the newline are the client's business and ignored. An over-long request and a
 * timeout are answered ("error ..."), by the parser and by onTimeout.
 */
export class ReadsocketFraming implements Framing {
  readonly persistent = false;
  readonly idleMs = 0;
  readonly halfCloseIsEnd = true;
  readonly answersTimeout = true;
  readonly overLongReply: string | undefined = undefined;
  constructor(readonly maxBytes: number) {}

  requestEnd(bytes: Uint8Array, from: number): number {
    const newline = bytes.indexOf(0x0a, from);
    return newline < 0 ? -1 : newline + 1;
  }
}

export const readsocketFraming = (maxBytes: number): Framing => new ReadsocketFraming(maxBytes);

/**
 * Postfix policy delegation (SMTPD_POLICY_README): `name=value\n` lines ending with an empty line, many
 * requests on one connection, each answered in turn (`action=...\n\n`). Postfix keeps the connection open
 * while idle (smtpd_policy_service_max_idle, 300 s by default) and reconnects when it is closed.
 *
 * A request whose lines end in CRLF is cut at "\r\n\r\n" too. A request longer than maxBytes is handed
 * over as it is: the listener (postfix-listener.ts) logs it and closes the connection unanswered, as for
 * any malformed request, and Postfix applies its default_action.
 */
export class PostfixFraming implements Framing {
  readonly persistent = true;
  readonly halfCloseIsEnd = false;
  readonly answersTimeout = false;
  readonly overLongReply: string | undefined = undefined;
  // Postfix's protocol has no "busy": a connection past max_connections is closed without a word, and
  // Postfix retries, then applies its default_action, as for a malformed block (docs/postfix.md).
  readonly busyReply = "";
  constructor(readonly maxBytes: number, readonly idleMs: number) {}

  requestEnd(bytes: Uint8Array, from: number): number {
    // An empty line: a newline followed by a newline (or by "\r\n"), or a newline as the very first byte
    // (a request with no attributes). The newline of the pair may lie up to two bytes before `from`.
    const start = from > 2 ? from - 2 : 0;
    if (start === 0 && bytes[0] === 0x0a) return 1;
    // Requests sent ahead in one write are all in `bytes`: no search looks further than one request may
    // reach, or cutting n of them costs n searches to the end (quadratic: 20 000 took 8–10 s of CPU on Deno).
    const reach = start + this.maxBytes + 3;
    const window = bytes.length > reach ? bytes.subarray(0, reach) : bytes;
    // Postfix ends its lines with "\n" only: one search for "\n\n" (runtime.ts), and the line-by-line scan
    // only when a "\r" comes before it (looked for backwards from the empty line: within this request).
    const empty = indexOfBytes(window, EMPTY_LINE, start);
    if (empty >= 0 && window.lastIndexOf(0x0d, empty) < start) return empty + 2;
    if (empty < 0 && window.indexOf(0x0d, start) < 0) return -1;
    for (let i = window.indexOf(0x0a, start); i >= 0; i = window.indexOf(0x0a, i + 1)) {
      const next = i + 1 < window.length ? window[i + 1] : -1;
      if (next === 0x0a) return i + 2;
      if (next === 0x0d && i + 2 < window.length && window[i + 2] === 0x0a) return i + 3;
    }
    return -1;
  }
}

const EMPTY_LINE = Uint8Array.of(0x0a, 0x0a);

const latin1 = new TextDecoder("latin1");

/**
 * The spamd front (Exim's `spam =`, spamc): one request per connection, a head up to an empty line, then
 * Content-length bytes of message; without a Content-length the message ends at the client's half-close
 * (as spamd reads it). A message longer than `maxMessageBytes` is read to its end and only its first
 * `maxMessageBytes` kept (lengthKnown): the front answers "not scanned" rather than refusing it.
 */
export class SpamdFraming implements Framing {
  readonly persistent = false;
  readonly idleMs = 0;
  readonly halfCloseIsEnd = true;
  readonly answersTimeout = true;
  readonly overLongReply: string | undefined = undefined;
  readonly maxBytes: number;
  readonly busyReply = formatSpamdError("SPAMC", "EX_TEMPFAIL", "busy: too many scans in flight");
  constructor(readonly maxHeadBytes: number, maxMessageBytes: number) {
    this.maxBytes = maxHeadBytes + maxMessageBytes;
  }

  requestEnd(bytes: Uint8Array, from: number): number {
    // A head over maxHeadBytes (an rspamd head lists every recipient) takes the rest from the message's
    // bound: the request as a whole never holds more than maxBytes (parseSpamdRequest keeps the message
    // shorter by as much).
    const bound = this.maxBytes + 3;
    const headEnd = spamdHeadEnd(bytes.length > bound ? bytes.subarray(0, bound) : bytes, from);
    // No head within the bound: garbage, complete as it is (the parser says why it is refused).
    if (headEnd < 0) return bytes.length > this.maxBytes ? bytes.length : -1;
    const head = latin1.decode(bytes.subarray(0, headEnd));
    const contentLength = declaredContentLength(head);
    // No Content-length: PING and SKIP end with their head, a message with the half-close. A bad one ends
    // the request at its head: the parser refuses it at once, the rest unread.
    const length = contentLength >= 0
      ? headEnd + contentLength
      : contentLength === BAD_CONTENT_LENGTH || /^(PING|SKIP) /.test(head)
      ? headEnd
      : ENDS_AT_CLOSE;
    return length <= bytes.length ? length : lengthKnown(length);
  }
}
