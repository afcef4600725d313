// The baselines on mailpolicyd's own runtime: the least a policy server can do (read to EOF, answer
// "no" after an await, close), with Bun's native Bun.listen (what mailpolicyd uses on Bun) or with
// node:net (`--node-net`). mailpolicyd's throughput is reported as a fraction of these, in the same run.
// `--at-newline` answers as soon as the request's newline arrives, as mailpolicyd does: without waiting
// for the client's half-close, it spares a read and an epoll change per connection (~20 % more req/s).
// ADDRESS is a Unix socket path, or HOST:PORT for loopback TCP (as Exim's `${readsocket{inet:…}}`).
// It runs with the JavaScriptCore settings `mailpolicyd run` gives the daemon (src/cli/heap-tuning.ts: it
// re-executes itself with them, unless any is set already), so that only the work differs, not the heap.
// `--postfix` is the reference for Postfix's policy delegation: persistent connections, `action=DUNNO` and
// an empty line for each request block (its end: an empty line, found across chunks).
// Usage: bun reference-server.ts ADDRESS [--at-newline | --node-net | --postfix]
import { Buffer } from "node:buffer";
import { unlinkSync } from "node:fs";
import net from "node:net";
import { reexecWithHeapTuning } from "../../src/cli/heap-tuning.ts";
import { bunListen, indexOfBytes } from "../../src/runtime.ts";

reexecWithHeapTuning();

const address = process.argv[2];
const tcp = /^([^/]+):(\d+)$/.exec(address);
const bunWhere = tcp ? { hostname: tcp[1], port: Number(tcp[2]) } : { unix: address };
const nodeWhere = tcp ? { host: tcp[1], port: Number(tcp[2]) } : { path: address };
if (!tcp) {
  try {
    unlinkSync(address);
  } catch { /* not there */ }
}
const DUNNO = Buffer.from("action=DUNNO\n\n");

const EMPTY_LINE = Buffer.from("\n\n");

/**
 * Request blocks ending in `chunk`; `newline`: the byte before it was a newline (a block may end at 0).
 * The empty lines are found as the daemon's framing finds them (listeners/framing.ts: one native search).
 */
function blocksEnding(chunk: Uint8Array, newline: boolean): { blocks: number; newline: boolean } {
  const first = newline && chunk[0] === 0x0a ? 1 : 0; // an empty line begun in the chunk before
  let blocks = first;
  for (let i = indexOfBytes(chunk, EMPTY_LINE, first); i >= 0; i = indexOfBytes(chunk, EMPTY_LINE, i + 2)) {
    blocks++;
  }
  return { blocks, newline: chunk[chunk.length - 1] === 0x0a };
}

if (bunListen && process.argv.includes("--postfix")) {
  bunListen({
    ...bunWhere,
    socket: {
      // deno-lint-ignore no-explicit-any
      open(socket: any) {
        socket.data = false;
      },
      // deno-lint-ignore no-explicit-any
      data(socket: any, chunk: Uint8Array) {
        const { blocks, newline } = blocksEnding(chunk, socket.data);
        socket.data = newline;
        for (let i = 0; i < blocks; i++) socket.write(DUNNO);
      },
      error() {},
    },
  });
} else if (bunListen && process.argv.includes("--at-newline")) {
  bunListen({
    ...bunWhere,
    allowHalfOpen: true,
    socket: {
      // deno-lint-ignore no-explicit-any
      data(socket: any, chunk: Uint8Array) {
        if (chunk.indexOf(0x0a) >= 0) socket.end("no");
      },
      // deno-lint-ignore no-explicit-any
      end(socket: any) {
        socket.end("no");
      },
      error() {},
    },
  });
} else if (bunListen && !process.argv.includes("--node-net")) {
  bunListen({
    ...bunWhere,
    allowHalfOpen: true,
    socket: {
      data() {},
      // deno-lint-ignore no-explicit-any
      async end(socket: any) {
        await Promise.resolve();
        socket.end("no");
      },
      error() {},
    },
  });
} else {
  net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on("data", () => {});
    socket.on("end", async () => {
      await Promise.resolve();
      socket.end("no");
    });
    socket.on("error", () => {});
  }).listen(nodeWhere);
}
process.stderr.write("reference: listening\n");
