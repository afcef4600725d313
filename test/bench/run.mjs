// `npm run bench`: drives dist/mailpolicyd with the C load generator the way Exim connects (a new
// connection per request, write, half-close, read to EOF), on its Unix socket and on its loopback TCP
// listener, next to reference servers that only answer "no" (Bun, the same runtime, and C), in the same
// run; then what a lookup costs Exim per SMTP transaction (exim-bh.ts, as root). Writes
// results/latest.{json,md}.
//   --seconds N   per server and throughput scenario (default 10)   --threads N   concurrent clients (default 8)
//   --rounds N    interleaved rounds those seconds are split into (default 5)
//   --soak N      also hold 10k req/s for N seconds and sample RSS (the flat-memory check)
//   --only LIST   some of: unix, tcp (throughput scenarios), memory, startup, exim, spf, postfix, content,
//                 spamd, redis (default: all)
//                 postfix: the [postfix] listener (Postfix's policy delegation, persistent connections, RCPT
//                 blocks as Postfix 3.7 sends them, the same limits as the readsocket scenarios) against the
//                 Bun.listen reference that answers action=DUNNO and the floor (test/bench/floor-server.ts: a
//                 server that only counts), in interleaved rounds; with Debian's postfwd and policyd-rate-limit
//                 in them too when installed (as root)
//                 spf: warm SPF checks/s in-process for a record with two includes, cold checks of a
//                 three-include record against a local nsd (test/bench/spf-check.ts), and the CPU per request
//                 [spf] adds on the policy socket (attribute form, uniform 1e5 senders of one domain from 250
//                 clients, against the same daemon without [spf], in interleaved rounds) and in-process (the
//                 engine and the reply's text only), and the heap bytes per entry of a full result cache
//                 content: the content rules in-process (test/bench/content-scan.ts): a 1 MB message with
//                 20 attachments, CPU ms per scan, scans/s on one core, what a scan allocates and holds in
//                 flight; and the same message through the spamd front of the compiled daemon with only
//                 [content] (test/bench/front-vs-spamd.ts content): p50, p99, the daemon's CPU per scan
//                 spamd: the spamd front with [spamassassin] in front of a real spamd against that spamd asked
//                 directly (raw socket, spamc), interleaved scan by scan (test/bench/front-vs-spamd.ts spamd);
//                 the SpamAssassin client against a replay server and spamd (test/bench/spamd-client.ts); the
//                 front alone with a concern that answers at once (test/bench/spamd-front.ts)
//                 redis: the attribute-form scenarios with counters in a real redis-server against the same
//                 daemon counting in memory, in interleaved rounds: req/s, p99, Redis round trips per
//                 request (/metrics), redis-server's CPU per request, Redis's memory per counter; and the
//                 floor (floor-server.ts) counting in Maps and exactly in the same redis-server, interleaved
//   --spamd-scans N   for spamd: scans per client against the real spamd (default 150)
//   --match TEXT  only the throughput scenarios whose name contains TEXT (A|B: either; references always run)
//   --exim        the same as --only exim
//   --transactions N, --exim-rounds N   for exim: lock-step transactions per session (2000), rounds (8)
//   --baseline PATH   another build of mailpolicyd (say the previous release's dist/mailpolicyd), run with the
//                 same config in the same interleaved rounds: "of baseline" is this build's req/s over its own,
//                 the before/after comparison a change to the request path must show
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { throughputTable } from "./table.mjs";

const root = fileURLToPath(new URL("../..", import.meta.url));
const { values } = parseArgs({
  options: {
    seconds: { type: "string" },
    rounds: { type: "string" },
    threads: { type: "string" },
    soak: { type: "string" },
    only: { type: "string" },
    exim: { type: "boolean" },
    transactions: { type: "string" },
    "exim-rounds": { type: "string" },
    baseline: { type: "string" },
    match: { type: "string" },
    "spamd-scans": { type: "string" },
  },
});
const seconds = Number(values.seconds ?? 10);
const rounds = Math.max(1, Number(values.rounds ?? 5));
const threads = Number(values.threads ?? 8);
const soakSeconds = Number(values.soak ?? 0);
const only = values.exim ? ["exim"] : values.only?.split(",");
const wants = (section) => !only || only.includes(section);
const work = mkdtempSync(join(tmpdir(), "mailpolicyd-bench-"));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" });
const loadgen = join(work, "loadgen");
const referenceC = join(work, "reference-server");
execFileSync("gcc", ["-O2", "-pthread", "-o", loadgen, join(root, "test/bench/loadgen.c"), "-lm"]);
execFileSync("gcc", ["-O2", "-o", referenceC, join(root, "test/bench/reference-server.c")]);
const bun = join(root, "node_modules/.bin/bun");

const rssBytes = (pid) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) * 1024;
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime in 1/100 s ticks
}
// quiet: the readiness probe, whose "no such socket" complaints before the daemon listens are expected.
// histogram: also every latency (bucketed), for merging the rounds of one server into true percentiles.
// address: a Unix socket path or 127.0.0.1:PORT.
const drive = (
  address,
  mode,
  keys,
  form = "legacy",
  secs = seconds,
  rate = 0,
  quiet = false,
  histogram = false,
) =>
  JSON.parse(
    execFileSync(loadgen, [address, String(threads), String(secs), mode, String(keys), form, String(rate)], {
      encoding: "utf8",
      maxBuffer: 16 << 20,
      stdio: ["ignore", "pipe", quiet ? "ignore" : "inherit"],
      env: histogram ? { ...process.env, LOADGEN_HISTOGRAM: "1" } : process.env,
    }),
  );

function controlGet(socketPath, path, json = true) {
  return new Promise((resolve, reject) => {
    http.get({ socketPath, path, agent: false }, (response) => {
      let body = "";
      response.on("data", (chunk) => body += chunk);
      response.on("end", () => resolve(json ? JSON.parse(body) : body));
    }).on("error", reject);
  });
}

