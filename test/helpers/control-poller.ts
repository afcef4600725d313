// Polls the control plane as hard as it lets itself be polled, in a process of its own so that its work
// does not delay the measuring clients of the test that starts it: two loops on the control socket and one
// on the loopback TCP listener, each asking /status then /senders?top=20, for MS milliseconds. Prints
// {"socket": answers, "tcp": answers, "errors": [...]} and exits.
// Usage: control-poller.ts CONTROL_SOCKET TCP_PORT MS
import type http from "node:http";
import { httpGet } from "./http-get.ts";

const [socketPath, port, ms] = process.argv.slice(2);
const until = performance.now() + Number(ms);
const answered = { socket: 0, tcp: 0 };
const errors: string[] = [];

async function poll(options: http.RequestOptions, where: "socket" | "tcp") {
  while (performance.now() < until) {
    for (const path of ["/status", "/senders?top=20"]) {
      try {
        const answer = await httpGet({ ...options, path });
        const rows = path.startsWith("/senders") && answer.status === 200
          ? JSON.parse(answer.body).length
          : 20;
        if (answer.status === 200 && rows === 20) answered[where]++;
        else errors.push(`${where} ${path}: ${answer.status} ${answer.body.slice(0, 200)}`);
      } catch (error) {
        errors.push(`${where} ${path}: ${(error as Error).message}`);
      }
    }
  }
}

await Promise.all([
  poll({ socketPath }, "socket"),
  poll({ socketPath }, "socket"),
  poll({ host: "127.0.0.1", port: Number(port), agent: false }, "tcp"),
]);
process.stdout.write(`${JSON.stringify({ ...answered, errors: errors.slice(0, 5) })}\n`);
process.exit(0);
