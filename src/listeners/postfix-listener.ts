// The Postfix policy delegation listener ([postfix], docs/postfix.md): loopback TCP and/or a Unix socket,
// persistent connections cut into requests by the Postfix framing (framing.ts), each request parsed
// (protocols/postfix-policy.ts), decided by the same engine as Exim's requests and answered in Postfix's
// words (protocols/postfix-reply.ts). A malformed request is logged and its connection closed unanswered,
// as the protocol says: Postfix then applies its default_action. With milter_listen or milter_socket, its
// servers also serve the milter for mail handed to sendmail (postfix-milter.ts).
import { Buffer } from "node:buffer";
import type { Logger } from "../log.ts";
import type { PostfixVocabulary } from "../model/postfix.ts";
import { recordRequest } from "../control/metrics.ts";
import { formatPostfixReply, parsePostfixRequest, type PostfixRequest } from "../protocols/postfix-policy.ts";
import { mayPrependAt, postfixReplyFormatter } from "../protocols/postfix-reply.ts";
import { type HeaderMemory, headerMemory } from "../policy/header-memory.ts";
import { defineActor } from "../actors/actor.ts";
import { type DecideAndReply, decideAndReply, type DecisionFormat } from "./decide-and-reply.ts";
import { PostfixFraming } from "./framing.ts";
import { rateLimitedWarning } from "./connection-bound.ts";
import { describeTransport, type Responder, type Transport } from "./request-server.ts";
import { type ListenerEvent, type ListenerInput, serverSet, unlinkSocket } from "./listener.ts";
import { claimSocketPath, setSocketAccess } from "./unix-socket.ts";
import { MilterFraming, milterRequestHandler } from "./postfix-milter.ts";
import { type RetryMemory, retryMemory } from "./postfix-retries.ts";

export type PostfixListenerInput = ListenerInput;
export type PostfixListenerEvent = ListenerEvent;

const SOURCE = "postfix";

/** The engine's decide step for requests before the message (PREPEND allowed) and after it. */
interface Deciders {
  beforeMessage: DecideAndReply;
  afterMessage: DecideAndReply;
  accept: Uint8Array; // the reply to a request at no stage of the engine (VRFY, ETRN)
}

// Reply texts kept as bytes: the plain accept, a few refusals said again and again. Past it all are forgotten.
const ENCODED_REPLIES = 16;

/**
 * The formatter's replies as bytes, each text encoded once: most replies are the same few texts (the plain
 * accept, a frozen refusal), and a string would be copied into a new Buffer for the socket on every reply
 * (request-server.ts). Bounded by ENCODED_REPLIES.
 */
function encodedOnce(format: DecisionFormat): DecisionFormat {
  const encoded = new Map<string, Uint8Array>();
  return (decision, request) => {
    const text = format(decision, request);
    if (typeof text !== "string") return text;
    let bytes = encoded.get(text);
    if (bytes === undefined) {
      if (encoded.size >= ENCODED_REPLIES) encoded.clear();
      encoded.set(text, bytes = Buffer.from(text));
    }
    return bytes;
  };
}

/** The formatter's reply, also kept for the retries of a request whose client left before it. */
function keptForRetries(format: DecisionFormat, retries: RetryMemory): DecisionFormat {
  return (decision, request) => {
    const reply = format(decision, request);
    if (request.form === "attributes") retries.decided(request.attributes, reply);
    return reply;
  };
}

/**
 * `firstTime`: the listener's memory of the headers prepended per message, kept across reloads: a message
 * whose RCPTs straddle a reload would otherwise get its header again (Postfix adds every RCPT's PREPEND).
 * `retries`: the requests Postfix gave up on, kept across reloads likewise.
 */
function deciders(
  input: PostfixListenerInput,
  vocabulary: PostfixVocabulary,
  firstTime: HeaderMemory,
  retries: RetryMemory,
): Deciders {
  const { engine, metrics, log } = input;
  const decider = (mayPrepend: boolean) =>
    decideAndReply(
      engine,
      metrics,
      log,
      keptForRetries(encodedOnce(postfixReplyFormatter(vocabulary, mayPrepend, firstTime)), retries),
    );
  return {
    beforeMessage: decider(true),
    afterMessage: decider(false),
    accept: Buffer.from(formatPostfixReply(vocabulary.accept)),
  };
}

function logDetails(log: Logger, request: PostfixRequest): void {
  if (!log.enabled("debug")) return;
  if (request.stage === undefined) {
    log.debug(SOURCE, "no stage to decide at, accepted", { state: request.state });
  }
  if (request.certificate) log.debug(SOURCE, "client certificate", request.certificate);
}

