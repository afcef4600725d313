// A stand-in spamd for the benchmarks: it reads each request up to its Content-length and answers at once
// with the REPORT reply recorded from Debian's spamd (test/fixtures/spamd/gtube-report.reply), so that what
// a client or the front adds can be measured without spamd's own time and spread; or, with `delayMs`, after
// a fixed wait in place of spamd's scan: its time without its spread.
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";

const REPLY = readFileSync(new URL("../fixtures/spamd/gtube-report.reply", import.meta.url));

export function startReplay(delayMs = 0): Promise<{ server: Server; port: number }> {
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    let received = Buffer.alloc(0);
    let answered = false;
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const headEnd = received.indexOf("\r\n\r\n");
      const length = Number(/Content-length: (\d+)/.exec(received.subarray(0, headEnd).toString())?.[1]);
      if (answered || headEnd < 0 || received.length - headEnd - 4 < length) return;
      answered = true;
      if (delayMs === 0) socket.end(REPLY);
      else setTimeout(() => socket.end(REPLY), delayMs);
    });
    socket.on("error", () => {});
  });
  return new Promise((resolve) =>
    server.listen(
      0,
      "127.0.0.1",
      () => resolve({ server, port: (server.address() as { port: number }).port }),
    )
  );
}
