// The one place that knows which runtime serves HTTP: Bun.serve or Deno.serve, on a Unix socket or on
// loopback TCP. node:http would work on both, but each runtime's own server is the fast path.

import { bunServe, denoServe } from "../runtime.ts";

export interface RunningServer {
  stop(): Promise<void>;
}

type Fetch = (request: Request) => Response | Promise<Response>;

export function serveHttp(
  where: { unix: string } | { hostname: string; port: number },
  fetch: Fetch,
): RunningServer {
  if (bunServe) {
    const server = bunServe("unix" in where ? { unix: where.unix, fetch } : { ...where, fetch });
    return { stop: async () => void (await server.stop(true)) };
  }
  if (denoServe) {
    const options = "unix" in where
      ? { transport: "unix" as const, path: where.unix, onListen() {} }
      : { hostname: where.hostname, port: where.port, onListen() {} };
    const server = denoServe(options, fetch);
    return { stop: () => server.shutdown() };
  }
  throw new Error("the control plane needs Bun or Deno (Bun.serve / Deno.serve)");
}
