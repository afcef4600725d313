// Codec for the Sendmail milter protocol, version 6, as Postfix speaks it to `non_smtpd_milters` (MILTER_README):
// mail handed to Postfix's `sendmail` (PHP's mail(), cron) reaches no policy service, only the milters of
// cleanup. Pure: bytes in, commands and a session's next step out; the listener (listeners/postfix-milter.ts)
// does the I/O. docs/postfix.md, "Mail handed to sendmail".
//
// A frame is a 4-byte big-endian length (of what follows), a command byte and its data. Postfix's side
// (milter8.c): OPTNEG first, then per event its macros (D) and the event: CONNECT (C), HELO (H), MAIL (M),
// RCPT (R), DATA (T), HEADER (L), EOH (N), BODY (B), end of message (E); ABORT (A) and QUIT (Q) end a message
// and the connection. Every event but D, A and Q waits for one reply; at end of message a reply may be
// preceded by modifications, here QUARANTINE (q: Postfix puts the message in the hold queue).
import { Buffer } from "node:buffer";

/** The protocol version Postfix 2.6 and later speak (and the one answered). */
export const MILTER_VERSION = 6;

/**
 * The largest frame taken. The events negotiated carry macros and addresses only (headers and body are
 * negotiated away), a few hundred bytes; Postfix's own limit on a frame is far above (milter8.c).
 */
export const MAX_FRAME_BYTES = 64 * 1024;

// Commands (MTA to milter) and replies (milter to MTA), as milter8.c names them.
export const SMFIC_ABORT = 0x41; // A
export const SMFIC_BODY = 0x42; // B
export const SMFIC_CONNECT = 0x43; // C
export const SMFIC_MACRO = 0x44; // D
export const SMFIC_BODYEOB = 0x45; // E: end of message
export const SMFIC_HELO = 0x48; // H
export const SMFIC_QUIT_NC = 0x4b; // K: quit, a new connection follows on this one
export const SMFIC_HEADER = 0x4c; // L
export const SMFIC_MAIL = 0x4d; // M
export const SMFIC_EOH = 0x4e; // N
export const SMFIC_OPTNEG = 0x4f; // O
export const SMFIC_QUIT = 0x51; // Q
export const SMFIC_RCPT = 0x52; // R
export const SMFIC_DATA = 0x54; // T
export const SMFIC_UNKNOWN = 0x55; // U

const SMFIR_ACCEPT = 0x61; // a
const SMFIR_CONTINUE = 0x63; // c
const SMFIR_QUARANTINE = 0x71; // q

/** Action flag: the milter may quarantine (SMFIF_QUARANTINE); the only modification asked for. */
export const SMFIF_QUARANTINE = 0x20;

// Protocol flags: the events the milter does not want. Headers, end of headers, body, DATA and unknown
// commands are of no use to a count of messages and recipients, and a header frame is as long as the
// header (up to Postfix's header_size_limit, 100 KB): with them away, every frame stays small.
const SMFIP_NOBODY = 0x10;
const SMFIP_NOHDRS = 0x20;
const SMFIP_NOEOH = 0x40;
const SMFIP_NOUNKNOWN = 0x100;
const SMFIP_NODATA = 0x200;
export const UNWANTED_EVENTS = SMFIP_NOBODY | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOUNKNOWN | SMFIP_NODATA;

/** Commands that wait for no reply: macros go with the next event; abort and quit end what was going on. */
const NO_REPLY = new Set([SMFIC_MACRO, SMFIC_ABORT, SMFIC_QUIT_NC]);

export type MilterCommand =
  | { kind: "optneg"; version: number; actions: number; protocol: number }
  | { kind: "macros"; macros: ReadonlyArray<readonly [string, string]> }
  | { kind: "connect"; hostname: string; family: string; port: number; address: string }
  | { kind: "helo" }
  | { kind: "mail"; address: string }
  | { kind: "rcpt"; address: string }
  | { kind: "eom" }
  | { kind: "abort" }
  | { kind: "quit" }
  | { kind: "quit-new-connection" }
  /** DATA, HEADER, EOH, BODY, UNKNOWN: sent though negotiated away (an MTA may); answered continue. */
  | { kind: "skipped"; command: string };

