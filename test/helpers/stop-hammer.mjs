// `node stop-hammer.mjs TARGET CLIENTS PAUSE_MS`: CLIENTS Exim-style clients (connect, write, half-close,
// read to EOF) ask TARGET (JSON: {"path"} or {"host","port"}) in a loop, each until its first refused
// connect. Prints "answering" on a line of its own once 100 answers came (the load is on), and at the
// end the tally as JSON on the last line: "answered"; "unanswered" (connected, wrote, got an empty reply or
// a reset: what Exim must never see); "refused" (nothing listening: Exim's fallback). A separate process,
// several at once, so that the daemon's accept backlog is never empty (test/integration/graceful-stop).
import net from "node:net";

const [target, clients, pauseMs] = [
  JSON.parse(process.argv[2]),
  Number(process.argv[3]),
  Number(process.argv[4]),
];

function exchange(request) {
  return new Promise((resolve) => {
    const socket = net.createConnection({ ...target, allowHalfOpen: true });
    let connected = false;
    let reply = "";
    socket.on("connect", () => {
      connected = true;
      socket.end(request);
    });
    socket.on("data", (chunk) => reply += chunk);
    socket.on("end", () => {
      socket.destroy();
      resolve(reply === "" ? "unanswered" : "answered");
    });
    socket.on("error", () => resolve(connected ? "unanswered" : "refused"));
  });
}

const tally = { answered: 0, refused: 0, unanswered: 0 };
const ANSWERING_AFTER = 100;
await Promise.all(Array.from({ length: clients }, async (_, i) => {
  for (let n = 0;; n++) {
    const outcome = await exchange(
      `rcpt sender=c${process.pid}-${i}-${n % 50}@example.org recipient=r@example.net\n`,
    );
    tally[outcome]++;
    if (outcome === "answered" && tally.answered === ANSWERING_AFTER) process.stdout.write("answering\n");
    if (outcome === "refused") return;
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}));
process.stdout.write(JSON.stringify(tally));
