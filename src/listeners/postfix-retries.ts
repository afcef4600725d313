// Requests Postfix gave up on, remembered for the same request sent again (docs/postfix.md, "A request
// Postfix asks again"). When the check's `timeout` runs out before the answer, Postfix closes the connection
// and, after smtpd_policy_service_retry_delay, sends the same request on a new connection, up to
// smtpd_policy_service_try_limit tries (Postfix's attr_clnt.c: it waits the delay first, so an answer later
// than the timeout but within the delay lies unread when it closes). Decided afresh, the retry was counted
// afresh: one recipient, two counts under a per-recipient limit (measured with Postfix 3.7). A request whose
// client left without reading its answer is remembered here by what names it (its protocol_state, the message's instance, sender,
// recipient and client address); the next request with the same names gets the first one's reply, at once
// or once it is decided, and is not decided again.
import type { Attributes } from "../protocols/attributes.ts";

// How many requests left unanswered are remembered: Postfix retries each within seconds, so only those of
// the last minutes matter. Past it, the oldest is forgotten (its retry, should one still come, is decided).
export const REMEMBERED_REQUESTS = 256;
// How long one is remembered: Postfix's tries of a request take at most try_limit × (timeout + retry_delay),
// 2 × (100 s + 1 s) with Postfix's own defaults.
export const REMEMBERED_MS = 5 * 60_000;
// Retries of one request waiting for its decision: Postfix's try_limit is 2 by default.
const MAX_WAITING = 4;

type Reply = string | Uint8Array;

interface Waiter {
  reply(text: Reply): void;
}

interface Remembered {
  reply: Reply | undefined; // undefined: still being decided
  waiting: Waiter[];
  at: number; // performance.now() when the client left
}

export interface RetryMemory {
  /** Requests remembered; while there are none, nothing else need be asked (the usual case). */
  readonly size: number;
  /**
   * The client of the request (state, attributes) left without reading its answer: remember it, with the
   * reply it did not read (undefined: still being decided, decided() gives it).
   */
  left(state: string, attributes: Attributes, unreadReply: Reply | undefined): void;
  /** The reply to the request whose attributes these are: kept, and given to its retries waiting for it. */
  decided(attributes: Attributes, reply: Reply): void;
  /**
   * A request like one whose client left: answered with that one's reply (now, or once it is decided) and
   * true; false for any other request, to be decided as usual.
   */
  answer(state: string, attributes: Attributes, responder: Waiter): boolean;
}

/** What names a request across Postfix's tries of it; undefined without an instance (not Postfix's). */
function nameOf(state: string, attributes: Attributes): string | undefined {
  const { instance } = attributes;
  if (!instance) return undefined;
  return `${state}\n${instance}\n${attributes.sender ?? ""}\n${attributes.recipient ?? ""}\n` +
    (attributes.client_address ?? "");
}

export function retryMemory(now: () => number = () => performance.now()): RetryMemory {
  const remembered = new Map<string, Remembered>();
  // The requests still being decided whose clients left, by their attributes (the decision's request holds
  // the same object): few, and found without building a name for every reply.
  const undecided = new Map<Attributes, Remembered>();
  return {
    get size() {
      return remembered.size;
    },
    left(state, attributes, unreadReply) {
      const name = nameOf(state, attributes);
      if (name === undefined || remembered.has(name)) return;
      if (remembered.size >= REMEMBERED_REQUESTS) {
        const [oldest] = remembered.keys();
        remembered.delete(oldest);
      }
      const entry: Remembered = { reply: unreadReply, waiting: [], at: now() };
      remembered.set(name, entry);
      if (unreadReply === undefined) undecided.set(attributes, entry);
    },
    decided(attributes, reply) {
      if (undecided.size === 0) return; // the usual case: no client left
      const entry = undecided.get(attributes);
      if (entry === undefined) return;
      undecided.delete(attributes);
      entry.reply = reply;
      for (const waiter of entry.waiting.splice(0)) waiter.reply(reply);
    },
    answer(state, attributes, responder) {
      const name = nameOf(state, attributes);
      const entry = name === undefined ? undefined : remembered.get(name);
      if (entry === undefined) return false;
      if (now() - entry.at > REMEMBERED_MS) {
        if (entry.reply !== undefined) remembered.delete(name!); // one still undecided is kept for its waiters
        return false;
      }
      if (entry.reply !== undefined) {
        responder.reply(entry.reply);
        return true;
      }
      if (entry.waiting.length >= MAX_WAITING) return false;
      entry.waiting.push(responder);
      return true;
    },
  };
}