/**
 * Where the first frame in `bytes` from `at` ends, -1 if it is not complete yet, or -2 if its declared
 * length is 0 or over maxFrameBytes (malformed: no command, or more than a milter of this kind is sent).
 */
export function frameEnd(bytes: Uint8Array, at: number, maxFrameBytes = MAX_FRAME_BYTES): number {
  if (bytes.length - at < 4) return -1;
  const length = ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
  if (length === 0 || length > maxFrameBytes) return -2;
  return bytes.length - at - 4 >= length ? at + 4 + length : -1;
}

/**
 * Where the first request in `bytes` ends: its frames up to and including the first that waits for a
 * reply or ends the connection (macros and aborts go with the event after them), or -1 if not complete. A
 * malformed frame makes everything so far the request (its parse then says why it is refused).
 */
export function milterRequestEnd(bytes: Uint8Array, maxFrameBytes = MAX_FRAME_BYTES): number {
  for (let at = 0; at < bytes.length;) {
    const end = frameEnd(bytes, at, maxFrameBytes);
    if (end === -2) return bytes.length;
    if (end === -1) return -1;
    if (!NO_REPLY.has(bytes[at + 4])) return end;
    at = end;
  }
  return -1;
}

const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A NUL-terminated string's text: UTF-8 (SMTPUTF8 addresses), else Latin-1. */
function text(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return latin1.decode(bytes);
  }
}

/** The NUL-terminated strings of a frame's data; undefined if the last is not terminated. */
function strings(data: Uint8Array): string[] | undefined {
  const found: string[] = [];
  for (let at = 0; at < data.length;) {
    const nul = data.indexOf(0, at);
    if (nul < 0) return undefined;
    found.push(text(data.subarray(at, nul)));
    at = nul + 1;
  }
  return found;
}

/** An address as MAIL and RCPT carry it: `<a@b>` from smtpd, bare from cleanup's emulation (recorded). */
function unbracketed(address: string): string {
  return address.startsWith("<") && address.endsWith(">") ? address.slice(1, -1) : address;
}

export type MilterParse = { ok: true; commands: MilterCommand[] } | { ok: false; reason: string };

const SKIPPED_NAMES: Readonly<Record<number, string>> = {
  [SMFIC_BODY]: "BODY",
  [SMFIC_HEADER]: "HEADER",
  [SMFIC_EOH]: "EOH",
  [SMFIC_DATA]: "DATA",
  [SMFIC_UNKNOWN]: "UNKNOWN",
};

