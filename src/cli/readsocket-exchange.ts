// One exchange with the policy listener exactly as Exim's ${readsocket} makes it: connect, write the
// request, shutdown(SHUT_WR), read to EOF. `mailpolicyd check` and the tests use it; the tests also play
// the clients that misbehave (no half-close).
import net from "node:net";
import { formatDuration } from "../model/duration.ts";

export type PolicyTarget = string | { host: string; port: number }; // a Unix socket path, or TCP

export interface ExchangeOptions {
  halfClose?: boolean; // default true, as Exim
  timeoutMs?: number; // default 5000
}

export class ExchangeTimeout extends Error {}

function describeTarget(target: PolicyTarget): string {
  return typeof target === "string" ? target : `${target.host}:${target.port}`;
}

/** The reply; rejects with the socket's error (its `code`: ENOENT, ECONNREFUSED…) or ExchangeTimeout. */
export function readsocketExchange(
  target: PolicyTarget,
  request: string | Uint8Array,
  options: ExchangeOptions = {},
): Promise<string> {
  const { halfClose = true, timeoutMs = 5000 } = options;
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({
      ...(typeof target === "string" ? { path: target } : target),
      allowHalfOpen: true,
    });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new ExchangeTimeout(`no answer on ${describeTarget(target)} within ${formatDuration(timeoutMs)}`),
      );
    }, timeoutMs);
    socket.on("connect", () => {
      socket.write(request);
      if (halfClose) socket.end();
    });
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
