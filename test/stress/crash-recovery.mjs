// Crash recovery at scale (issue 16): fill KEYS keys through the policy socket, keep traffic on them for
// a while, kill -9 the daemon while the traffic still runs, start it again and report
//   - how much counting was lost (requests answered before the kill minus counts restored), as a number
//     and as seconds of the traffic's rate, and the age of the last snapshot at the kill;
//   - the time from the restart to its first answer, to "state restored", and the slowest answer to a probe
//     every 20 ms while the restore ran.
// Usage: node test/stress/crash-recovery.mjs [--keys 1000000] [--seconds 20] [--interval 5s]
//        [--threads 8] [--binary dist/mailpolicyd]   (npm run stress -- crash-recovery …)
// Drives the compiled executable with test/bench/loadgen.c (needs gcc); builds dist/mailpolicyd if missing.
import { execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = fileURLToPath(new URL("../..", import.meta.url));
const { values } = parseArgs({
  options: {
    keys: { type: "string", default: "1000000" },
    seconds: { type: "string", default: "20" },
    interval: { type: "string", default: "5s" },
    threads: { type: "string", default: "8" },
    binary: { type: "string", default: join(root, "dist/mailpolicyd") },
  },
});
const keys = Number(values.keys);
const threads = values.threads;
const binary = values.binary;
const work = mkdtempSync(join(tmpdir(), "mailpolicyd-crash-"));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const say = (text) => process.stdout.write(`${text}\n`);

if (!existsSync(binary)) execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" });
const loadgen = join(work, "loadgen");
execFileSync("gcc", ["-O2", "-pthread", "-o", loadgen, join(root, "test/bench/loadgen.c"), "-lm"]);
const loadgenArgs = (mode, seconds) => [socket, threads, String(seconds), mode, String(keys), "legacy", "0"];
const drive = (mode, seconds) =>
  JSON.parse(execFileSync(loadgen, loadgenArgs(mode, seconds), { encoding: "utf8", maxBuffer: 16 << 20 }));
// The same, in the background: the daemon is killed under it. Requests after the kill fail (errors), so
// `requests` counts exactly those answered before it.
// SIGPIPE ignored (an ignored signal stays so across exec): a request cut by the kill must count as an
// error, not end the load generator.
const driveInBackground = (mode, seconds) =>
  new Promise((resolve, reject) =>
    execFile(
      "/bin/sh",
      ["-c", 'trap "" PIPE; exec "$0" "$@"', loadgen, ...loadgenArgs(mode, seconds)],
      { encoding: "utf8", maxBuffer: 16 << 20 },
      (error, stdout) => error ? reject(error) : resolve(JSON.parse(stdout)),
    )
  );

const socket = join(work, "policy.sock");
const stateFile = join(work, "state.json");
const config = join(work, "mailpolicyd.conf");
// A limit that is never reached, a window longer than the run and room for every key (max_keys): every
// request adds one to a count that stays, so the counts restored can be compared with the requests answered.
writeFileSync(
  config,
  `[daemon]\npolicy_socket = ${socket}\ncontrol_socket = ${work}/control.sock\npidfile = ${work}/pid\n` +
    `policy_listen = none\nstate_file = ${stateFile}\nstate_interval = ${values.interval}\nlog_level = info\n` +
    `max_keys = ${Math.max(1_000_000, 2 * keys)}\n` +
    `[thresholds]\ntime = 2h\ncount = 1000000000\n`,
);

function ask(request) {
  return new Promise((resolve) => {
    const client = net.createConnection({ path: socket, allowHalfOpen: true });
    let reply = "";
    client.on("connect", () => client.end(request));
    client.on("data", (chunk) => reply += chunk);
    client.on("end", () => resolve(reply));
    client.on("error", () => resolve(undefined));
  });
}

function start() {
  const began = performance.now();
  const child = spawn(binary, ["run", "--config", config], { stdio: ["ignore", "ignore", "pipe"] });
  const daemon = { child, began, log: "", restoredMs: undefined, exited: false };
  child.stderr.on("data", (chunk) => {
    daemon.log += chunk;
    if (daemon.restoredMs === undefined && /state restored|restore (done|finished)/.test(daemon.log)) {
      daemon.restoredMs = performance.now() - began;
    }
  });
  child.on("exit", () => daemon.exited = true);
  return daemon;
}

/** Time from spawn to the first answer to a probe key outside the measured ones. */
async function firstAnswer(daemon) {
  for (;;) {
    if (daemon.exited) throw new Error(`daemon exited:\n${daemon.log}`);
    if (await ask("probe@stress.invalid\n") !== undefined) return performance.now() - daemon.began;
    await sleep(5);
  }
}

const stopped = (daemon, signal) =>
  new Promise((resolve) => {
    if (daemon.exited) return resolve();
    daemon.child.on("exit", resolve);
    daemon.child.kill(signal);
  });

/** Sum of the counts in the state file, the probe key left out. */
function countsIn(file) {
  const state = JSON.parse(readFileSync(file, "utf8"));
  let sum = 0;
  let rows = 0;
  for (const row of state.limits.thresholds ?? []) {
    if (row[0] === "probe@stress.invalid") continue;
    sum += row[2];
    rows++;
  }
  return { sum, rows, savedAt: state.savedAt };
}

try {
  let daemon = start();
  await firstAnswer(daemon);
  say(`fill: ${keys} keys, ${threads} clients…`);
  const fill = drive("seq", 3600);
  say(`  ${fill.requests} answered in ${fill.elapsed_s} s (${fill.rps}/s), ${fill.errors} errors`);
  say(`traffic: uniform over the ${keys} keys, kill -9 after ${values.seconds} s of it…`);
  const seconds = Number(values.seconds);
  const running = driveInBackground("uniform", seconds + 3);
  await sleep(seconds * 1000);
  await stopped(daemon, "SIGKILL");
  const killedAt = Date.now();
  const traffic = await running;
  const rate = traffic.requests / seconds;
  say(`  ${traffic.requests} answered (${Math.round(rate)}/s) before the kill`);
  const snapshot = existsSync(stateFile) ? countsIn(stateFile) : { sum: 0, rows: 0, savedAt: 0 };

  daemon = start();
  const firstMs = await firstAnswer(daemon);
  let slowestMs = 0;
  while (daemon.restoredMs === undefined && !daemon.exited) {
    const asked = performance.now();
    await ask("probe@stress.invalid\n");
    slowestMs = Math.max(slowestMs, performance.now() - asked);
    await sleep(20);
  }
  await stopped(daemon, "SIGTERM"); // the clean stop writes every count it holds
  const restored = countsIn(stateFile);

  const answered = fill.requests + traffic.requests;
  const lost = answered - restored.sum;
  const result = {
    keys,
    interval: values.interval,
    answered,
    restored_counts: restored.sum,
    restored_keys: restored.rows,
    lost_counts: lost,
    lost_seconds_of_traffic: Math.round(lost / rate * 100) / 100,
    snapshot_age_at_kill_s: snapshot.savedAt ? Math.round((killedAt - snapshot.savedAt) / 100) / 10 : null,
    snapshot_counts: snapshot.sum,
    first_answer_ms: Math.round(firstMs),
    restored_ms: daemon.restoredMs === undefined ? null : Math.round(daemon.restoredMs),
    slowest_answer_during_restore_ms: Math.round(slowestMs),
  };
  say(`crash-recovery: ${JSON.stringify(result)}`);
  const restoreLines = daemon.log.split("\n").filter((line) => /counters:/.test(line)).slice(0, 6);
  say(restoreLines.join("\n"));
} finally {
  rmSync(work, { recursive: true, force: true });
}