function parseFrame(command: number, data: Uint8Array): MilterCommand | string {
  switch (command) {
    case SMFIC_OPTNEG: {
      if (data.length < 12) return "OPTNEG shorter than 12 bytes";
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      return {
        kind: "optneg",
        version: view.getUint32(0),
        actions: view.getUint32(4),
        protocol: view.getUint32(8),
      };
    }
    case SMFIC_MACRO: {
      const parts = data.length > 1 ? strings(data.subarray(1)) : [];
      if (data.length < 1 || parts === undefined || parts.length % 2 !== 0) return "malformed MACRO";
      const macros: [string, string][] = [];
      for (let i = 0; i < parts.length; i += 2) macros.push([parts[i], parts[i + 1]]);
      return { kind: "macros", macros };
    }
    case SMFIC_CONNECT: {
      const nul = data.indexOf(0);
      if (nul < 0 || data.length < nul + 2) return "malformed CONNECT";
      const hostname = text(data.subarray(0, nul));
      const family = String.fromCharCode(data[nul + 1]);
      if (family === "U") return { kind: "connect", hostname, family, port: 0, address: "" };
      const rest = data.subarray(nul + 2);
      const address = rest.length >= 3 ? strings(rest.subarray(2)) : undefined;
      if (address === undefined || address.length !== 1) return "malformed CONNECT";
      return { kind: "connect", hostname, family, port: (rest[0] << 8) | rest[1], address: address[0] };
    }
    case SMFIC_HELO:
      return { kind: "helo" };
    case SMFIC_MAIL:
    case SMFIC_RCPT: {
      const args = strings(data);
      if (args === undefined || args.length === 0) {
        return `malformed ${command === SMFIC_MAIL ? "MAIL" : "RCPT"}`;
      }
      const address = unbracketed(args[0]);
      return command === SMFIC_MAIL ? { kind: "mail", address } : { kind: "rcpt", address };
    }
    case SMFIC_BODYEOB:
      return { kind: "eom" };
    case SMFIC_ABORT:
      return { kind: "abort" };
    case SMFIC_QUIT:
      return { kind: "quit" };
    case SMFIC_QUIT_NC:
      return { kind: "quit-new-connection" };
    default: {
      const name = SKIPPED_NAMES[command];
      if (name !== undefined) return { kind: "skipped", command: name };
      return `unknown command 0x${command.toString(16).padStart(2, "0")}`;
    }
  }
}

/** The frames of one request (milterRequestEnd cut it out), or why they are malformed. */
export function parseMilterFrames(bytes: Uint8Array, maxFrameBytes = MAX_FRAME_BYTES): MilterParse {
  const commands: MilterCommand[] = [];
  for (let at = 0; at < bytes.length;) {
    const end = frameEnd(bytes, at, maxFrameBytes);
    if (end === -2) return { ok: false, reason: `frame length 0 or over ${maxFrameBytes} bytes` };
    if (end === -1) return { ok: false, reason: "incomplete frame" };
    const parsed = parseFrame(bytes[at + 4], bytes.subarray(at + 5, end));
    if (typeof parsed === "string") return { ok: false, reason: parsed };
    commands.push(parsed);
    at = end;
  }
  return { ok: true, commands };
}

function frame(command: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const bytes = new Uint8Array(5 + data.length);
  new DataView(bytes.buffer).setUint32(0, 1 + data.length);
  bytes[4] = command;
  bytes.set(data, 5);
  return bytes;
}

/**
 * The answer to the MTA's OPTNEG: version 6, quarantine, and the events not wanted, those of them the MTA
 * offers to leave out (an event it cannot leave out still comes, and is answered continue). Undefined if
 * the MTA speaks an older version or cannot quarantine: nothing could be held, so the listener closes.
 */
export function negotiationReply(offer: { version: number; actions: number; protocol: number }) {
  if (offer.version < MILTER_VERSION || (offer.actions & SMFIF_QUARANTINE) === 0) return undefined;
  const data = new Uint8Array(12);
  const view = new DataView(data.buffer);
  view.setUint32(0, MILTER_VERSION);
  view.setUint32(4, SMFIF_QUARANTINE);
  view.setUint32(8, (offer.protocol & UNWANTED_EVENTS) >>> 0);
  return frame(SMFIC_OPTNEG, data);
}

export const CONTINUE_REPLY = frame(SMFIR_CONTINUE);
export const ACCEPT_REPLY = frame(SMFIR_ACCEPT);

/** Quarantine with `reason` (Postfix: the hold queue), then accept: the end-of-message answer that holds. */
export function quarantineReply(reason: string): Uint8Array {
  // A NUL inside would end the reason early; Postfix logs the text, so one line.
  const clean = reason.replace(/[\0\r\n]+/g, " ");
  const held = frame(SMFIR_QUARANTINE, Buffer.from(`${clean}\0`, "utf8"));
  return Buffer.concat([held, ACCEPT_REPLY]);
}

/** Recipients listed by name in the request, as the Exim snippets send $recipients (up to 10). */
const LISTED_RECIPIENTS = 10;

