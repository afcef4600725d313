// The one place that knows which runtime serves HTTP: Bun.serve or Deno.serve, on a Unix socket or on
// loopback TCP. node:http would work on both, but each runtime's own server is the fast path.

export interface RunningServer {
  stop(): Promise<void>;
}

type Fetch = (request: Request) => Response | Promise<Response>;

// deno-lint-ignore no-explicit-any
const runtime = globalThis as any;

export function serveHttp(
  where: { unix: string } | { hostname: string; port: number },
  fetch: Fetch,
): RunningServer {
  if (runtime.Bun) {
    const server = runtime.Bun.serve("unix" in where ? { unix: where.unix, fetch } : { ...where, fetch });
    return { stop: async () => void (await server.stop(true)) };
  }
  if (runtime.Deno) {
    const options = "unix" in where
      ? { transport: "unix", path: where.unix, onListen() {} }
      : { hostname: where.hostname, port: where.port, onListen() {} };
    const server = runtime.Deno.serve(options, fetch);
    return { stop: () => server.shutdown() };
  }
  throw new Error("the control plane needs Bun or Deno (Bun.serve / Deno.serve)");
}
