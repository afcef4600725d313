// The baselines on mailpolicyd's own runtime: the least a policy server can do (read to EOF, answer
// "no" after an await, close), with Bun's native Bun.listen (what mailpolicyd uses on Bun) or with
// node:net (`--node-net`). mailpolicyd's throughput is reported as a fraction of these, in the same run.
import { unlinkSync } from "node:fs";
import net from "node:net";

const path = process.argv[2];
try {
  unlinkSync(path);
} catch { /* not there */ }
// deno-lint-ignore no-explicit-any
const Bun = (globalThis as any).Bun;
if (Bun && !process.argv.includes("--node-net")) {
  Bun.listen({
    unix: path,
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
  }).listen(path);
}
process.stderr.write("reference: listening\n");
