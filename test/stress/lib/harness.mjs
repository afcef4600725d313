// What every stress scenario (test/stress/*.mjs) needs: the compiled daemon started on a temp dir with the benchmark's limits,
// the C load generator (test/bench/loadgen.c: Exim's connect, write, half-close, read to EOF) run in the
// background, and the daemon's RSS and open fds read from /proc. Scenarios print their figures; nothing
// here judges them.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

export const root = fileURLToPath(new URL("../../..", import.meta.url));
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const machine = () => `${cpus().length} × ${cpus()[0].model.trim()}`;

/** Builds dist/mailpolicyd (unless another binary is given) and the load generator into a temp dir. */
export function prepare({ binary } = {}) {
  const work = mkdtempSync(join(tmpdir(), "mailpolicyd-stress-"));
  if (!binary) execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" });
  const loadgen = join(work, "loadgen");
  execFileSync("gcc", ["-O2", "-pthread", "-o", loadgen, join(root, "test/bench/loadgen.c"), "-lm"]);
  let daemons = 0;
  return {
    work,
    loadgen,
    binary: binary ?? join(root, "dist/mailpolicyd"),
    nextDir() {
      const dir = join(work, `daemon-${daemons++}`);
      mkdirSync(dir);
      return dir;
    },
    cleanUp: () => rmSync(work, { recursive: true, force: true }),
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * The compiled daemon with the benchmark's limits ([thresholds]; per sender; per client /24, sliding),
 * the policy socket, the TCP policy listener Exim uses and the loopback control listener.
 * `extra` is appended to the config (e.g. a [daemon] setting another scenario needs).
 */
export async function startDaemon(env, { extra = "", logLevel = "warn" } = {}) {
  const dir = env.nextDir();
  const [policyPort, controlPort] = [await freePort(), await freePort()];
  const config = join(dir, "mailpolicyd.conf");
  writeFileSync(
    config,
    `[daemon]\npolicy_socket = ${dir}/policy.sock\npolicy_listen = 127.0.0.1:${policyPort}\n` +
      `control_socket = ${dir}/control.sock\ncontrol_listen = 127.0.0.1:${controlPort}\n` +
      `pidfile = ${dir}/pid\nstate_file = ${dir}/state.json\nstate_interval = 5s\nlog_level = ${logLevel}\n` +
      `[thresholds]\ntime = 3600\ncount = 20\n` +
      `[limit outbound]\nkey = sender\ncount = 100\ntime = 1h\n` +
      `[limit network]\nkey = client_address/24\ncount = 1000000\ntime = 1h\nalgorithm = sliding\n${extra}`,
  );
  const child = spawn(env.binary, ["run", "--config", config], { stdio: ["ignore", "ignore", "pipe"] });
  // The last 64 KB of the log: a soak logs every alert, and only the end is of use after a failure.
  let log = "";
  child.stderr.on("data", (chunk) => log = (log + chunk).slice(-65536));
  let exit;
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve(exit = code ?? signal)));
  const daemon = {
    child,
    pid: child.pid,
    dir,
    socket: join(dir, "policy.sock"),
    tcp: `127.0.0.1:${policyPort}`, // what Exim asks: inet:127.0.0.1:PORT
    control: join(dir, "control.sock"),
    controlPort,
    log: () => log,
    exited,
    get exitCode() {
      return exit;
    },
    /** SIGTERM (or another signal), then the exit and how long it took. */
    async stop(signal = "SIGTERM") {
      const began = performance.now();
      if (exit === undefined) process.kill(child.pid, signal);
      const code = await exited;
      return { code, ms: Math.round(performance.now() - began) };
    },
  };
  for (let i = 0;; i++) {
    const probe = await runLoad(env, daemon.socket, { seconds: 0.001, quiet: true, prefix: "probe" });
    if (probe.requests > 0) break;
    if (i > 2000 || exit !== undefined) throw new Error(`the daemon did not start:\n${log}`);
    await sleep(5);
  }
  return daemon;
}

/**
 * The load generator in the background: `{ done, stop() }`; done resolves with its JSON report.
 * target: a Unix socket path or HOST:PORT. stop() sends SIGTERM: it finishes the requests under way
 * and reports.
 */
