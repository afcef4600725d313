// The baseline: the least a policy server can do on this runtime (accept, read to EOF, answer "no",
// close). mailpolicyd's throughput is reported as a fraction of this one's, measured in the same run.
import { unlinkSync } from "node:fs";
import net from "node:net";

const path = process.argv[2];
try {
  unlinkSync(path);
} catch { /* not there */ }
net.createServer({ allowHalfOpen: true }, (socket) => {
  socket.on("data", () => {});
  socket.on("end", () => socket.end("no"));
  socket.on("error", () => {});
}).listen(path, () => process.stderr.write("reference: listening\n"));
