// What differs between the runtimes mailpolicyd runs on (Bun: the shipped executable; Deno: the source
// under `deno test`), in one place: the rest of the code imports these constants and never looks at
// globalThis.Bun / globalThis.Deno itself. All are read once, when this module loads, so a caller on the
// request path pays a property read, not a call.

import { Buffer } from "node:buffer";
import diagnostics from "node:diagnostics_channel";

/** Bun's socket handlers, as far as this code uses them. */
// deno-lint-ignore no-explicit-any
export interface BunSocketHandlers<Socket = any> {
  open?(socket: Socket): void;
  data?(socket: Socket, chunk: Uint8Array): void;
  end?(socket: Socket): void | Promise<void>;
  error?(socket: Socket, error: Error): void;
  drain?(socket: Socket): void;
}

/** Bun.listen, typed minimally: a Unix socket path or a TCP address. */
export type BunListen = (
  options: ({ unix: string } | { hostname: string; port: number }) & {
    allowHalfOpen?: boolean;
    socket: BunSocketHandlers;
  },
) => { port?: number; stop(closeActive?: boolean): void };

/** process.execve (Bun; Node ≥ 23.11): replaces the process image, keeping its PID. */
export type Execve = (file: string, args: string[], env: Record<string, string | undefined>) => never;

// deno-lint-ignore no-explicit-any
const Bun = (globalThis as any).Bun;
// deno-lint-ignore no-explicit-any
const processExecve = (process as any).execve;

/** Running on Bun (the shipped executable), where JavaScriptCore is the VM. */
export const onBun: boolean = Bun !== undefined;

/** Bun.listen, undefined elsewhere (node:net then). */
export const bunListen: BunListen | undefined = Bun?.listen.bind(Bun);

/** A full, synchronous garbage collection (Bun.gc(true)); null where the runtime offers none (Deno). */
export const collectGarbage: (() => void) | null = Bun ? () => Bun.gc(true) : null;

/** The first index of `needle` (not empty) in `haystack` at or after `from`, or -1: JavaScript's way. */
export function indexOfBytesLoop(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  const last = haystack.length - needle.length;
  for (let at = haystack.indexOf(first, from); at >= 0 && at <= last; at = haystack.indexOf(first, at + 1)) {
    let matched = 1;
    while (matched < needle.length && haystack[at + matched] === needle[matched]) matched++;
    if (matched === needle.length) return at;
  }
  return -1;
}

const bufferIndexOf = Buffer.prototype.indexOf;

/**
 * The first index of `needle` in `haystack` at or after `from`, or -1. On Bun, Buffer's native search
 * (it takes any Uint8Array): one call finds a Postfix request's empty line in ~45 ns, where an indexOf per
 * newline took ~450 (docs/decisions.md, "Finding and reading a Postfix request"). Deno's Buffer.indexOf
 * is written in JavaScript and took ~2.6 µs there, so elsewhere it is the loop.
 */
export const indexOfBytes: (haystack: Uint8Array, needle: Uint8Array, from: number) => number = Bun
  ? (haystack, needle, from) => bufferIndexOf.call(haystack, needle, from)
  : indexOfBytesLoop;

/** process.execve bound to process, undefined where the runtime lacks it. */
export const execve: Execve | undefined = typeof processExecve === "function"
  ? processExecve.bind(process)
  : undefined;

/**
 * Gives Bun's TracingChannel the `hasSubscribers` Node's and Deno's have (true when one of its five channels
 * has a subscriber). ioredis 6 traces a command unless it reads `false` there, so on Bun it built a trace
 * for nobody on every command: ~1.1 µs of CPU of ~18 per call (docs/decisions.md, "Redis: what a script
 * costs"). Does nothing where the property exists. Called by limits/redis-connection.ts.
 */
export function fillTracingHasSubscribers(): void {
  const prototype = Object.getPrototypeOf(diagnostics.tracingChannel("mailpolicyd:probe"));
  if ("hasSubscribers" in prototype) return;
  Object.defineProperty(prototype, "hasSubscribers", {
    configurable: true,
    get(this: Record<"start" | "end" | "asyncStart" | "asyncEnd" | "error", { hasSubscribers: boolean }>) {
      return this.start.hasSubscribers || this.end.hasSubscribers || this.asyncStart.hasSubscribers ||
        this.asyncEnd.hasSubscribers || this.error.hasSubscribers;
    },
  });
}