export function startLoad(env, target, {
  threads = 4,
  seconds = 3600,
  mode = "hot",
  keys = 1,
  form = "legacy",
  rate = 0,
  prefix,
  keyBytes,
  seed,
  histogram = false,
  quiet = false,
  nice = 0,
} = {}) {
  const args = [target, String(threads), String(seconds), mode, String(keys), form, String(rate)];
  // nice: below the daemon's priority, as a flood from other hosts would be (it costs this host no CPU).
  const child = spawn(
    nice ? "nice" : env.loadgen,
    nice ? ["-n", String(nice), env.loadgen, ...args] : args,
    {
      stdio: ["ignore", "pipe", quiet ? "ignore" : "inherit"],
      env: {
        ...process.env,
        ...(prefix ? { LOADGEN_PREFIX: prefix } : {}),
        ...(keyBytes ? { LOADGEN_KEY_BYTES: String(keyBytes) } : {}),
        ...(seed !== undefined ? { LOADGEN_SEED: String(seed) } : {}),
        ...(histogram ? { LOADGEN_HISTOGRAM: "1" } : {}),
      },
    },
  );
  let out = "";
  child.stdout.on("data", (chunk) => out += chunk);
  const done = new Promise((resolve, reject) =>
    child.on("exit", (code) => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`loadgen exited ${code} without a report: ${out.slice(0, 200)}`));
      }
    })
  );
  return { done, stop: () => child.kill("SIGTERM") };
}

export const runLoad = (env, target, options) => startLoad(env, target, options).done;

/** Answers over `ms` in a load generator's histogram ([value, count, …], latencies in µs). */
export function countOver(report, ms) {
  let over = 0;
  const pairs = report.latency_us ?? [];
  for (let i = 0; i < pairs.length; i += 2) if (pairs[i] > ms * 1000) over += pairs[i + 1];
  return over;
}

export const rssMb = (pid) =>
  Math.round(Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 102.4) / 10;
export const openFds = (pid) => readdirSync(`/proc/${pid}/fd`).length;

/** A GET on the control socket; resolves with {status, ms, body} (body parsed when JSON). */
export function controlGet(socketPath, path, timeoutMs = 30_000) {
  return httpGet({ socketPath, path, timeout: timeoutMs });
}

/** A GET on the loopback TCP control listener, as a browser or curl would send it. */
export function controlGetTcp(port, path, timeoutMs = 30_000) {
  return httpGet({ host: "127.0.0.1", port, path, timeout: timeoutMs, agent: false });
}

function httpGet(options) {
  const began = performance.now();
  return new Promise((resolve) => {
    const request = http.get(options, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => body += chunk);
      response.on("end", () => {
        let parsed = body;
        try {
          parsed = JSON.parse(body);
        } catch { /* Prometheus text */ }
        resolve({ status: response.statusCode, ms: performance.now() - began, body: parsed });
      });
    });
    request.on("timeout", () => request.destroy(new Error("timeout")));
    request.on(
      "error",
      (error) => resolve({ status: 0, ms: performance.now() - began, body: { error: error.message } }),
    );
  });
}

/** Every one of `keys` keys once, as fast as the daemon takes them (one-token form unless told). */
export async function fillKeys(env, daemon, keys, { form = "legacy", threads = 4, prefix, keyBytes } = {}) {
  const began = performance.now();
  const report = await runLoad(env, daemon.socket, {
    threads,
    seconds: 3600,
    mode: "seq",
    keys,
    form,
    prefix,
    keyBytes,
  });
  return { ...report, seconds: Math.round((performance.now() - began) / 100) / 10 };
}

/** Waits until RSS has stopped moving (the collection after a burst of new keys, Bun only). */
export async function settle(daemon, { seconds = 3 } = {}) {
  await sleep(seconds * 1000);
  return rssMb(daemon.pid);
}

export const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0;
};

/** One line of figures: the scenario's name and a JSON object, easy to grep and to read. */
export function report(name, figures) {
  process.stdout.write(`${name}: ${JSON.stringify(figures)}\n`);
  return figures;
}

/**
 * Runs a scenario as a script: parses its options (every one a number but --binary, --transport, --form),
 * builds what it needs, prints the machine, runs it, cleans up. `defaults` names the options it takes.
 */
export async function runScenario(defaults, scenario) {
  const texts = ["binary", "transport", "form"];
  const { values } = parseArgs({
    options: Object.fromEntries(
      ["binary", ...Object.keys(defaults)].map((name) => [name, { type: "string" }]),
    ),
  });
  const options = { ...defaults };
  for (const [name, value] of Object.entries(values)) {
    if (name !== "binary") options[name] = texts.includes(name) ? value : Number(value);
  }
  const env = prepare({ binary: values.binary });
  process.stdout.write(`stress: ${new Date().toISOString()}, ${machine()}, ${env.binary}\n`);
  try {
    await scenario(env, options);
  } finally {
    env.cleanUp();
  }
}
