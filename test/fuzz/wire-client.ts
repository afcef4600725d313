// A policy client that can misbehave in every way the wire fuzz needs: the request in pieces (with or
// without pauses), half-closed after the last piece, after only some of them, or never; it reads to EOF as
// Exim does and reports what came back and how the connection ended.
import net from "node:net";

export type Target = { path: string } | { host: string; port: number };

/** after: write everything, then shutdown(SHUT_WR) as Exim; early: half-close after the first piece; none. */
export type HalfClose = "after" | "early" | "none";

export interface WireCase {
  payload: Uint8Array;
  /** Cut points inside payload: the pieces are written one by one. */
  cuts: readonly number[];
  pauseMs: number;
  halfClose: HalfClose;
}

export interface WireResult {
  reply: string;
  /** "eof": a clean end; "reset", "epipe" or another error code; "silence": nothing before timeoutMs. */
  end: string;
  ms: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function pieces(request: WireCase): Uint8Array[] {
  const cuts = [...new Set(request.cuts.filter((cut) => cut > 0 && cut < request.payload.length))]
    .sort((a, b) => a - b);
  const result: Uint8Array[] = [];
  let from = 0;
  for (const cut of [...cuts, request.payload.length]) {
    result.push(request.payload.subarray(from, cut));
    from = cut;
  }
  return result;
}

export function exchange(target: Target, request: WireCase, timeoutMs: number): Promise<WireResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = net.createConnection({ ...target, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let settled = false;
    const settle = (end: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ reply: Buffer.concat(chunks).toString("latin1"), end, ms: performance.now() - started });
    };
    const timer = setTimeout(() => settle("silence"), timeoutMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => settle("eof"));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      const code = error.code ?? error.message;
      settle(code === "ECONNRESET" ? "reset" : code === "EPIPE" ? "epipe" : code);
    });
    socket.on("connect", async () => {
      const parts = pieces(request);
      for (let i = 0; i < parts.length; i++) {
        if (settled) return;
        if (parts[i].length > 0) socket.write(parts[i]);
        if (request.halfClose === "early" && i === 0) {
          socket.end();
          return;
        }
        if (request.pauseMs > 0 && i < parts.length - 1) await sleep(request.pauseMs);
      }
      if (request.halfClose !== "none" && !settled) socket.end();
    });
  });
}
