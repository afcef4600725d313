// A deadline for each reply of one alert mail's SMTP session. nodemailer bounds the connection, the greeting
// and the TLS handshake (smtp_timeout), but once the relay has greeted it waits for a reply as long as the
// socket is silent for less than socketTimeout, which is RFC 5321's 10 minutes for the message's end: a relay
// that hung at AUTH (its authentication backend never answered) held the attempt, and every alert behind it,
// for 10 minutes. nodemailer has no per-command timeout; it reports each line it sends and each reply it
// reads to its logger (with transactionLog, the credentials masked), and ends a send on an AbortSignal. The
// watch is that logger: it follows the awaited replies (policy/alert-smtp-replies.ts) and aborts the attempt
// when one is late, with an error naming the relay and the step. Retried: it has no reply code.
// An attempt that ends after the message went out whole, before the relay answered it (the connection lost, or
// that reply late), is retried too, but the relay may have taken the message: its error says so, so that a
// second copy is not news to whoever reads the log (at least once, never lost).
import { formatDuration } from "../model/duration.ts";
import { AwaitedReplies, type AwaitedReply } from "../policy/alert-smtp-replies.ts";

/** Said of an attempt that failed after the message went out whole, before the relay answered it. */
const MAY_HAVE_TAKEN =
  "the message had gone out whole: the relay may have taken it, and the alert may arrive twice";

/** How long each reply may take. */
export interface ReplyDeadlines {
  /** Each command's: EHLO, STARTTLS, each line of AUTH, MAIL FROM, RCPT TO, DATA (smtp_command_timeout). */
  commandMs: number;
  /** The message's end (RFC 5321 §4.5.3.2.6's 10 minutes, or smtp_timeout if longer). */
  messageEndMs: number;
}

/** A log entry's fields, as nodemailer's connection logs them ("tnx": the kind of entry). */
interface LogEntry {
  tnx?: unknown;
  outByteCount?: unknown;
}

export class ReplyWatch {
  readonly #replies = new AwaitedReplies();
  readonly #controller = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #watched: AwaitedReply | undefined;
  #stopped = false;
  #messageSent = false;

  constructor(readonly relay: string, readonly deadlines: ReplyDeadlines) {}

  /** For nodemailer's sendMail: aborted when a reply is late. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** nodemailer's `logger` option (bunyan's shape); only the session's lines are read, nothing is kept. */
  readonly logger = {
    level: () => {},
    trace: () => {},
    debug: (entry: LogEntry, line?: unknown) => this.#seen(entry, line),
    info: (entry: LogEntry) => this.#seen(entry),
    warn: () => {},
    error: () => {},
    fatal: () => {},
  };

  #seen(entry: LogEntry, line?: unknown): void {
    if (entry?.tnx === "client") this.#replies.sent(String(line ?? ""));
    else if (entry?.tnx === "server") this.#replies.replied();
    // Logged once the message has gone out with its final dot, with its size: its reply is now awaited.
    else if (entry?.tnx === "message" && typeof entry.outByteCount === "number") {
      this.#messageSent = true;
      this.#replies.messageSent();
    } else return;
    this.#watch();
  }

  /** A deadline for the reply awaited now, from the moment it became the one awaited. */
  #watch(): void {
    const next = this.#replies.next;
    if (next === this.#watched || this.#stopped) return;
    clearTimeout(this.#timer);
    this.#watched = next;
    if (next === undefined || this.#controller.signal.aborted) return;
    const ms = next.messageEnd ? this.deadlines.messageEndMs : this.deadlines.commandMs;
    this.#timer = setTimeout(() => this.#controller.abort(this.#late(next)), ms);
  }

  #late(awaited: AwaitedReply): Error {
    const ms = awaited.messageEnd ? this.deadlines.messageEndMs : this.deadlines.commandMs;
    const setting = awaited.messageEnd ? "" : " ([alerts] smtp_command_timeout)";
    return new Error(
      `${this.relay} did not answer ${awaited.step} within ${formatDuration(ms)}${setting}; retried`,
    );
  }

  /** Ends the watch: the attempt is over. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /**
   * The error the attempt failed with, the step named where it was a reply too late: the watch's abort
   * (nodemailer reports it as "Message sending aborted", the watch's error its cause), or nodemailer's own
   * socket timeout while a reply was awaited. After the whole message went out, an error without a reply
   * code (none came for the message's end) says the relay may have taken it.
   */
  failure(error: unknown): unknown {
    const failure = this.#stepFailure(error);
    if (!this.#messageSent || (error as { responseCode?: unknown })?.responseCode !== undefined) {
      return failure;
    }
    // nodemailer's fields (code, originalCode, command) stay: what the transport tells failures by.
    const said = `${String((failure as Error | undefined)?.message ?? failure)}; ${MAY_HAVE_TAKEN}`;
    return Object.assign(new Error(said), typeof failure === "object" ? failure : {}, { message: said });
  }

  #stepFailure(error: unknown): unknown {
    const { reason, aborted } = this.#controller.signal;
    if (aborted && (error as { code?: unknown })?.code === "EABORT") return reason;
    const { code, timeoutType } = (error ?? {}) as { code?: unknown; timeoutType?: unknown };
    const awaited = this.#replies.next;
    if (code === "ETIMEDOUT" && timeoutType === "SOCKET_TIMEOUT" && awaited) return this.#late(awaited);
    return error;
  }
}
