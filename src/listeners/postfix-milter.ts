// The milter listener of [postfix] (`milter_listen`, docs/postfix.md "Mail handed to sendmail"): Postfix's
// cleanup asks it about each message handed to `sendmail` (non_smtpd_milters), which no policy service
// sees. One engine request at stage `local` a message, as Exim's acl_not_smtp asks; over a limit the
// message is quarantined (Postfix's hold queue, released with `postsuper -H`), as Exim freezes it: the
// program that handed it over has nobody to read a refusal. The protocol is protocols/milter.ts; the
// connections, timeouts and bounds are the request server's (request-server.ts), one milter request being
// the frames up to the next that waits for a reply.
import type { Logger } from "../log.ts";
import type { Metrics } from "../control/metrics.ts";
import { recordRequest } from "../control/metrics.ts";
import type { Decision } from "../model/answer.ts";
import type { PolicyEngine } from "../engine/policy-engine.ts";
import type { PolicyRequest } from "../policy/request.ts";
import {
  ACCEPT_REPLY,
  applyMilterCommands,
  localRequestAttributes,
  MAX_FRAME_BYTES,
  type MilterMessage,
  milterRequestEnd,
  newMilterMessage,
  parseMilterFrames,
  quarantineReply,
} from "../protocols/milter.ts";
import { rateLimitedWarning } from "./connection-bound.ts";
import { decideAndReply } from "./decide-and-reply.ts";
import type { Framing } from "./framing.ts";
import type { Responder } from "./request-server.ts";

const SOURCE = "postfix-milter";
const NOT_HELD = "not held: Postfix closed the connection before the answer; its default_action decided";

/**
 * Milter frames: a request is the frames up to the first that waits for a reply (macros before an event);
 * a frame declaring a length over MAX_FRAME_BYTES makes the bytes so far the request, which the parser
 * refuses (logged, connection closed: Postfix then applies milter_default_action).
 */
export class MilterFraming implements Framing {
  readonly persistent = true;
  readonly halfCloseIsEnd = false;
  readonly answersTimeout = false;
  readonly overLongReply: string | undefined = undefined;
  readonly busyReply = ""; // closed: Postfix applies milter_default_action
  // Macros and an event: a few frames. More without one that waits for a reply is refused by the parse.
  readonly maxBytes = 4 * MAX_FRAME_BYTES;
  // cleanup connects once a message and quits after it: a wait is within a message, and Postfix does not
  // reconnect for a milter, so a close lets the message go on unasked (default_action=accept).
  readonly idleCloseReason =
    "no milter frame within the timeout (milter_timeout): Postfix's default_action decides the message";
  /** `idleMs`: [postfix] milter_timeout, how long Postfix may ask the milters before this one. */
  constructor(readonly idleMs: number) {}

  requestEnd(bytes: Uint8Array): number {
    return milterRequestEnd(bytes);
  }
}

/**
 * The text Postfix keeps with a held message: how to release it, then what held it. Postfix 3.10 and later
 * log the reason with the hold cut at 100 bytes, so the `postsuper -H` hint comes first: after the rule's
 * name (a section name, any length) it was cut off for names of ~30 characters.
 */
export function heldReason(decision: Decision, queueId: string | undefined): string {
  const fields = Object.fromEntries(decision.fields ?? []);
  const rule = decision.rule ?? fields.rule;
  const counted = fields.count !== undefined && fields.limit !== undefined
    ? `: ${fields.count}/${fields.limit}`
    : decision.message
    ? `: ${decision.message}`
    : "";
  return `mailpolicyd: held (postsuper -H ${queueId ?? "QUEUE_ID"} to release) by rule ${
    rule ?? decision.action
  }${counted}`;
}

/** The milter server's handlers: one pair per listener, its messages kept per connection. */
export interface MilterHandlers {
  onRequest(bytes: Uint8Array, responder: Responder): void;
  /** The request server's onClientLeft: Postfix closed the connection before the end's answer was written. */
  onClientLeft(note: unknown, unreadReply: string | Uint8Array | undefined): void;
}

export function milterRequestHandler(engine: PolicyEngine, metrics: Metrics, log: Logger): MilterHandlers {
  const messages = new WeakMap<Responder, MilterMessage>();
  // Ends of messages whose connection cleanup closed while they were decided: past milter_content_timeout it
  // stops waiting, closes, and the entry's default_action decides (the snippet's: accept). Their answer is
  // written to nobody, so a hold is no hold.
  const abandoned = new WeakSet<PolicyRequest>();
  const malformed = rateLimitedWarning(log, SOURCE, "malformed milter frame: connection closed");
  const refused = rateLimitedWarning(log, SOURCE, "milter connection closed");
  const smtp = rateLimitedWarning(
    log,
    SOURCE,
    "an SMTP client's message was accepted unasked: milter_listen is for non_smtpd_milters only",
  );
  const decide = decideAndReply(engine, metrics, log, (decision, request) => {
    if (decision.action !== "defer" && decision.action !== "reject") return ACCEPT_REPLY;
    const queueId = request.form === "attributes" ? request.attributes.queue_id : undefined;
    const reason = heldReason(decision, queueId);
    const fields = { queue_id: queueId ?? "", reason };
    if (abandoned.has(request)) log.warn(SOURCE, NOT_HELD, fields);
    else log.info(SOURCE, "held", fields);
    return quarantineReply(reason);
  });
  const onRequest = (bytes: Uint8Array, responder: Responder) => {
    const started = performance.now();
    responder.note = undefined; // only an end of message being decided is noted, for onClientLeft
    const parsed = parseMilterFrames(bytes);
    if (!parsed.ok) {
      malformed({ error: parsed.reason, bytes: bytes.length });
      recordRequest(metrics, "error", undefined, (performance.now() - started) / 1000);
      messages.delete(responder);
      return responder.drop();
    }
    let message = messages.get(responder);
    if (message === undefined) messages.set(responder, message = newMilterMessage());
    const step = applyMilterCommands(message, parsed.commands);
    if (step.kind === "close") {
      messages.delete(responder);
      if (step.reason !== undefined) refused({ reason: step.reason });
      return responder.drop();
    }
    if (step.kind === "reply") {
      if (message.smtpClient && step.bytes === ACCEPT_REPLY) smtp();
      // The message goes on until its end is answered (an SMTP client's connection ends at CONNECT): a
      // graceful stop answers the rest of it, rather than closing in between, where Postfix would send it
      // on unasked (default_action=accept).
      responder.exchangeOpen = !message.smtpClient;
      return responder.reply(step.bytes);
    }
    responder.exchangeOpen = false; // the answer at the end of the message completes it
    const attributes = localRequestAttributes(message);
    Object.assign(message, newMilterMessage()); // the next message on this connection starts afresh
    const request: PolicyRequest = {
      form: "attributes",
      stage: "local",
      attributes,
      localUserIsSender: true,
    };
    responder.note = request;
    decide(request, started, responder);
  };
  return {
    onRequest,
    // Said while the end is decided (no reply yet); after its reply cleanup has read it or reset (untold).
    onClientLeft: (note, unreadReply) => {
      if (unreadReply === undefined) abandoned.add(note as PolicyRequest);
    },
  };
}
