// One message through the content rules: the size cap, the MIME walk when an attachment rule needs it,
// the rules. What the content concern and `mailpolicyd scan` both call. Pure (see mime-walk.ts).
import { Buffer } from "node:buffer";
import { Headers } from "@zone-eu/mailsplit";
import type { ConcernAnswer } from "../model/answer.ts";
import type { ContentPolicy } from "../model/content.ts";
import type { MessageEnvelope } from "../model/message.ts";
import { mboxEnvelopeEnd } from "../protocols/spamd-front.ts";
import { decodeSubject } from "../protocols/subject.ts";
import { MAX_HEADER_BYTES, walkMessage } from "./mime-walk.ts";
import { evaluateRules, type MessageFacts } from "./rules.ts";

/** What a scan needs of a "message" request (policy/request.ts). */
export interface ScannedMessage {
  envelope: MessageEnvelope;
  message: Uint8Array;
  /** The size the MTA announced. */
  size: number;
  /** The bytes stop short of the message (the listener's bound). */
  truncated: boolean;
}

/** Synchronous: a scan is a few milliseconds of CPU at most (docs/content.md, "Performance"). */
export function scanMessage(request: ScannedMessage, policy: ContentPolicy): ConcernAnswer {
  const { envelope } = request;
  // Exim's mbox copy: its envelope lines are not the message's header block (the envelope is `envelope`),
  // nor its size: X-Envelope-To lists every recipient, and counted, they put a small message with an
  // executable over max_scan_size, its attachments unscanned.
  const envelopeEnd = mboxEnvelopeEnd(request.message);
  const message = request.message.subarray(envelopeEnd);
  const size = Math.max(request.size, request.message.length) - envelopeEnd;
  const facts: MessageFacts = { recipients: envelope.recipients };
  const walkNeeded = policy.rules.some((rule) => rule.condition.kind === "attachments");
  if (!walkNeeded) {
    facts.subject = headerSubject(message);
  } else if (request.truncated || size > policy.maxScanSize) {
    facts.subject = headerSubject(message);
    facts.notScanned = request.truncated && size <= policy.maxScanSize
      ? `only ${message.length} of ${size} bytes received: attachments not scanned`
      : `message of ${size} bytes over max_scan_size (${policy.maxScanSize}): attachments not scanned`;
  } else {
    const walked = walkMessage(message, policy);
    facts.subject = walked.subject;
    facts.content = walked;
  }
  return evaluateRules(facts, policy);
}

/** The Subject from the header block alone, without walking the body. */
export function headerSubject(message: Uint8Array): string | undefined {
  const window = Buffer.from(message.buffer, message.byteOffset, Math.min(message.length, MAX_HEADER_BYTES));
  const end = headerEnd(window);
  const subject = new Headers(window.subarray(0, end)).getFirst("subject");
  return subject === "" ? undefined : decodeSubject(subject);
}

/** Where the header block ends (its empty line), or the window's end. */
function headerEnd(bytes: Buffer): number {
  const lf = bytes.indexOf("\n\n");
  const crlf = bytes.indexOf("\r\n\r\n");
  const ends = [lf < 0 ? bytes.length : lf + 1, crlf < 0 ? bytes.length : crlf + 2];
  return Math.min(...ends);
}
