// The spamd front's own cost, for docs/spamd-front.md: round trips of Exim's request (REPORT SPAMC/1.2
// with an mbox copy) over loopback TCP to an in-process daemon whose only content concern answers at once
// (the marker concern of the tests), one at a time: p50/p99 latency and scans per second, for a 10 KB and a
// 1 MB message. What SpamAssassin itself takes comes on top. Prints one JSON line (`npm run bench -- --only
// spamd`). Run: `bun test/bench/spamd-front.ts` or `deno run -A test/bench/spamd-front.ts`.
import net from "node:net";
import { freePort } from "../helpers/smtp-receiver.ts";
import { startFrontDaemon } from "../helpers/spamd-front.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

function mbox(bytes: number): Uint8Array {
  const head = "From alice@example.org Wed Dec  2 15:00:00 2026\nX-Envelope-From: <alice@example.org>\n" +
    "X-Envelope-To: user@example.net\nSubject: bench\n\n";
  const line = "a line of an ordinary message body, seventy-odd characters long.......\n";
  return new TextEncoder().encode(head + line.repeat(Math.ceil(bytes / line.length)) + "MARKER-SCORE=3\n");
}

function scan(port: number, message: Uint8Array): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host: "127.0.0.1", port, allowHalfOpen: true }, () => {
      socket.write(`REPORT SPAMC/1.2\r\nUser: nobody\r\nContent-length: ${message.length}\r\n\r\n`);
      socket.end(message);
    });
    let reply = "";
    socket.on("data", (chunk) => reply += chunk);
    socket.on("end", () => {
      socket.end();
      if (!reply.startsWith("SPAMD/1.1 0 EX_OK")) reject(new Error(reply));
      else resolve(performance.now() - started);
    });
    socket.on("error", reject);
  });
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

const dir = makeTempDir();
const port = await freePort();
const { daemon } = await startFrontDaemon(dir, "none", `listen = 127.0.0.1:${port}\nmax_message_size = 2M\n`);
try {
  const result: Record<string, { p50_ms: number; p99_ms: number; scans_per_s: number }> = {};
  for (const [label, size, rounds] of [["10kb", 10_000, 2000], ["1mb", 1_000_000, 200]] as const) {
    const message = mbox(size);
    for (let i = 0; i < 50; i++) await scan(port, message); // warm-up
    const times: number[] = [];
    const began = performance.now();
    for (let i = 0; i < rounds; i++) times.push(await scan(port, message));
    const seconds = (performance.now() - began) / 1000;
    times.sort((a, b) => a - b);
    const ms = (value: number) => Math.round(value * 1000) / 1000;
    result[label] = {
      p50_ms: ms(percentile(times, 0.5)),
      p99_ms: ms(percentile(times, 0.99)),
      scans_per_s: Math.round(rounds / seconds),
    };
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  daemon.stop();
  dir.remove();
}