/** One message as a milter connection tells it: its queue ID, sender, recipients. */
export interface MilterMessage {
  /** The macro `i`, Postfix's queue ID (sent with MAIL, RCPT and end of message); the others are not kept. */
  queueId: string | undefined;
  sender: string | undefined;
  /** The first LISTED_RECIPIENTS of them, by address: a message's memory stays bounded. */
  recipients: string[];
  recipientCount: number;
  /** The connection came from an SMTP client (a port), not from cleanup's emulation for sendmail mail. */
  smtpClient: boolean;
}

export const newMilterMessage = (): MilterMessage => ({
  queueId: undefined,
  sender: undefined,
  recipients: [],
  recipientCount: 0,
  smtpClient: false,
});

/** What the listener does after a request's commands were applied to its message. */
export type MilterStep =
  | { kind: "reply"; bytes: Uint8Array }
  | { kind: "decide" } // end of message: ask the engine, then answer accept or quarantine
  | { kind: "close"; reason?: string }; // QUIT (no reason) or a protocol the listener cannot serve

/**
 * Applies a request's commands to `message` (changed in place) and says what to do. Every request ends
 * with one command that waits for a reply or ends the connection (milterRequestEnd); what precedes it needs
 * no reply.
 */
export function applyMilterCommands(message: MilterMessage, commands: readonly MilterCommand[]): MilterStep {
  let step: MilterStep = { kind: "close", reason: "no command" };
  for (const command of commands) {
    switch (command.kind) {
      case "optneg": {
        const reply = negotiationReply(command);
        step = reply
          ? { kind: "reply", bytes: reply }
          : { kind: "close", reason: `MTA offers version ${command.version} without quarantine` };
        break;
      }
      case "macros":
        for (const [name, value] of command.macros) if (name === "i" && value !== "") message.queueId = value;
        break;
      case "connect":
        // cleanup's emulated connect for sendmail mail has port 0 (recorded); an SMTP client never does.
        message.smtpClient = command.family !== "U" && command.port !== 0;
        step = { kind: "reply", bytes: message.smtpClient ? ACCEPT_REPLY : CONTINUE_REPLY };
        break;
      case "mail":
        message.sender = command.address;
        message.recipients = [];
        message.recipientCount = 0;
        step = { kind: "reply", bytes: CONTINUE_REPLY };
        break;
      case "rcpt":
        if (message.recipientCount++ < LISTED_RECIPIENTS) message.recipients.push(command.address);
        step = { kind: "reply", bytes: CONTINUE_REPLY };
        break;
      case "eom":
        step = { kind: "decide" };
        break;
      case "abort":
      case "quit-new-connection":
        Object.assign(message, { ...newMilterMessage(), smtpClient: message.smtpClient });
        break;
      case "quit":
        step = { kind: "close" };
        break;
      case "helo":
      case "skipped":
        step = { kind: "reply", bytes: CONTINUE_REPLY };
        break;
    }
  }
  return step;
}

/**
 * The engine's `local` request for a message handed to sendmail. Postfix tells a milter no login (no macro
 * carries the submitting uid: cleanup_milter.c, and the `Received: … from userid N` header pickup adds is the
 * one header Postfix hides from milters), so `local_user` is the envelope sender as Postfix rewrote it: the
 * login at $myorigin unless the program chose one with `-f`, which local_login_sender_maps can forbid.
 * The null sender (`-f '<>'`) is `<>`, as limit keys write it: an empty local_user is no key, and such mail
 * escaped every local_user limit.
 */
export function localRequestAttributes(message: MilterMessage): Record<string, string> {
  const sender = message.sender ?? "";
  const attributes: Record<string, string> = {
    sender,
    local_user: message.sender === "" ? "<>" : sender,
    recipient_count: String(message.recipientCount),
  };
  if (message.recipientCount <= LISTED_RECIPIENTS) attributes.recipients = message.recipients.join(", ");
  if (message.queueId !== undefined) attributes.queue_id = message.queueId;
  return attributes;
}
