// What the SpamAssassin client (actors/spamassassin.ts: queue, breaker, socket, codec, answer) costs over
// asking spamd directly for the same message, p50 of each in the same run, interleaved:
//   - against a replay server that answers every request at once with the REPORT reply recorded from
//     spamd (test/fixtures/spamd/gtube-report.reply): the client's own overhead, without spamd's noise;
//   - against a real spamd (test/helpers/spamd.ts): the actor, a raw socket doing the same exchange, and
//     `spamc -R` (a process per message, as a shell pipeline would use it).
// Prints one JSON line. Run: `bun test/bench/spamd-client.ts [SCANS]` (default 200 per client and server).
import { Buffer } from "node:buffer";
import { spawnSync } from "node:child_process";
import { createConnection } from "node:net";
import { createActor } from "xstate";
import { spamAssassinActor } from "../../src/actors/spamassassin.ts";
import { parseConfig } from "../../src/config/load.ts";
import { createMetrics } from "../../src/control/metrics.ts";
import { createLogger } from "../../src/log.ts";
import type { ConcernAnswer } from "../../src/model/answer.ts";
import { spamdRequestHead } from "../../src/protocols/spamd-client.ts";
import { spamdFixture, startSpamd } from "../helpers/spamd.ts";
import { startReplay } from "../helpers/spamd-replay.ts";

const SCANS = Number(process.argv[2] ?? 200);
const MESSAGE = spamdFixture("gtube.eml");

/** The raw exchange: connect, write head and message, half-close, read to EOF. Resolves with the bytes. */
function rawScan(port: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    socket.on("connect", () => {
      socket.write(spamdRequestHead("report", MESSAGE.length));
      socket.end(MESSAGE);
    });
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => resolve(Buffer.concat(chunks)));
    socket.on("error", reject);
  });
}

function actorFor(port: number) {
  const parsed = parseConfig(`[spamassassin]\naddress = 127.0.0.1:${port}\n`, "bench.conf", "/tmp");
  if (!parsed.ok) throw new Error(parsed.errors.join("\n"));
  const actor = createActor(spamAssassinActor, {
    input: { config: parsed.config, log: createLogger("error"), metrics: createMetrics() },
  });
  actor.start();
  return (): Promise<ConcernAnswer | undefined> =>
    new Promise((resolve) =>
      actor.send({
        type: "scan",
        request: {
          form: "message",
          envelope: { sender: "a@example.org", recipients: ["b@example.net"] },
          message: MESSAGE,
          size: MESSAGE.length,
          truncated: false,
        },
        reply: resolve,
      })
    );
}

function spamcScan(port: number): void {
  const result = spawnSync("spamc", ["-R", "-d", "127.0.0.1", "-p", String(port)], { input: MESSAGE });
  if (!/^1000/.test(result.stdout.toString())) throw new Error(`spamc: ${result.stdout}${result.stderr}`);
}

async function timed(step: () => unknown): Promise<number> {
  const started = performance.now();
  await step();
  return performance.now() - started;
}

const p50 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** Each client in turn, scan after scan, so that they share the machine's ups and downs alike. */
async function interleaved(clients: Record<string, () => unknown>, scans: number) {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(clients).map((name) => [name, []]));
  for (const step of Object.values(clients)) for (let i = 0; i < 10; i++) await step(); // warm-up
  for (let i = 0; i < scans; i++) {
    for (const [name, step] of Object.entries(clients)) times[name].push(await timed(step));
  }
  return Object.fromEntries(Object.entries(times).map(([name, values]) => [name, round(p50(values))]));
}

const replay = await startReplay();
const onReplay = await interleaved(
  { raw: () => rawScan(replay.port), actor: actorFor(replay.port) },
  SCANS * 5,
);
replay.server.close();

const spamd = await startSpamd({ maxChildren: 2 });
try {
  const onSpamd = await interleaved({
    raw: () => rawScan(spamd.tcp.port),
    actor: actorFor(spamd.tcp.port),
    spamc: () => spamcScan(spamd.tcp.port),
  }, SCANS);
  process.stdout.write(
    `${
      JSON.stringify({
        scans: SCANS,
        replayP50Ms: onReplay,
        replayOverheadP50Ms: round(onReplay.actor - onReplay.raw),
        spamdP50Ms: onSpamd,
        spamdOverheadP50Ms: round(onSpamd.actor - onSpamd.raw),
      })
    }\n`,
  );
} finally {
  await spamd.stop();
  process.exit(0);
}
