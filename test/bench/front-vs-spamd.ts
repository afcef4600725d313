// Issue 19's performance figures for the spamd front, with the compiled daemon (dist/mailpolicyd) in its own
// process, as Exim would ask it. Prints one JSON line. Run after `npm run build`:
//   bun test/bench/front-vs-spamd.ts spamd [SCANS] [BINARY]
//     the front with [spamassassin] in front of a real spamd (test/helpers/spamd.ts), against asking that
//     same spamd directly, the same messages (Exim's mbox copies of clean.eml and GTUBE, taking turns), the
//     clients taking turns scan by scan: the front in Exim's SpamAssassin form (REPORT SPAMC/1.2) and rspamd
//     form (CHECK RSPAMC/1.3, the envelope in the head), spamd over a raw socket with the SpamAssassin
//     client's own request (REPORT SPAMC/1.5), and `spamc -R` (a process per message). p50 and p99 of
//     each, and what the front adds: the difference of the p50s, and the median of the differences scan
//     by scan (the same message in the same turn, so spamd's drift falls on both alike); and the daemon's
//     own CPU per scan (from /proc, less its idle CPU), which spamd's spread does not blur. The same first
//     against a replay server that answers at once with a reply recorded from spamd (SCANS × 5): what the
//     front adds without spamd's time and spread; and against the same server answering after 150 ms (SCANS),
//     spamd's time without its spread: the front's path runs cold between scans, as it does in front of
//     spamd.
//   bun test/bench/front-vs-spamd.ts content [SCANS] [BINARY]
//     the front with only [content] (every kind of rule, none matching; no spamd): content-scan.ts's 1 MB
//     message with 20 attachments, in Exim's SpamAssassin form, one at a time: p50, p99, and the daemon's
//     CPU per scan (from /proc) and its RSS.
import { Buffer } from "node:buffer";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { fileURLToPath } from "node:url";
import { spamdRequestHead } from "../../src/protocols/spamd-client.ts";
import { RULES } from "../helpers/content-policy.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { answersPing, spamdFixture, startSpamd } from "../helpers/spamd.ts";
import { startReplay } from "../helpers/spamd-replay.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";
import { benchMessage } from "./content-scan.ts";

const mode = process.argv[2] ?? "spamd";
const SCANS = Number(process.argv[3] ?? (mode === "spamd" ? 150 : 200));
const BINARY = process.argv[4] ?? fileURLToPath(new URL("../../dist/mailpolicyd", import.meta.url));
const SENDER = "alice@example.org";
const RECIPIENT = "user@example.net";
// What Debian's spamd takes for these small messages here (0.1-0.2 s): the delayed replay's wait.
const SPAMD_LIKE_MS = 150;

/** Exim's mbox copy of a message (spool_mbox.c): a From line, the envelope headers, LF line ends. */
function mboxCopy(message: Uint8Array): Buffer {
  const head =
    `From ${SENDER} Wed Dec  2 15:00:00 2026\nX-Envelope-From: <${SENDER}>\nX-Envelope-To: ${RECIPIENT}\n`;
  return Buffer.from(head + Buffer.from(message).toString("latin1").replaceAll("\r\n", "\n"), "latin1");
}

/** Exim's rspamd form: the envelope in the head, no half-close (the request ends by its Content-length). */
function rspamcHead(length: number): string {
  return `CHECK RSPAMC/1.3\r\nContent-length: ${length}\r\nQueue-Id: 1tIyXb-000001-AB\r\nFrom: <${SENDER}>\r\n` +
    `Recipient-Number: 1\r\nRcpt: <${RECIPIENT}>\r\nHelo: mail.example.org\r\nHostname: mail.example.org\r\n` +
    `IP: 192.0.2.10\r\n\r\n`;
}

