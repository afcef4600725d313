// One scan by spamd: connect (TCP or Unix socket), send the request head and the message, read the reply
// until spamd closes, parse it. Everything within one deadline: when it passes, the socket is destroyed
// and the scan is a timeout (a hung spamd whose kernel still accepts connections hangs only the read).
import { Buffer } from "node:buffer";
import { createConnection } from "node:net";
import { formatDuration } from "../model/duration.ts";
import type { SpamdAddress } from "../config/spamassassin-values.ts";
import {
  parseSpamdReply,
  type SpamdCommand,
  type SpamdReply,
  spamdRequestHead,
} from "../protocols/spamd-client.ts";

/** A reply is a status line, two headers and a report of a few KB; more than this is not spamd. */
export const MAX_REPLY_BYTES = 256 * 1024;

export interface ScanRequest {
  address: SpamdAddress;
  command: SpamdCommand;
  /** Sent as `User:` when spamd would read it as a name. */
  user?: string;
  message: Uint8Array;
  timeoutMs: number;
}

export type ScanResult =
  | { outcome: "ok"; reply: Extract<SpamdReply, { ok: true }>; seconds: number }
  | { outcome: "timeout" | "refused" | "error"; error: string };

export interface RunningScan {
  /** Destroys the socket; `done` is not called. */
  cancel(): void;
}

// spamd not there: nothing listens on the port (ECONNREFUSED) or no socket at the path (ENOENT).
const REFUSED = new Set(["ECONNREFUSED", "ENOENT"]);

export function scanMessage(scan: ScanRequest, done: (result: ScanResult) => void): RunningScan {
  const started = performance.now();
  const socket = "path" in scan.address
    ? createConnection({ path: scan.address.path })
    : createConnection({ host: scan.address.host, port: scan.address.port });
  const chunks: Buffer[] = [];
  let received = 0;
  let finished = false;
  const finish = (result: ScanResult | undefined) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.destroy();
    if (result !== undefined) done(result);
  };
  // The time left of the scan's deadline, a performance.now() difference: in the log as formatDuration
  // words it ("no answer from spamd within 4s 500ms", not "within 4499.922654 ms").
  const waited = formatDuration(Math.round(scan.timeoutMs));
  const timer = setTimeout(
    () => finish({ outcome: "timeout", error: `no answer from spamd within ${waited}` }),
    scan.timeoutMs,
  );
  socket.on("connect", () => {
    // One write of head and message together (writev), then the half-close spamc does too.
    socket.cork();
    socket.write(spamdRequestHead(scan.command, scan.message.length, scan.user));
    socket.write(scan.message);
    socket.end();
    socket.uncork();
  });
  socket.on("data", (chunk: Buffer) => {
    received += chunk.length;
    if (received > MAX_REPLY_BYTES) {
      finish({ outcome: "error", error: `reply over ${MAX_REPLY_BYTES} bytes` });
    } else chunks.push(chunk);
  });
  socket.on("end", () => {
    const reply = parseSpamdReply(Buffer.concat(chunks, received), scan.command);
    const seconds = (performance.now() - started) / 1000;
    finish(reply.ok ? { outcome: "ok", reply, seconds } : { outcome: "error", error: reply.error });
  });
  socket.on("error", (error: Error & { code?: string }) => {
    const outcome = REFUSED.has(error.code ?? "") ? "refused" : "error";
    finish({ outcome, error: `spamd at ${describeAddress(scan.address)}: ${error.message}` });
  });
  socket.on("close", () => finish({ outcome: "error", error: "spamd closed the connection" }));
  return { cancel: () => finish(undefined) };
}

export function describeAddress(address: SpamdAddress): string {
  if ("path" in address) return address.path;
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
