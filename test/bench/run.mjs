// `npm run bench`: drives dist/mailpolicyd and a reference server with the C load generator, the way Exim
// connects (one connection per request), and writes results/latest.{json,md}.
// Options: --seconds N (per scenario, default 5), --threads N (default 8).
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = fileURLToPath(new URL("../..", import.meta.url));
const { values } = parseArgs({ options: { seconds: { type: "string" }, threads: { type: "string" } } });
const seconds = Number(values.seconds ?? 5);
const threads = Number(values.threads ?? 8);
const work = mkdtempSync(join(tmpdir(), "mailpolicyd-bench-"));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

execFileSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
const loadgen = join(work, "loadgen");
execFileSync("gcc", ["-O2", "-pthread", "-o", loadgen, join(root, "test/bench/loadgen.c"), "-lm"], {
  stdio: "inherit",
});

function rssBytes(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) * 1024 : 0;
}
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
}

async function startServer(kind, dir) {
  const socket = join(dir, "policy.sock");
  let command, args;
  if (kind === "reference") {
    command = join(root, "node_modules/.bin/bun");
    args = [join(root, "test/bench/reference-server.ts"), socket];
  } else {
    const config = join(dir, "mailpolicyd.conf");
    writeFileSync(
      config,
      `[daemon]\npolicy_socket = ${socket}\ncontrol_socket = ${dir}/control.sock\npidfile = ${dir}/pid\n` +
        `state_file = ${dir}/state.json\nstate_interval = 5s\nlog_level = warn\n` +
        `[thresholds]\ntime = 3600\ncount = 20\n` +
        // Two limits on every attribute request: per sender (defers the hot key) and per client /24.
        `[limit outbound]\nkey = sender\ncount = 100\ntime = 1h\n` +
        `[limit network]\nkey = client_address/24\ncount = 1000000\ntime = 1h\nalgorithm = sliding\n`,
    );
    command = join(root, "dist/mailpolicyd");
    args = ["run", "--config", config];
  }
  const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr.on("data", (chunk) => log += chunk);
  // Ready once a probe request is answered (a probe key, so the measured keys start from zero).
  for (let i = 0;; i++) {
    const probe = JSON.parse(
      execFileSync(loadgen, [socket, "1", "0.01", "hot", "1"], { encoding: "utf8", stdio: "pipe" }),
    );
    if (probe.requests > 0) break;
    if (i > 400) throw new Error(`${kind} did not start:\n${log}`);
    await sleep(25);
  }
  return {
    child,
    socket,
    log: () => log,
    stop: () =>
      new Promise((resolve) => {
        child.on("exit", resolve);
        child.kill("SIGTERM");
      }),
  };
}

function drive(socket, mode, keys, form) {
  const out = execFileSync(loadgen, [socket, String(threads), String(seconds), mode, String(keys), form], {
    encoding: "utf8",
  });
  return JSON.parse(out);
}

const scenarios = [
  { name: "reference server (bun), hot key", server: "reference", mode: "hot", keys: 1 },
  { name: "mailpolicyd, one hot key", server: "mailpolicyd", mode: "hot", keys: 1 },
  { name: "mailpolicyd, uniform over 1e3 keys", server: "mailpolicyd", mode: "uniform", keys: 1e3 },
  { name: "mailpolicyd, uniform over 1e5 keys", server: "mailpolicyd", mode: "uniform", keys: 1e5 },
  { name: "mailpolicyd, Zipf over 1e5 keys", server: "mailpolicyd", mode: "zipf", keys: 1e5 },
  {
    name: "mailpolicyd, attribute form, one hot sender",
    server: "mailpolicyd",
    mode: "hot",
    keys: 1,
    form: "attr",
  },
  {
    name: "mailpolicyd, attribute form, uniform 1e5",
    server: "mailpolicyd",
    mode: "uniform",
    keys: 1e5,
    form: "attr",
  },
];

const results = [];
for (const scenario of scenarios) {
  const dir = join(work, String(results.length));
  mkdirSync(dir);
  const server = await startServer(scenario.server, dir);
  const rssStart = rssBytes(server.child.pid);
  const cpuStart = cpuSeconds(server.child.pid);
  const load = drive(server.socket, scenario.mode, scenario.keys, scenario.form ?? "legacy");
  const cpu = cpuSeconds(server.child.pid) - cpuStart;
  const rssEnd = rssBytes(server.child.pid);
  await server.stop();
  let trackedKeys;
  if (scenario.server === "mailpolicyd") {
    const state = JSON.parse(readFileSync(join(dir, "state.json"), "utf8"));
    trackedKeys = Object.values(state.limits).reduce((sum, rows) => sum + rows.length, 0);
  }
  const result = {
    ...scenario,
    ...load,
    cpu_us_per_request: Math.round((cpu / load.requests) * 1e6 * 10) / 10,
    rss_start_mb: Math.round(rssStart / 1e5) / 10,
    rss_end_mb: Math.round(rssEnd / 1e5) / 10,
    tracked_keys: trackedKeys,
    bytes_per_key: trackedKeys > 1000 ? Math.round((rssEnd - rssStart) / trackedKeys) : undefined,
  };
  results.push(result);
  process.stdout.write(`${scenario.name}: ${JSON.stringify(load)}\n`);
}

const reference = results[0].rps;
const machine = `${cpus().length} × ${cpus()[0].model.trim()}`;
const date = new Date().toISOString().slice(0, 10);
const rows = results.map((r) =>
  `| ${r.name} | ${r.rps} | ${
    Math.round((r.rps / reference) * 100)
  } % | ${r.p50_us} | ${r.p99_us} | ${r.p999_us} | ` +
  `${r.errors} | ${r.cpu_us_per_request} | ${r.rss_end_mb} | ${r.tracked_keys ?? "-"} | ${
    r.bytes_per_key ?? "-"
  } |`
);
const markdown = `Benchmark ${date}, ${machine}, ${threads} concurrent clients, ${seconds} s per scenario, ` +
  `a new connection per request (as Exim's \${readsocket}); legacy one-token requests unless marked ` +
  `"attribute form" (an RCPT line with sender, recipient and client address, two limits evaluated).\n\n` +
  `| scenario | req/s | of reference | p50 µs | p99 µs | p99.9 µs | errors | CPU µs/req | RSS MB | keys | B/key |\n` +
  `|---|---|---|---|---|---|---|---|---|---|---|\n${rows.join("\n")}\n`;
const out = join(root, "test/bench/results");
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, "latest.json"),
  JSON.stringify({ date, machine, threads, seconds, results }, null, 2) + "\n",
);
writeFileSync(join(out, "latest.md"), markdown);
process.stdout.write(`\n${markdown}`);
rmSync(work, { recursive: true, force: true });