// A loopback port for a TCP listener, under the ephemeral range (32768–60999 here): the load generator's
// closed connections hold thousands of ports there in TIME_WAIT, one of which a listener may not bind.
async function freePort() {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const free = await new Promise((resolve) => {
      const probe = net.createServer().once("error", () => resolve(false));
      probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

// transport: "unix", "tcp" (the server listens on 127.0.0.1:PORT and is driven there), or "exim" (for
// exim-bh.ts: Exim, running as Debian-exim, must be able to connect; mailpolicyd listens on both, with a
// limit that never refuses, and `tcp` is its TCP address). Each server gets a new directory in work.
let serversStarted = 0;
async function startServer(kind, transport = "unix") {
  const dir = join(work, `${kind}-${transport}-${serversStarted++}`);
  mkdirSync(dir);
  const socket = join(dir, "policy.sock");
  const tcp = transport === "tcp" || (transport === "exim" && kind === "mailpolicyd")
    ? `127.0.0.1:${await freePort()}`
    : undefined;
  const address = transport === "tcp" ? tcp : socket;
  let command = referenceC;
  let args = [address];
  if (kind.startsWith("floor")) {
    command = bun;
    args = [
      join(root, "test/bench/floor-server.ts"),
      address,
      "attr",
      ...(kind === "floor-redis" ? ["--redis", String(redisPort)] : []),
    ];
  }
  if (kind.startsWith("reference-bun")) {
    // It re-executes itself with the heap settings `mailpolicyd run` gives the daemon (reference-server.ts).
    command = bun;
    args = [
      join(root, "test/bench/reference-server.ts"),
      address,
      ...(kind.endsWith("node-net") ? ["--node-net"] : []),
      ...(kind.endsWith("newline") ? ["--at-newline"] : []),
    ];
  }
  if (
    kind === "mailpolicyd" || kind === "baseline" || kind === "mailpolicyd-spf" ||
    kind.startsWith("mailpolicyd-redis")
  ) {
    const config = join(dir, "mailpolicyd.conf");
    writeFileSync(
      config,
      `[daemon]\npolicy_socket = ${socket}\ncontrol_socket = ${dir}/control.sock\npidfile = ${dir}/pid\n` +
        `state_file = ${dir}/state.json\nstate_interval = 5s\nlog_level = warn\n` +
        `policy_listen = ${tcp ?? "none"}\n` +
        (transport === "exim"
          ? `socket_group = Debian-exim\n[limit outbound]\nkey = sender\ncount = 1000000000\ntime = 1h\n`
          : `[thresholds]\ntime = 3600\ncount = 20\n` +
            // Two limits on every attribute request: per sender (defers the hot key) and per client /24.
            `[limit outbound]\nkey = sender\ncount = 100\ntime = 1h\n` +
            `[limit network]\nkey = client_address/24\ncount = 1000000\ntime = 1h\nalgorithm = sliding\n`) +
        (kind === "mailpolicyd-spf"
          ? `[spf]\ndns_servers = 127.0.0.1:${spfDnsPort}\nexempt = authenticated\n`
          : "") +
        (kind.startsWith("mailpolicyd-redis") ? `[redis]\nurl = redis://127.0.0.1:${redisPort}\n` : "") +
        (kind === "mailpolicyd-redis-ahead" ? "answer_ahead = yes\nprefix = ahead:\n" : ""),
    );
    const binary = kind === "baseline" ? values.baseline : join(root, "dist/mailpolicyd");
    [command, args] = [binary, ["run", "--config", config]];
  }
  if (transport === "exim") chmodSync(dir, 0o755);
  const started = performance.now();
  const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr.on("data", (chunk) => log += chunk);
  // Ready once a probe is answered (probe keys are not among the measured ones).
  for (let i = 0;; i++) {
    const probes = [...new Set([address, tcp ?? address])].map((to) =>
      drive(to, "hot", 1, "legacy", 0.001, 0, true)
    );
    if (probes.every((probe) => probe.requests > 0)) break;
    if (i > 2000) throw new Error(`${kind} did not start:\n${log}`);
    await sleep(2);
  }
  const startupMs = performance.now() - started;
  // The reference servers' sockets are root's with the umask's mode; Exim connects as Debian-exim.
  if (transport === "exim" && kind !== "mailpolicyd") chmodSync(socket, 0o666);
  return {
    child,
    address,
    socket,
    tcp,
    control: join(dir, "control.sock"),
    startupMs,
    log: () => log,
    stop: () =>
      new Promise((resolve) => {
        child.on("exit", resolve);
        child.kill("SIGTERM");
      }),
  };
}

const scenarios = [
  { name: "reference server (C, epoll)", server: "reference-c", mode: "hot", keys: 1 },
  { name: "reference server (Bun.listen)", server: "reference-bun", mode: "hot", keys: 1 },
  {
    name: "reference server (Bun.listen, answers at the newline)",
    server: "reference-bun-newline",
    mode: "hot",
    keys: 1,
  },
  { name: "reference server (Bun, node:net)", server: "reference-bun-node-net", mode: "hot", keys: 1 },
  { name: "one-token, one hot key", server: "mailpolicyd", mode: "hot", keys: 1 },
  { name: "one-token, uniform 1e3 keys", server: "mailpolicyd", mode: "uniform", keys: 1e3 },
  { name: "one-token, uniform 1e5 keys", server: "mailpolicyd", mode: "uniform", keys: 1e5 },
  { name: "one-token, uniform 1e6 keys", server: "mailpolicyd", mode: "uniform", keys: 1e6 },
  { name: "one-token, Zipf over 1e5 keys", server: "mailpolicyd", mode: "zipf", keys: 1e5 },
  { name: "attribute form, one hot sender", server: "mailpolicyd", mode: "hot", keys: 1, form: "attr" },
  { name: "attribute form, uniform 1e5", server: "mailpolicyd", mode: "uniform", keys: 1e5, form: "attr" },
].map((scenario) => ({ ...scenario, transport: "unix" })).concat(
  // The same against the TCP listener (issue 15: the Exim snippets use ${readsocket{inet:127.0.0.1:PORT}…}),
  // compared with the Bun.listen references on TCP.
  [
    { name: "TCP: one-token, one hot key", server: "mailpolicyd", mode: "hot", keys: 1 },
    {
      name: "TCP: attribute form, one hot sender",
      server: "mailpolicyd",
      mode: "hot",
      keys: 1,
      form: "attr",
    },
    {
      name: "TCP: attribute form, uniform 1e5",
      server: "mailpolicyd",
      mode: "uniform",
      keys: 1e5,
      form: "attr",
    },
  ].map((scenario) => ({ ...scenario, transport: "tcp" })),
);

async function measure(scenario) {
  const server = await startServer(scenario.server);
  const cpuStart = cpuSeconds(server.child.pid);
  const load = drive(server.address, scenario.mode, scenario.keys, scenario.form, seconds / rounds);
  const cpu = cpuSeconds(server.child.pid) - cpuStart;
  const rss = rssBytes(server.child.pid);
  await server.stop();
  return {
    ...scenario,
    ...load,
    cpu_us_per_request: Math.round((cpu / load.requests) * 1e7) / 10,
    rss_mb: Math.round(rss / 1e5) / 10,
  };
}

// The runs of one server, as one: requests over time, percentiles of all their latencies together.
function combine(loads) {
  const sum = (field) => loads.reduce((total, load) => total + load[field], 0);
  const counts = new Map();
  for (const { latency_us: pairs } of loads) {
    for (let i = 0; i < pairs.length; i += 2) {
      counts.set(pairs[i], (counts.get(pairs[i]) ?? 0) + pairs[i + 1]);
    }
  }
  const sorted = [...counts].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((all, [, count]) => all + count, 0);
  // The same rank as the load generator's own: the value at floor(p × total).
  const percentile = (p) => {
    const rank = Math.min(total - 1, Math.floor(p * total));
    let seen = 0;
    for (const [value, count] of sorted) {
      seen += count;
      if (seen > rank) return value;
    }
    return 0;
  };
  return {
    requests: sum("requests"),
    errors: sum("errors"),
    yes: sum("yes"),
    over: sum("over"),
    elapsed_s: Math.round(sum("elapsed_s") * 1000) / 1000,
    rps: Math.round(sum("requests") / sum("elapsed_s")),
    p50_us: percentile(0.5),
    p99_us: percentile(0.99),
    p999_us: percentile(0.999),
    max_us: Math.max(...loads.map((load) => load.max_us)),
    rounds: loads.length,
  };
}

// The machine drifts by 10 % or more within a run, and by more between runs. So each mailpolicyd scenario
// runs next to the two Bun.listen references, all three started, in interleaved rounds under the same
// load (newline reference, EOF reference, mailpolicyd, then the other way round): drift falls on all three
// alike. The reference that answers at the newline does what mailpolicyd does; the targets are judged
// against it. With --baseline, the other build takes its turn in the same rounds.
const COMPARED = [
  "reference-bun-newline",
  "reference-bun",
  "mailpolicyd",
  ...(values.baseline ? ["baseline"] : []),
];
async function measureInterleaved(scenario) {
  const servers = new Map();
  for (const kind of COMPARED) {
    servers.set(kind, await startServer(kind, scenario.transport));
  }
  // Warm-up, not counted: a second of one hot key in the scenario's form for each, so that no round pays
  // for the JIT compiling the request path (a daemon runs warm). That key is one of the measured keys.
  for (const server of servers.values()) drive(server.address, "hot", 1, scenario.form, 1);
  const loads = new Map(COMPARED.map((kind) => [kind, []]));
  // CPU per request of this build and of the baseline: steadier than their requests/s, which move with
  // what else the machine runs in that round (a change that costs the request path shows here first).
  const cpu = new Map(COMPARED.map((kind) => [kind, 0]));
  for (let round = 0; round < rounds; round++) {
    for (const kind of round % 2 === 0 ? COMPARED : [...COMPARED].reverse()) {
      const server = servers.get(kind);
      const cpuStart = cpuSeconds(server.child.pid);
      loads.get(kind).push(
        drive(server.address, scenario.mode, scenario.keys, scenario.form, seconds / rounds, 0, false, true),
      );
      cpu.set(kind, cpu.get(kind) + cpuSeconds(server.child.pid) - cpuStart);
    }
  }
  const cpuPerRequest = (kind) => Math.round((cpu.get(kind) / combine(loads.get(kind)).requests) * 1e7) / 10;
  const daemon = servers.get("mailpolicyd");
  const rss = rssBytes(daemon.child.pid);
  for (const server of servers.values()) await server.stop();
  const load = combine(loads.get("mailpolicyd"));
  return {
    ...scenario,
    ...load,
    cpu_us_per_request: cpuPerRequest("mailpolicyd"),
    rss_mb: Math.round(rss / 1e5) / 10,
    reference_bun_rps: combine(loads.get("reference-bun")).rps,
    reference_bun_newline_rps: combine(loads.get("reference-bun-newline")).rps,
    ...(values.baseline
      ? {
        baseline_rps: combine(loads.get("baseline")).rps,
        baseline_cpu_us_per_request: cpuPerRequest("baseline"),
      }
      : {}),
  };
}

// The Postfix listener (--only postfix): the daemon with the readsocket scenarios' limits and a [postfix]
// listener on loopback TCP, and the Bun.listen reference answering action=DUNNO to each block, both driven
// by the load generator's persistent connections (one per client, as an smtpd process keeps one), in
// interleaved rounds, with the floor (floor-server.ts: what counting alone costs, docs/decisions.md "The
// floor"), and Postfix's peers from Debian where they are installed (as root: they switch to nobody).
// Each peer gets the nearest rules it has to the daemon's: postfwd2 a rate() per sender (100/1h) and one
// per client address (its keys are whole items, no /24), policyd-rate-limit its one limit per sender
// (100/1h, in its default SQLite store; it has no second key kind).
const POSTFIX_PEERS = ["postfwd2", "policyd-rate-limit"];
const PEER_BINARIES = { postfwd2: "/usr/sbin/postfwd2", "policyd-rate-limit": "/usr/bin/policyd-rate-limit" };
const peersMissing = () =>
  process.getuid() !== 0
    ? "needs root (they switch to nobody)"
    : Object.values(PEER_BINARIES).every((binary) => existsSync(binary))
    ? undefined
    : "needs apt-get install postfwd policyd-rate-limit";
// Their argv and files: neither can stay in the foreground with its counters (postfwd2's rate() needs its
// cache process, which --nodaemon does not start), so each writes a pidfile that stop() signals.
async function peerCommand(kind, dir, address) {
  const [host, port] = address.split(":");
  const pidfile = join(dir, "pid");
  if (kind === "postfwd2") {
    const rules = join(dir, "postfwd.cf");
    writeFileSync(
      rules,
      "id=SENDER; protocol_state==RCPT; action=rate(sender/100/3600/450 4.7.1 sender over its limit)\n" +
        "id=NETWORK; protocol_state==RCPT; action=rate(client_address/1000000/3600/450 4.7.1 over its limit)\n",
    );
    const cache = `tcp:127.0.0.1:${await freePort()}`;
    const args = ["-f", rules, "--server_socket", `tcp:${address}`, "--cache_socket", cache, "-u", "nobody"];
    return { pidfile, args: [...args, "-g", "nogroup", "--pidfile", pidfile] };
  }
  const config = join(dir, "policyd-rate-limit.yaml");
  writeFileSync(
    config,
    `debug: False\nuser: "nobody"\ngroup: "nogroup"\npidfile: "${pidfile}"\nbackend: 0\n` +
      `sqlite_config:\n    database: "${join(dir, "db.sqlite3")}"\nSOCKET: ["${host}", ${port}]\n` +
      `limits:\n    - [100, 3600]\nlimits_by_id: {}\nlimit_by_sasl: False\nlimit_by_sender: True\n` +
      `limit_by_ip: False\nlimited_networks: []\nsuccess_action: "dunno"\n` +
      `fail_action: "defer_if_permit Rate limit reach, retry later"\ndb_error_action: "dunno"\nreport: False\n` +
      `delay_to_close: 300\n`,
  );
  execFileSync("chown", ["nobody:nogroup", dir]); // its SQLite file and pidfile, written as nobody
  return { pidfile, args: ["-f", config] };
}
async function startPostfixServer(kind) {
  const dir = join(work, `${kind}-${serversStarted++}`);
  mkdirSync(dir);
  const address = `127.0.0.1:${await freePort()}`;
  let command = bun;
  let args = kind === "floor"
    ? [join(root, "test/bench/floor-server.ts"), address, "postfix"]
    : [join(root, "test/bench/reference-server.ts"), address, "--postfix"];
  let pidfile;
  if (kind === "mailpolicyd" || kind === "baseline") {
    const config = join(dir, "mailpolicyd.conf");
    writeFileSync(
      config,
      `[daemon]\npolicy_socket = ${dir}/policy.sock\ncontrol_socket = ${dir}/control.sock\npidfile = ${dir}/pid\n` +
        `state_file = ${dir}/state.json\nlog_level = warn\npolicy_listen = none\n[thresholds]\ntime = 3600\n` +
        `count = 20\n[limit outbound]\nkey = sender\ncount = 100\ntime = 1h\n[limit network]\n` +
        `key = client_address/24\ncount = 1000000\ntime = 1h\nalgorithm = sliding\n[postfix]\nlisten = ${address}\n`,
    );
    const binary = kind === "baseline" ? values.baseline : join(root, "dist/mailpolicyd");
    [command, args] = [binary, ["run", "--config", config]];
  } else if (POSTFIX_PEERS.includes(kind)) {
    chmodSync(work, 0o755); // the peers read their rules as nobody
    ({ pidfile, args } = await peerCommand(kind, dir, address));
    command = PEER_BINARIES[kind];
  }
  const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr.on("data", (chunk) => log += chunk);
  for (let i = 0; drive(address, "hot", 1, "postfix", 0.001, 0, true).requests === 0; i++) {
    if (i > 2000) throw new Error(`${kind} (postfix) did not start:\n${log}`);
    await sleep(2);
  }
  // The process whose CPU is the server's: for postfwd2, its daemon, whose preforked children do the work
  // (cpuSeconds counts them only once they exit, so postfwd2 has no CPU figure).
  const pid = pidfile ? Number(readFileSync(pidfile, "utf8")) : child.pid;
  return {
    child,
    pid,
    address,
    stop: async () => {
      const gone = new Promise((resolve) => child.exitCode !== null ? resolve() : child.on("exit", resolve));
      process.kill(pid, "SIGTERM");
      for (let alive = true; alive; await sleep(10)) {
        try {
          process.kill(pid, 0);
        } catch {
          alive = false;
        }
      }
      await gone;
    },
  };
}

async function measurePostfix() {
  const servers = new Map();
  const missing = peersMissing();
  if (missing) process.stdout.write(`postfix: Postfix's peers not measured (${missing})\n`);
  const peers = missing ? [] : POSTFIX_PEERS;
  for (
    const kind of ["reference", "floor", "mailpolicyd", ...(values.baseline ? ["baseline"] : []), ...peers]
  ) {
    servers.set(kind, await startPostfixServer(kind));
  }
  const rows = [];
  for (const [name, mode, keys] of [["one hot sender", "hot", 1], ["uniform 1e5 senders", "uniform", 1e5]]) {
    // Warm-up, not counted: a second of the row's own load for each, so that no round pays for the JIT
    // compiling the paths that load takes (a new sender's, the store's calls) or for the tables growing
    // from empty: a daemon runs warm. One hot key left the uniform row's first rounds to pay for it.
    for (const server of servers.values()) drive(server.address, mode, keys, "postfix", 1);
    const loads = new Map([...servers.keys()].map((kind) => [kind, []]));
    const cpu = new Map([...servers.keys()].map((kind) => [kind, 0]));
    for (let round = 0; round < rounds; round++) {
      for (const kind of round % 2 === 0 ? [...servers.keys()] : [...servers.keys()].reverse()) {
        const server = servers.get(kind);
        const cpuStart = cpuSeconds(server.pid);
        loads.get(kind).push(drive(server.address, mode, keys, "postfix", seconds / rounds, 0, false, true));
        cpu.set(kind, cpu.get(kind) + cpuSeconds(server.pid) - cpuStart);
      }
    }
    const combined = new Map([...loads].map(([kind, load]) => [kind, combine(load)]));
    const cpuPerRequest = (kind) => Math.round((cpu.get(kind) / combined.get(kind).requests) * 1e7) / 10;
    const daemon = combined.get("mailpolicyd");
    const reference = combined.get("reference");
    const baseline = combined.get("baseline");
    const floor = combined.get("floor");
    rows.push({
      name,
      ...daemon,
      cpu_us_per_request: cpuPerRequest("mailpolicyd"),
      floor_rps: floor.rps,
      floor_cpu_us_per_request: cpuPerRequest("floor"),
      floor_of_reference: Math.round((floor.rps / reference.rps) * 1000) / 10,
      reference_rps: reference.rps,
      reference_p99_us: reference.p99_us,
      reference_errors: reference.errors,
      reference_cpu_us_per_request: cpuPerRequest("reference"),
      of_reference: Math.round((daemon.rps / reference.rps) * 1000) / 10,
      peers: Object.fromEntries(peers.map((kind) => {
        const peer = combined.get(kind);
        const times = Math.round((daemon.rps / peer.rps) * 10) / 10;
        return [kind, { rps: peer.rps, p99_us: peer.p99_us, errors: peer.errors, times }];
      })),
      ...(baseline
        ? {
          baseline_rps: baseline.rps,
          baseline_cpu_us_per_request: cpuPerRequest("baseline"),
          baseline_of_reference: Math.round((baseline.rps / reference.rps) * 1000) / 10,
        }
        : {}),
    });
  }
  const rss = rssBytes(servers.get("mailpolicyd").pid);
  for (const server of servers.values()) await server.stop();
  // The listener's own work without sockets (test/bench/postfix-inprocess.ts): the rest is the runtime's.
  const inProcess = JSON.parse(
    execFileSync(bun, [join(root, "test/bench/postfix-inprocess.ts"), String(Math.max(1, seconds / 4))], {
      encoding: "utf8",
    }),
  );
  return { rows, in_process: inProcess, rss_mb: Math.round(rss / 1e5) / 10, peers_not_measured: missing };
}

// The SPF concern (--only spf): the in-process figures of test/bench/spf-check.ts, then the daemon with and
// without [spf] in interleaved rounds on the same load, its DNS a local nsd serving the senders' domain.
let spfDnsPort = 0;
async function measureSpf() {
  const script = join(root, "test/bench/spf-check.ts");
  const inProcess = JSON.parse(
    execFileSync(bun, [script, String(Math.max(1, seconds / rounds))], { encoding: "utf8" }),
  );
  const serve = spawn(bun, [script, "--serve"], { stdio: ["pipe", "pipe", "inherit"] });
  spfDnsPort = await new Promise((resolve) =>
    serve.stdout.once("data", (line) => resolve(JSON.parse(String(line)).port))
  );
  const servers = new Map([["plain", await startServer("mailpolicyd")], [
    "spf",
    await startServer("mailpolicyd-spf"),
  ]]);
  for (const server of servers.values()) drive(server.address, "uniform", 1e5, "attr", 1);
  const measured = new Map([...servers.keys()].map((kind) => [kind, { cpu: 0, loads: [] }]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? ["plain", "spf"] : ["spf", "plain"];
    for (const kind of order) {
      const server = servers.get(kind);
      const cpuStart = cpuSeconds(server.child.pid);
      measured.get(kind).loads.push(
        drive(server.address, "uniform", 1e5, "attr", seconds / rounds, 0, false, true),
      );
      measured.get(kind).cpu += cpuSeconds(server.child.pid) - cpuStart;
    }
  }
  for (const server of servers.values()) await server.stop();
  serve.stdin.end();
  const figures = (kind) => {
    const { cpu, loads } = measured.get(kind);
    const load = combine(loads);
    return {
      rps: load.rps,
      p99_us: load.p99_us,
      errors: load.errors,
      cpu_us: Math.round((cpu / load.requests) * 1e7) / 10,
    };
  };
  const plain = figures("plain");
  const spf = figures("spf");
  return {
    ...inProcess,
    socket: { plain, spf, added_cpu_us: Math.round((spf.cpu_us - plain.cpu_us) * 10) / 10 },
  };
}

// The Redis store (--only redis): the daemon with the attribute-form scenarios' limits, counters in memory
// and counters in a real redis-server on loopback, in interleaved rounds on the same load; round trips per
// request from the daemon's /metrics, and Redis's memory per counter (INFO used_memory over DBSIZE).
let redisPort = 0;
const REDIS_WARM_UP_SECONDS = 10;
async function measureRedis() {
  const redisDir = join(work, "redis");
  mkdirSync(redisDir);
  redisPort = await freePort();
  const redis = spawn("redis-server", [
    "--port",
    String(redisPort),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    redisDir,
  ], { stdio: "ignore" });
  const cli = (...args) =>
    execFileSync("redis-cli", ["-p", String(redisPort), ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  for (let i = 0;; i++) {
    try {
      if (cli("PING") === "PONG") break;
    } catch { /* not yet */ }
    if (i > 500) throw new Error("redis-server did not start");
    await sleep(10);
  }
  const usedMemory = () => Number(/used_memory:(\d+)/.exec(cli("INFO", "memory"))[1]);
  const emptyMemory = usedMemory();
  const servers = new Map([
    ["memory", await startServer("mailpolicyd")],
    ["redis", await startServer("mailpolicyd-redis")],
    // The same with [redis] answer_ahead = yes: requests far from their limits accepted before Redis answers.
    ["redis-ahead", await startServer("mailpolicyd-redis-ahead")],
    ["floor", await startServer("floor")],
    ["floor-redis", await startServer("floor-redis")],
  ]);
  const roundTrips = async (server) => {
    const metrics = await controlGet(server.control, "/metrics", false).catch((error) => {
      throw new Error(`${error.message}; exit ${server.child.exitCode}; the daemon's log:\n${server.log()}`);
    });
    return Number(/^mailpolicyd_redis_round_trips_total (\d+)/m.exec(metrics)?.[1] ?? 0);
  };
  const rows = [];
  for (
    const [name, mode, keys] of [["attribute form, one hot sender", "hot", 1], [
      "attribute form, uniform 1e5",
      "uniform",
      1e5,
    ]]
  ) {
    // Warm-up, as postfix's, but longer: the Redis path is more code and its row runs at a quarter of the
    // memory store's rate, so the JIT takes ~9 s of it to settle (session 22: the JIT thread at 27–29 % of a
    // core in the first 2 s, 5–14 % up to 8 s, then idle; after 1 s of warm-up the Redis row measured 5 751
    // req/s and 98 µs of the daemon's CPU a request, after 10 s 7 533 and 74). Both servers get the same.
    for (const server of servers.values()) drive(server.address, mode, keys, "attr", REDIS_WARM_UP_SECONDS);
    const measured = new Map([...servers.keys()].map((kind) => [kind, { cpu: 0, loads: [] }]));
    // redis-server's CPU during each server's rounds: what a request costs on the other side
    const redisCpu = new Map([...servers.keys()].map((kind) => [kind, 0]));
    const tripsBefore = await roundTrips(servers.get("redis"));
    for (let round = 0; round < rounds; round++) {
      for (const kind of round % 2 === 0 ? [...servers.keys()] : [...servers.keys()].reverse()) {
        const server = servers.get(kind);
        const cpuStart = cpuSeconds(server.child.pid);
        const redisStart = cpuSeconds(redis.pid);
        measured.get(kind).loads.push(
          drive(server.address, mode, keys, "attr", seconds / rounds, 0, false, true),
        );
        measured.get(kind).cpu += cpuSeconds(server.child.pid) - cpuStart;
        redisCpu.set(kind, redisCpu.get(kind) + cpuSeconds(redis.pid) - redisStart);
      }
    }
    const figures = (kind) => {
      const { cpu, loads } = measured.get(kind);
      const load = combine(loads);
      return {
        ...load,
        cpu_us_per_request: Math.round((cpu / load.requests) * 1e7) / 10,
        redis_server_cpu_us: Math.round((redisCpu.get(kind) / load.requests) * 1e7) / 10,
      };
    };
    const floorMemory = figures("floor");
    const floorRedis = figures("floor-redis");
    const memory = figures("memory");
    const shared = figures("redis");
    const ahead = figures("redis-ahead");
    const trips = (await roundTrips(servers.get("redis"))) - tripsBefore;
    rows.push({
      name,
      memory: {
        rps: memory.rps,
        p50_us: memory.p50_us,
        p99_us: memory.p99_us,
        errors: memory.errors,
        cpu_us: memory.cpu_us_per_request,
      },
      redis: {
        rps: shared.rps,
        p50_us: shared.p50_us,
        p99_us: shared.p99_us,
        errors: shared.errors,
        cpu_us: shared.cpu_us_per_request,
        redis_server_cpu_us: shared.redis_server_cpu_us,
      },
      of_memory: Math.round((shared.rps / memory.rps) * 1000) / 10,
      answer_ahead: {
        rps: ahead.rps,
        p50_us: ahead.p50_us,
        p99_us: ahead.p99_us,
        errors: ahead.errors,
        cpu_us: ahead.cpu_us_per_request,
        redis_server_cpu_us: ahead.redis_server_cpu_us,
        of_memory: Math.round((ahead.rps / memory.rps) * 1000) / 10,
      },
      floor: {
        memory_rps: floorMemory.rps,
        redis_rps: floorRedis.rps,
        redis_p99_us: floorRedis.p99_us,
        redis_cpu_us: floorRedis.cpu_us_per_request,
        redis_server_cpu_us: floorRedis.redis_server_cpu_us,
        of_memory: Math.round((floorRedis.rps / floorMemory.rps) * 1000) / 10,
      },
      round_trips_per_request: Math.round((trips / shared.requests) * 1000) / 1000,
    });
  }
  cli("-n", "1", "FLUSHDB"); // the floor's counters (its database), so that only the daemon's are measured
  const counters = Number(cli("DBSIZE"));
  const bytesPerCounter = Math.round((usedMemory() - emptyMemory) / Math.max(1, counters));
  for (const server of servers.values()) await server.stop();
  redis.kill("SIGTERM");
  return { rows, redis_counters: counters, redis_bytes_per_counter: bytesPerCounter };
}

const results = [];
const matches = (scenario) =>
  !values.match || scenario.server !== "mailpolicyd" ||
  values.match.split("|").some((text) => scenario.name.includes(text));
for (const scenario of scenarios.filter((scenario) => wants(scenario.transport) && matches(scenario))) {
  const result = scenario.server === "mailpolicyd"
    ? await measureInterleaved(scenario)
    : await measure(scenario);
  results.push(result);
  const adjacent = result.reference_bun_rps
    ? ` (Bun.listen references in the same rounds: ${result.reference_bun_rps} at EOF, ` +
      `${result.reference_bun_newline_rps} at the newline${
        result.baseline_rps ? `; baseline ${result.baseline_rps}` : ""
      })`
    : "";
  process.stdout.write(`${scenario.name}: ${JSON.stringify(result)}${adjacent}\n`);
}

// Memory: every one of 1e6 keys once (one-token form), RSS before and after, tracked keys from /status.
// Memory per key (--only memory): 1e6 keys after one request each, in the one-token form (one key a
// request), then in the attribute form (4e5 senders: a key in each of the two per-sender limits, and their
// client /24s), whose counters also keep a client address and a message's instance. Each fill is a daemon
// of its own.
async function measureMemory() {
  const oneToken = await fillMemory("legacy", 1e6);
  return { ...oneToken, attribute_form: await fillMemory("attr", 4e5) };
}

async function fillMemory(form, senders) {
  const memoryServer = await startServer("mailpolicyd");
  drive(memoryServer.address, "uniform", 1000, form, 1); // warm up the JIT and the heap first
  await sleep(500);
  const rssBefore = rssBytes(memoryServer.child.pid);
  const fill = drive(memoryServer.address, "seq", senders, form, 600);
  // RSS moves with the garbage collector and the background state save (at 1e6 keys one every ~15 s):
  // sample it for 20 s and report the highest and the lowest, judging the target by the highest.
  const rssSamples = [];
  for (let i = 0; i < 20; i++) {
    await sleep(1000);
    rssSamples.push(rssBytes(memoryServer.child.pid));
  }
  const rssPeak = Math.max(...rssSamples);
  const rssTrough = Math.min(...rssSamples);
  const status = await controlGet(memoryServer.control, "/status");
  await memoryServer.stop();
  return {
    keys: status.trackedKeys,
    fill_rps: fill.rps,
    rss_before_mb: Math.round(rssBefore / 1e5) / 10,
    rss_peak_mb: Math.round(rssPeak / 1e5) / 10,
    rss_trough_mb: Math.round(rssTrough / 1e5) / 10,
    rss_samples_mb: rssSamples.map((bytes) => Math.round(bytes / 1e5) / 10),
    bytes_per_key: Math.round((rssPeak - rssBefore) / status.trackedKeys),
    bytes_per_key_trough: Math.round((rssTrough - rssBefore) / status.trackedKeys),
  };
}

// Startup of the compiled executable to its first answer, best and median of 5; with --baseline, that
// build's in the same rounds, alternating.
async function measureStartup() {
  const kinds = values.baseline ? ["mailpolicyd", "baseline"] : ["mailpolicyd"];
  const startups = Object.fromEntries(kinds.map((kind) => [kind, []]));
  for (let i = 0; i < 5; i++) {
    for (const kind of kinds) {
      const server = await startServer(kind);
      startups[kind].push(server.startupMs);
      await server.stop();
    }
  }
  const summary = (times) => ({
    best_ms: Math.round(Math.min(...times)),
    median_ms: Math.round(times.sort((a, b) => a - b)[2]),
  });
  return {
    ...summary(startups.mailpolicyd),
    ...(values.baseline && { baseline: summary(startups.baseline) }),
  };
}

async function soakRss() {
  const server = await startServer("mailpolicyd");
  const samples = [];
  const sampler = setInterval(() => samples.push(Math.round(rssBytes(server.child.pid) / 1e5) / 10), 10_000);
  const load = await new Promise((resolve) => {
    const child = spawn(loadgen, [
      server.address,
      String(threads),
      String(soakSeconds),
      "uniform",
      "100000",
      "attr",
      "10000",
    ]);
    let out = "";
    child.stdout.on("data", (chunk) => out += chunk);
    child.on("exit", () => resolve(JSON.parse(out)));
  });
  clearInterval(sampler);
  await server.stop();
  return { seconds: soakSeconds, ...load, rss_samples_mb: samples };
}

// What a lookup costs Exim per SMTP transaction (exim-bh.ts): mailpolicyd on its Unix socket and its TCP
// listener, and the newline Bun.listen reference on each, for Exim's ${readsocket}.
async function measureExim() {
  const missing = process.getuid() !== 0
    ? "needs root (it runs `exim -C`)"
    : existsSync("/usr/sbin/exim")
    ? undefined
    : "needs Exim (apt-get install exim4-daemon-heavy)";
  if (missing) {
    if (only?.includes("exim")) throw new Error(`the exim measurement ${missing}`);
    process.stdout.write(`exim: skipped (${missing})\n`);
    return undefined;
  }
  chmodSync(work, 0o755); // Exim reaches the sockets as Debian-exim
  const driver = join(work, "smtp-lockstep");
  execFileSync("gcc", ["-O2", "-o", driver, join(root, "test/bench/smtp-lockstep.c"), "-lm"]);
  const servers = [];
  const start = async (kind, transport) => {
    const server = await startServer(kind, transport);
    servers.push(server);
    return server;
  };
  try {
    const daemon = await start("mailpolicyd", "exim");
    const bunUnix = await start("reference-bun-newline", "exim");
    const bunTcp = await start("reference-bun-newline", "tcp");
    const args = [
      ...["--driver", driver, "--transactions", values.transactions ?? "2000"],
      ...["--rounds", values["exim-rounds"] ?? "8", "--unix", daemon.socket, "--tcp", daemon.tcp],
      ...["--ref-unix", bunUnix.socket, "--ref-tcp", bunTcp.tcp],
    ];
    const exim = JSON.parse(
      execFileSync(bun, [join(root, "test/bench/exim-bh.ts"), ...args], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      }),
    );
    // Where a lookup's time goes: the same lookups without Exim, from the load generator making one
    // connection at a time on Exim's CPU, to mailpolicyd and to the two references, Unix and TCP.
    const cUnix = await start("reference-c", "exim");
    const cTcp = await start("reference-c", "tcp");
    const targets = [
      ["mailpolicyd", daemon.socket, daemon.tcp],
      ["reference (Bun.listen)", bunUnix.socket, bunTcp.tcp],
      ["reference (C, epoll)", cUnix.socket, cTcp.tcp],
    ].flatMap(([name, unix, tcp]) => [[`${name}, Unix`, unix], [`${name}, TCP`, tcp]]).filter(([, to]) => to);
    const lookups = new Map(targets.map(([name]) => [name, []]));
    for (let round = 0; round < 5; round++) {
      for (const [name, to] of round % 2 === 0 ? targets : [...targets].reverse()) {
        lookups.get(name).push(
          JSON.parse(execFileSync("taskset", ["-c", "0", loadgen, to, "1", "1", "hot", "1", "exim", "0"], {
            encoding: "utf8",
          })),
        );
      }
    }
    const median = (numbers) => numbers.sort((a, b) => a - b)[Math.floor(numbers.length / 2)];
    exim.lookups = [...lookups].map(([name, loads]) => ({
      name,
      mean_us: Math.round(1e6 / median(loads.map((load) => load.rps))),
      p50_us: median(loads.map((load) => load.p50_us)),
      errors: loads.reduce((sum, load) => sum + load.errors, 0),
    }));
    return exim;
  } finally {
    for (const server of servers) await server.stop();
  }
}

const postfix = wants("postfix") ? await measurePostfix() : undefined;
if (postfix) process.stdout.write(`postfix: ${JSON.stringify(postfix)}\n`);
const spf = wants("spf") ? await measureSpf() : undefined;
const redisStore = wants("redis") ? await measureRedis() : undefined;
if (redisStore) process.stdout.write(`redis: ${JSON.stringify(redisStore)}\n`);
if (spf) process.stdout.write(`spf: ${JSON.stringify(spf)}\n`);
// A bun script under test/bench that prints one JSON line.
const benchScript = (script, ...args) =>
  JSON.parse(
    execFileSync(bun, [join(root, "test/bench", script), ...args.map(String)], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }),
  );
const dist = join(root, "dist/mailpolicyd");
const content = wants("content")
  ? {
    ...benchScript("content-scan.ts", Math.max(1, seconds / rounds)),
    front: benchScript("front-vs-spamd.ts", "content", 200, dist),
  }
  : undefined;
if (content) process.stdout.write(`content: ${JSON.stringify(content)}\n`);
// Issue 19: the spamd front and the SpamAssassin client, against a real spamd (Debian's package spamd).
function measureSpamd() {
  if (!existsSync("/usr/sbin/spamd") || !existsSync("/usr/bin/spamc")) {
    const missing = "needs spamd and spamc (apt-get install spamd spamc)";
    if (only?.includes("spamd")) throw new Error(`the spamd measurement ${missing}`);
    process.stdout.write(`spamd: skipped (${missing})\n`);
    return undefined;
  }
  const scans = Number(values["spamd-scans"] ?? 150);
  return {
    versus_spamd: benchScript("front-vs-spamd.ts", "spamd", scans, dist),
    client: benchScript("spamd-client.ts", scans),
    front_alone: benchScript("spamd-front.ts"),
  };
}
const spamd = wants("spamd") ? measureSpamd() : undefined;
if (spamd) process.stdout.write(`spamd: ${JSON.stringify(spamd)}\n`);
const memory = wants("memory") ? await measureMemory() : undefined;
if (memory) process.stdout.write(`memory: ${JSON.stringify(memory)}\n`);
const startup = wants("startup") ? await measureStartup() : undefined;
if (startup) process.stdout.write(`startup: ${JSON.stringify(startup)}\n`);
const soak = soakSeconds > 0 ? await soakRss() : undefined;
if (soak) process.stdout.write(`soak: ${JSON.stringify(soak)}\n`);
const exim = wants("exim") ? await measureExim() : undefined;
if (exim) process.stdout.write(`exim: ${JSON.stringify(exim)}\n`);

const machine = `${cpus().length} × ${cpus()[0].model.trim()}`;
const date = new Date().toISOString().slice(0, 10);
const throughputMarkdown = results.length === 0
  ? ""
  : `Benchmark ${date}, ${machine}, ${threads} concurrent clients, a new connection per request (as Exim's ` +
    `\${readsocket}); "attribute form" is an RCPT line with sender, recipient and client address evaluated against ` +
    `[thresholds] and two limits. Each mailpolicyd scenario runs ${seconds} s in ${rounds} rounds interleaved with ` +
    `two Bun.listen references under the same load (the machine drifts within a run), after a 1 s warm-up of each on one hot key; its percentiles are over ` +
    `all its rounds' requests together. "of newline ref." answers at the request's newline as ` +
    `mailpolicyd does (the targets are judged against it), "of EOF ref." waits for the client's half-close; ` +
    `"of C ref." is the C reference (EOF, ${
      seconds / rounds
    } s) at the start, as are the other reference rows. "TCP:" rows drive mailpolicyd's loopback TCP listener ` +
    `and compare it with the same references listening on TCP. "over limit" is the per cent of answers that ` +
    `said the key is over its limit ("yes" in the one-token form, defer in the attribute form): a row near ` +
    `100 % is answered mostly from the cached over-limit verdict, the cheap path, not by counting a key ` +
    `still under its limit.` +
    (values.baseline
      ? ` "of baseline" compares with ${values.baseline} in the same rounds (in brackets: the baseline's own ` +
        `per cent of the newline reference); "baseline CPU µs/req" is its CPU per request in those rounds, ` +
        `steadier than requests/s on a busy machine.`
      : "") +
    `\n\n${throughputTable(results, Boolean(values.baseline))}\n\n`;
const otherMarkdown = [
  memory &&
  `Memory: ${memory.keys} keys tracked after one request each: RSS ${memory.rss_before_mb} MB before, over the ` +
    `next 20 s at most ${memory.rss_peak_mb} MB (${memory.bytes_per_key} bytes per key) and at least ` +
    `${memory.rss_trough_mb} MB (${memory.bytes_per_key_trough} bytes per key). Attribute form, ` +
    `${memory.attribute_form.keys} keys (one request each of 4e5 senders): RSS ${memory.attribute_form.rss_before_mb} ` +
    `MB before, at most ${memory.attribute_form.rss_peak_mb} MB (${memory.attribute_form.bytes_per_key} bytes per ` +
    `key) and at least ${memory.attribute_form.rss_trough_mb} MB (${memory.attribute_form.bytes_per_key_trough} ` +
    `bytes per key).`,
  startup &&
  `Startup of the compiled executable to its first answer: best ${startup.best_ms} ms, median ${startup.median_ms} ms` +
    (startup.baseline
      ? ` (the baseline in the same rounds: best ${startup.baseline.best_ms} ms, median ${startup.baseline.median_ms} ms).`
      : "."),
  spf &&
  `SPF (a record with two includes, warm): ${spf.warm_checkhost_per_s} checkHost/s through the warm DNS cache, ` +
    `${spf.warm_concern_per_s} concern answers/s with the result cache; cold (new DNS cache, three includes, ` +
    `local nsd): p50 ${spf.cold_three_includes_ms.p50} ms, p99 ${spf.cold_three_includes_ms.p99} ms. On the ` +
    `policy socket (attribute form): ${spf.socket.spf.rps} req/s and ${spf.socket.spf.cpu_us} µs CPU per ` +
    `request with [spf], ${spf.socket.plain.rps} and ${spf.socket.plain.cpu_us} µs without: SPF adds ` +
    `${spf.socket.added_cpu_us} µs. In-process (the engine's decision and the reply's text, no sockets): ` +
    `${spf.engine_cpu_us.spf} µs CPU per request with [spf], ${spf.engine_cpu_us.plain} without. A full ` +
    `result cache: ${spf.result_cache_bytes_per_entry} bytes per entry.`,
  redisStore &&
  `Counters in Redis (a real redis-server on loopback, [redis] with its defaults, the limits above, ` +
    `${threads} clients, interleaved with the same daemon counting in memory, each warmed up for ` +
    `${REDIS_WARM_UP_SECONDS} s on the row's load): ` +
    redisStore.rows.map((row) =>
      `${row.name}: ${row.redis.rps} req/s, p99 ${row.redis.p99_us} µs, ${row.redis.cpu_us} µs of the daemon's ` +
      `CPU and ${row.redis.redis_server_cpu_us} µs of redis-server's a request, ${row.round_trips_per_request} round trips a request (memory: ${row.memory.rps} req/s, ` +
      `p99 ${row.memory.p99_us} µs, ${row.memory.cpu_us} µs: ${row.of_memory} %; the floor that only counts: ` +
      `${row.floor.redis_rps} req/s in Redis, p99 ${row.floor.redis_p99_us} µs, ${row.floor.redis_cpu_us} + ` +
      `${row.floor.redis_server_cpu_us} µs, against ${row.floor.memory_rps} in Maps: ${row.floor.of_memory} %; ` +
      `with answer_ahead = yes: ${row.answer_ahead.rps} req/s, p99 ${row.answer_ahead.p99_us} µs, ` +
      `${row.answer_ahead.cpu_us} + ${row.answer_ahead.redis_server_cpu_us} µs: ${row.answer_ahead.of_memory} %)`
    ).join("; ") +
    `. Redis holds ${redisStore.redis_counters} counters at ${redisStore.redis_bytes_per_counter} bytes each.`,
  postfix &&
  `Postfix policy delegation (${threads} persistent connections, RCPT blocks as Postfix 3.7 sends them, the ` +
    `limits above; ${seconds} s in ${rounds} rounds interleaved with the Bun.listen reference answering ` +
    `action=DUNNO): ` +
    postfix.rows.map((row) =>
      `${row.name}: ${row.rps} req/s, p99 ${row.p99_us} µs, ${row.errors} errors, ${row.cpu_us_per_request} µs ` +
      `CPU a request (reference ${row.reference_rps} req/s, p99 ${row.reference_p99_us} µs, ` +
      `${row.reference_cpu_us_per_request} µs CPU: ${row.of_reference} %; the floor that only counts ` +
      `${row.floor_rps} req/s, ${row.floor_cpu_us_per_request} µs CPU, ${row.floor_of_reference} %; ` +
      (postfix.peers_not_measured
        ? `the peers not measured: ${postfix.peers_not_measured}`
        : Object.entries(row.peers).map(([kind, peer]) =>
          `${peer.times}× ${kind} (${peer.rps} req/s, p99 ${peer.p99_us} µs, ${peer.errors} errors)`
        ).join(", ")) +
      (row.baseline_rps
        ? `; baseline ${row.baseline_rps} req/s, ${row.baseline_cpu_us_per_request} µs CPU, ` +
          `${row.baseline_of_reference} %)`
        : ")")
    ).join("; ") + `; RSS ${postfix.rss_mb} MB. In-process, no sockets (µs CPU a request): parse ` +
    `${postfix.in_process.parse_us}; decide and reply ${postfix.in_process.hot.decide_us} (hot sender), ` +
    `${postfix.in_process.uniform.decide_us} (uniform).`,
  content &&
  `Content rules (in-process, every kind of rule, none matching): a ${content.message_bytes}-byte message with ` +
    `${content.attachments} attachments takes ${content.big.cpu_ms_per_scan} ms CPU per scan ` +
    `(${content.big.scans_per_cpu_s} scans/s on one core), allocating ${content.allocated.kb_per_scan} KB; ` +
    `a small message with subject and spamtrap rules only ${content.small_header_rules.cpu_ms_per_scan} ms ` +
    `(${content.small_header_rules.scans_per_cpu_s} scans/s). One scan in flight holds ` +
    `${content.allocated.in_flight_bytes_per_scan} bytes (the message and what the scan allocates); RSS ` +
    `${content.allocated.rss_mb} MB. Through the spamd front (the compiled daemon with only [content], Exim's ` +
    `REPORT SPAMC/1.2 with the ${content.front.message_bytes}-byte mbox copy, one at a time, ` +
    `${content.front.scans} scans): p50 ${content.front.p50_ms} ms, p99 ${content.front.p99_ms} ms, ` +
    `${content.front.cpu_ms_per_scan} ms of the daemon's CPU per scan, ${content.front.scans_per_s} scans/s, ` +
    `RSS ${content.front.rss_mb} MB.`,
  spamd && spamdSentence(spamd),
  soak &&
  `Soak: ${soak.seconds} s at ${soak.rps} req/s (attribute form, 1e5 keys), ${soak.errors} errors, RSS every 10 s: ` +
    `${soak.rss_samples_mb.join(", ")} MB.`,
].filter(Boolean).join(" ");

function spamdSentence({ versus_spamd: versus, client, front_alone: alone }) {
  const figures = (row) => `p50 ${row.p50_ms} ms, p99 ${row.p99_ms} ms`;
  const adds = (run) =>
    `the front adds ${run.added_spamc.p50_difference_ms} ms p50 in Exim's SpamAssassin form and ` +
    `${run.added_rspamc.p50_difference_ms} ms in its rspamd form (median of the scan-by-scan differences ` +
    `${run.added_spamc.median_paired_ms} and ${run.added_rspamc.median_paired_ms} ms, their quartiles ` +
    `${run.added_spamc.paired_quartiles_ms.join(" to ")} and ${
      run.added_rspamc.paired_quartiles_ms.join(" to ")
    } ` +
    `ms); the daemon's CPU ` +
    `${run.front.cpu_ms_per_scan} ms per scan beyond its idle ${run.front.idle_cpu_ms_per_s} ms/s`;
  const { spamd: real, replay, replay_delayed: delayed } = versus;
  return `spamd front against bare spamd (Debian's spamd, 2 children, local tests only; clean.eml and GTUBE ` +
    `as Exim's mbox copies, ${versus.message_bytes.join(" and ")} bytes, taking turns; ${real.scans} scans ` +
    `per client, the clients taking turns scan by scan): the front (the compiled daemon, [spamassassin] ` +
    `asking that spamd) in Exim's REPORT SPAMC/1.2 ${figures(real.front_spamc)}, in its CHECK RSPAMC/1.3 ` +
    `${figures(real.front_rspamc)}; spamd over a raw socket (the client's REPORT) ${
      figures(real.spamd_raw)
    }, ` +
    `spamc -R ${figures(real.spamd_spamc)}: ${adds(real)}. The same against a replay server answering at ` +
    `once with spamd's recorded reply (${replay.scans} scans): front ${figures(replay.front_spamc)} ` +
    `(SPAMC), ${figures(replay.front_rspamc)} (RSPAMC), raw ${figures(replay.spamd_raw)}: ${adds(replay)}; ` +
    `answering after ${delayed.delay_ms} ms (${delayed.scans} scans): front ${
      figures(delayed.front_spamc)
    }, ` +
    `${figures(delayed.front_rspamc)}, raw ${figures(delayed.spamd_raw)}: ${adds(delayed)}. ` +
    `The SpamAssassin client in-process (${client.scans} scans): against the replay server p50 ` +
    `${client.replayP50Ms.actor} ms against a raw socket's ${client.replayP50Ms.raw} ms ` +
    `(+${client.replayOverheadP50Ms} ms), against spamd ${client.spamdP50Ms.actor} against ` +
    `${client.spamdP50Ms.raw} ms (spamc ${client.spamdP50Ms.spamc} ms). The front alone (in-process, a ` +
    `concern that answers at once): 10 KB ${figures(alone["10kb"])}, ${alone["10kb"].scans_per_s} scans/s; ` +
    `1 MB ${figures(alone["1mb"])}, ${alone["1mb"].scans_per_s} scans/s.`;
}

function eximMarkdown() {
  const row = (id) => exim.rows.find((r) => r.id === id);
  const ratio = (a, b) =>
    row(a) && row(b) ? (row(a).median_added_us / row(b).median_added_us).toFixed(2) : "–";
  const perRound = (a, b) =>
    row(a) && row(b)
      ? row(a).added_us.map((added, round) => (added / row(b).added_us[round]).toFixed(2)).join(", ")
      : "–";
  const spread = (values) => `${Math.min(...values)}–${Math.max(...values)}`;
  return `Exim's cost per transaction ${date}, ${machine}: \`exim -bh\` driven through lock-step MAIL / RCPT / ` +
    `RSET transactions (test/bench/smtp-lockstep.c; it and Exim on CPU 0, the servers free), ` +
    `${exim.transactions} per row in one session, the rows taking turns transaction by transaction; ` +
    `${exim.rounds} sessions (rounds). The lookups send the shipped RCPT snippet's request; mailpolicyd's ` +
    `limit never refuses. "added" is a row's mean time per transaction minus the baseline's in the same ` +
    `session: median of the rounds (lowest–highest); "added at p50" the same with each row's median ` +
    `transaction.\n\n` +
    `| RCPT ACL | µs per transaction | added µs | added at p50 µs | p50 µs | p99 µs |\n` +
    `|---|---|---|---|---|---|\n` +
    exim.rows.map((r) =>
      `| ${r.name} | ${r.median_us} | ` +
      (r.id === "none"
        ? "– | – |"
        : `${r.median_added_us} (${spread(r.added_us)}) | ${r.median_added_p50_us} |`) +
      ` ${r.median_p50_us} | ${r.median_p99_us} |`
    ).join("\n") +
    `\n\nTCP adds ${ratio("tcp", "unix")}× what the Unix socket adds (per round: ${
      perRound("tcp", "unix")
    }); ` +
    `the TCP lookup adds ${ratio("tcp", "ratelimit")}× what native ratelimit adds with one sender, ` +
    `${ratio("tcp", "ratelimit-new")}× with a new sender each transaction; the Bun.listen reference: TCP ` +
    `${ratio("ref-tcp", "ref-unix")}× Unix.\n\n` +
    `The same lookups without Exim (the load generator on CPU 0, one connection at a time, the request ` +
    `without a newline as Exim sends it; median of 5 rounds of 1 s):\n\n` +
    `| server | µs per lookup | p50 µs | errors |\n|---|---|---|---|\n` +
    exim.lookups.map((l) => `| ${l.name} | ${l.mean_us} | ${l.p50_us} | ${l.errors} |`).join("\n") + "\n";
}

const markdown = [throughputMarkdown + otherMarkdown, exim && eximMarkdown()].filter(Boolean).join("\n\n")
  .replace(/\n*$/, "\n");
const out = join(root, "test/bench/results");
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, "latest.json"),
  JSON.stringify(
    {
      date,
      machine,
      threads,
      seconds,
      results,
      memory,
      startup,
      soak,
      exim,
      spf,
      postfix,
      content,
      spamd,
      redis: redisStore,
    },
    null,
    2,
  ) +
    "\n",
);
writeFileSync(join(out, "latest.md"), markdown);
process.stdout.write(`\n${markdown}`);
rmSync(work, { recursive: true, force: true });
