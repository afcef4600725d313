// Which reply the alert mail's SMTP client is waiting for, and the name of the step it belongs to. The
// transport (actors/alert-reply-watch.ts) gives each awaited reply a deadline: nodemailer's only wait once
// the relay has greeted was the socket's 10 minutes of silence, so a relay that hung at a step (an AUTH its
// authentication backend never answered, a sender check at MAIL FROM) held the attempt, and the alerts behind
// it, for 10 minutes. Pure: the watch feeds it the session as nodemailer reports it.

/** A reply the client waits for: the step it answers, and whether it is the reply to the message's end. */
export interface AwaitedReply {
  step: string;
  /** The reply to the message's end, which may take RFC 5321's 10 minutes (a relay scanning at DATA). */
  messageEnd: boolean;
}

/** The step of the reply to the message's end, as Postfix names it in its log ("end of data"). */
export const MESSAGE_END_STEP = "the end of DATA";

/** Commands named by their first word; MAIL and RCPT get their keyword, AUTH its mechanism. */
const NAMED_COMMANDS = new Set(["EHLO", "HELO", "LHLO", "STARTTLS", "DATA", "BDAT", "RSET", "NOOP", "QUIT"]);

/**
 * The step a command line starts, named without anything of its arguments: an AUTH line carries credentials,
 * MAIL and RCPT addresses. A line that is no command is the client's answer to an AUTH challenge (the user
 * name or password after a 334): it belongs to the AUTH exchange under way.
 */
export function commandStep(line: string, authUnderWay: string | undefined): string {
  const [verb = "", argument = ""] = line.trim().split(/\s+/, 2);
  const command = verb.toUpperCase();
  if (command === "MAIL") return "MAIL FROM";
  if (command === "RCPT") return "RCPT TO";
  if (command === "AUTH") {
    const mechanism = argument.toUpperCase();
    return /^[A-Z0-9_-]{1,20}$/.test(mechanism) ? `AUTH ${mechanism}` : "AUTH";
  }
  if (NAMED_COMMANDS.has(command)) return command;
  return authUnderWay ?? "a command";
}

/**
 * The replies awaited, oldest first: SMTP answers every line the client sends with one reply, in order
 * (PIPELINING sends MAIL FROM, RCPT TO and DATA at once, and their replies come in that order), and the
 * message's end with one more. The greeting comes before any command and is awaited by nodemailer itself.
 */
export class AwaitedReplies {
  readonly #awaited: AwaitedReply[] = [];
  #auth: string | undefined;

  /** A command line went out (as nodemailer logs it: the credentials masked). */
  sent(line: string): void {
    const step = commandStep(line, this.#auth);
    this.#auth = step.startsWith("AUTH") ? step : undefined;
    this.#awaited.push({ step, messageEnd: false });
  }

  /** The message went out, ended with its dot. */
  messageSent(): void {
    this.#auth = undefined;
    this.#awaited.push({ step: MESSAGE_END_STEP, messageEnd: true });
  }

  /** A reply came: the oldest awaited is answered (the greeting answers nothing awaited here). */
  replied(): void {
    this.#awaited.shift();
  }

  /** The reply the client waits for now, if any. */
  get next(): AwaitedReply | undefined {
    return this.#awaited[0];
  }
}