/** One exchange over loopback TCP: write head and message (half-closing if asked), read until the close. */
function exchange(port: number, head: string, message: Uint8Array, halfClose: boolean, expect: string) {
  return new Promise<void>((resolve, reject) => {
    const socket = createConnection({ host: "127.0.0.1", port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    socket.on("connect", () => {
      socket.write(head);
      if (halfClose) socket.end(message);
      else socket.write(message);
    });
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => {
      socket.end();
      const reply = Buffer.concat(chunks).toString("latin1");
      if (reply.startsWith(expect)) resolve();
      else reject(new Error(`expected ${expect}, got: ${reply.slice(0, 200)}`));
    });
    socket.on("error", reject);
  });
}

const frontSpamc = (port: number) => (message: Uint8Array) =>
  exchange(
    port,
    `REPORT SPAMC/1.2\r\nUser: nobody\r\nContent-length: ${message.length}\r\n\r\n`,
    message,
    true,
    "SPAMD/1.1 0 EX_OK",
  );
const frontRspamc = (port: number) => (message: Uint8Array) =>
  exchange(port, rspamcHead(message.length), message, false, "RSPAMD/1.3 0 EX_OK");
const rawSpamd = (port: number) => (message: Uint8Array) =>
  exchange(port, spamdRequestHead("report", message.length), message, true, "SPAMD/1.1 0 EX_OK");
const spamc = (port: number) => (message: Uint8Array) => {
  const result = spawnSync("spamc", ["-R", "-d", "127.0.0.1", "-p", String(port)], { input: message });
  if (result.status !== 0 && result.status !== 1 || result.stdout.length === 0) {
    throw new Error(`spamc: ${result.stdout}${result.stderr}`);
  }
};

/** The compiled daemon with [spamd] on a free port and the given sections; resolves once it answers PING. */
async function startFront(dir: TempDir, sections: string) {
  const port = await freePort();
  const config = dir.file("mailpolicyd.conf");
  writeFileSync(
    config,
    `[daemon]\npolicy_socket = ${dir.file("policy.sock")}\ncontrol_socket = ${dir.file("control.sock")}\n` +
      `pidfile = ${dir.file("pid")}\nstate_file = ${dir.file("state.json")}\npolicy_listen = none\n` +
      `log_level = warn\n[spamd]\nlisten = 127.0.0.1:${port}\nmax_message_size = 2M\n${sections}`,
  );
  const child = spawn(BINARY, ["run", "--config", config], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr!.on("data", (chunk) => log += chunk);
  const deadline = Date.now() + 30_000;
  while (!(await answersPing({ host: "127.0.0.1", port }))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${BINARY} did not answer PING on port ${port}:\n${log}`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  const stop = () =>
    new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
  return { port, pid: child.pid!, stop };
}

/** The process's user + system CPU in ms, and its RSS in bytes, from /proc. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10; // 1/100 s ticks
}
const rssBytes = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;

const round = (ms: number) => Math.round(ms * 1000) / 1000;
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]);
};

async function timed(step: () => unknown): Promise<number> {
  const started = performance.now();
  await step();
  return performance.now() - started;
}

type Client = (message: Uint8Array) => unknown;

/**
 * Scan by scan, each client in turn (the order turning each scan), the messages taking turns. Also the
 * daemon's (pid's) CPU ms during each client's turns, for frontCpuPerScan.
 */
async function interleaved(
  clients: Record<string, Client>,
  messages: Uint8Array[],
  scans: number,
  pid: number,
) {
  const names = Object.keys(clients);
  const times: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  const cpu: Record<string, number> = Object.fromEntries(names.map((name) => [name, 0]));
  for (const message of messages) for (const name of names) await clients[name](message); // warm-up
  for (let i = 0; i < scans; i++) {
    const message = messages[i % messages.length];
    const order = i % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const cpuStart = cpuMs(pid);
      times[name].push(await timed(() => clients[name](message)));
      cpu[name] += cpuMs(pid) - cpuStart;
    }
  }
  return { times, cpu };
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

/**
 * The daemon's CPU per scan of the front's clients, less what it spends idle (timers, the state save,
 * the collector): its CPU per ms during the other clients' turns, when it has nothing to do.
 */
function frontCpuPerScan({ times, cpu }: Awaited<ReturnType<typeof interleaved>>, front: string[]) {
  const others = Object.keys(times).filter((name) => !front.includes(name));
  const idlePerMs = sum(others.map((name) => cpu[name])) / sum(others.map((name) => sum(times[name])));
  const busy = sum(front.map((name) => cpu[name]));
  const busyMs = sum(front.map((name) => sum(times[name])));
  const scans = sum(front.map((name) => times[name].length));
  return {
    cpu_ms_per_scan: round((busy - idlePerMs * busyMs) / scans),
    idle_cpu_ms_per_s: round(idlePerMs * 1000),
  };
}

/** What the front's two forms add over the raw exchange: the p50s' difference, the paired median. */
function added(times: Record<string, number[]>, bare: string) {
  const of = (name: string) => {
    const paired = times[name].map((ms, i) => ms - times[bare][i]);
    return {
      p50_difference_ms: round(percentile(times[name], 0.5) - percentile(times[bare], 0.5)),
      median_paired_ms: percentile(paired, 0.5),
      // The spread of the paired differences: how far the median itself can be trusted.
      paired_quartiles_ms: [percentile(paired, 0.25), percentile(paired, 0.75)],
    };
  };
  return { added_spamc: of("front_spamc"), added_rspamc: of("front_rspamc") };
}

const summary = (values: number[]) => ({ p50_ms: percentile(values, 0.5), p99_ms: percentile(values, 0.99) });

/**
 * The front with [spamassassin] asking `port` against a raw exchange with `port` (and spamc), interleaved.
 * Against the replay server the differences are the front's own; against spamd they carry spamd's spread.
 */
async function frontVersus(port: number, scans: number, withSpamc: boolean) {
  const dir = makeTempDir("mailpolicyd-bench-front-");
  const front = await startFront(dir, `[spamassassin]\naddress = 127.0.0.1:${port}\n`);
  try {
    const messages = [mboxCopy(spamdFixture("clean.eml")), mboxCopy(spamdFixture("gtube.eml"))];
    const measured = await interleaved(
      {
        front_spamc: frontSpamc(front.port),
        front_rspamc: frontRspamc(front.port),
        spamd_raw: rawSpamd(port),
        ...(withSpamc ? { spamd_spamc: spamc(port) } : {}),
      },
      messages,
      scans,
      front.pid,
    );
    return {
      scans,
      ...Object.fromEntries(Object.entries(measured.times).map(([name, values]) => [name, summary(values)])),
      ...added(measured.times, "spamd_raw"),
      front: frontCpuPerScan(measured, ["front_spamc", "front_rspamc"]),
      front_rss_mb: Math.round(rssBytes(front.pid) / 1e5) / 10,
    };
  } finally {
    await front.stop();
    dir.remove();
  }
}

async function frontVersusSpamd() {
  const replay = await startReplay();
  const onReplay = await frontVersus(replay.port, SCANS * 5, false);
  replay.server.close();
  const slowReplay = await startReplay(SPAMD_LIKE_MS);
  const onSlowReplay = await frontVersus(slowReplay.port, SCANS, false);
  slowReplay.server.close();
  const spamd = await startSpamd({ maxChildren: 2 });
  try {
    return {
      message_bytes: [mboxCopy(spamdFixture("clean.eml")).length, mboxCopy(spamdFixture("gtube.eml")).length],
      spamd: await frontVersus(spamd.tcp.port, SCANS, true),
      replay: onReplay,
      replay_delayed: { delay_ms: SPAMD_LIKE_MS, ...onSlowReplay },
    };
  } finally {
    await spamd.stop();
  }
}

async function frontContentOnly() {
  const dir = makeTempDir("mailpolicyd-bench-front-");
  const front = await startFront(dir, RULES);
  try {
    const message = mboxCopy(benchMessage());
    const scan = frontSpamc(front.port);
    for (let i = 0; i < 20; i++) await scan(message); // warm-up
    const times: number[] = [];
    const cpuStart = cpuMs(front.pid);
    const started = performance.now();
    for (let i = 0; i < SCANS; i++) times.push(await timed(() => scan(message)));
    const wall = performance.now() - started;
    const cpu = cpuMs(front.pid) - cpuStart;
    return {
      scans: SCANS,
      message_bytes: message.length,
      ...summary(times),
      cpu_ms_per_scan: round(cpu / SCANS),
      scans_per_s: Math.round(SCANS / (wall / 1000)),
      rss_mb: Math.round(rssBytes(front.pid) / 1e5) / 10,
    };
  } finally {
    await front.stop();
    dir.remove();
  }
}

const result = mode === "content" ? await frontContentOnly() : await frontVersusSpamd();
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