export const postfixListenerActor = defineActor<PostfixListenerInput, PostfixListenerEvent>(
  ({ input, fail }) => {
    const { log, metrics } = input;
    let config = input.config;
    // Started only with [postfix] (daemon.ts); the section's presence is fixed until a restart.
    const postfix = config.postfix!;
    const firstTime = headerMemory();
    const retries = retryMemory();
    let decide = deciders(input, postfix.vocabulary, firstTime, retries);
    let closed = false;
    const malformed = rateLimitedWarning(log, SOURCE, "malformed request: connection closed unanswered");
    const gaveUp = rateLimitedWarning(
      log,
      SOURCE,
      "Postfix gave up waiting for an answer (its check's timeout is below the concerns'): " +
        "its retry gets this answer, not counted again",
    );
    // Postfix past its check's timeout: it sends the request again on a new connection (postfix-retries.ts).
    const clientLeft = (note: unknown, unreadReply: string | Uint8Array | undefined) => {
      const request = note as PostfixRequest;
      retries.left(request.state, request.attributes, unreadReply);
      gaveUp({ state: request.state, instance: request.attributes.instance ?? "" });
    };

    // Runs for every request: the engine's reply closure is all it allocates besides the request.
    const answer = (bytes: Uint8Array, responder: Responder) => {
      const started = performance.now();
      const parsed = bytes.length > postfix.maxRequestBytes
        ? { ok: false as const, reason: `longer than max_request_size (${postfix.maxRequestBytes} bytes)` }
        : parsePostfixRequest(bytes);
      if (!parsed.ok) {
        malformed({ error: parsed.reason, bytes: bytes.length });
        recordRequest(metrics, "error", undefined, (performance.now() - started) / 1000);
        return responder.drop();
      }
      const request = parsed.request;
      responder.note = request;
      if (request.stage === undefined || request.certificate) logDetails(log, request);
      if (request.stage === undefined) return responder.reply(decide.accept);
      if (retries.size > 0 && retries.answer(request.state, request.attributes, responder)) {
        log.info(SOURCE, "request sent again: answered as before, not counted again", {
          state: request.state,
          instance: request.attributes.instance,
          recipient: request.attributes.recipient,
        });
        return;
      }
      const decideAt = mayPrependAt(request.state) ? decide.beforeMessage : decide.afterMessage;
      decideAt(
        { form: "attributes", stage: request.stage, attributes: request.attributes },
        started,
        responder,
      );
    };

    const servers = serverSet(config, log, SOURCE, fail);
    const framing = new PostfixFraming(postfix.maxRequestBytes, postfix.idleTimeoutMs);
    const serve = (transport: Transport) =>
      servers.serve({
        transport,
        framing,
        // The first request comes right after Postfix connects; later ones within idle_timeout.
        timeoutMs: config.daemon.requestTimeoutMs,
        onRequest: answer,
        onClientLeft: clientLeft,
        onTimeout: (_bytes, responder) => responder.drop(), // not called: the framing closes silently
      });
    // Each Unix socket is the listener's to remove once it is bound there (claimSocketPath refused a live one).
    const owned: string[] = [];
    const serveSocket = async (path: string, serving: (transport: Transport) => Promise<Transport>) => {
      await serving({ path });
      owned.push(path);
      // Postfix's smtpd (socket) and cleanup (milter_socket) both connect as its mail_owner.
      setSocketAccess(path, postfix.socketMode, postfix.socketGroup, log, SOURCE);
    };
    const serveMilter = (transport: Transport) =>
      servers.serve({
        transport,
        framing: new MilterFraming(postfix.milterTimeoutMs),
        timeoutMs: config.daemon.requestTimeoutMs,
        ...milterRequestHandler(input.engine, metrics, log),
        onTimeout: (_bytes, responder) => responder.drop(), // not called: the framing closes silently
      });
    (async () => {
      const { socket, milterSocket } = postfix;
      for (const path of [socket, milterSocket]) if (path !== undefined) await claimSocketPath(path);
      if (closed) return;
      const unix = socket === undefined ? undefined : serveSocket(socket, serve);
      const tcp = postfix.listen ? serve(postfix.listen) : undefined;
      const milterUnix = milterSocket === undefined ? undefined : serveSocket(milterSocket, serveMilter);
      const milter = postfix.milterListen ? serveMilter(postfix.milterListen) : undefined;
      // All at once: one that fails fails the actor, and none is left with a rejection nobody handles.
      const [, , bound, milterBound] = await Promise.all([unix, milterUnix, tcp, milter]);
      servers.listening();
      log.info(SOURCE, "listening", {
        socket,
        tcp: bound && describeTransport(bound),
        milter: milterBound && describeTransport(milterBound),
        milter_socket: milterSocket,
      });
    })().catch(fail);

    const unlinkPath = () => {
      for (const path of owned.splice(0)) unlinkSocket(path);
    };

    const drain = (graceMs: number): Promise<number> => {
      unlinkPath(); // a new client finds no socket (its default_action) rather than a closing backlog
      return servers.drain(graceMs);
    };

    return {
      receive(event) {
        if (event.type === "drain") {
          drain(event.graceMs).then(event.done, () => event.done(-1));
          return;
        }
        // [postfix] removed, or a setting it binds or frames with changed: the daemon says they wait for its
        // restart (config/start-only.ts), also while this actor is down.
        const next = event.config.postfix;
        if (next) decide = deciders(input, next.vocabulary, firstTime, retries);
        config = event.config;
      },
      stop() {
        closed = true;
        servers.stop();
        unlinkPath();
      },
    };
  },
);
