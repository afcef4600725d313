// The SPF concern's figures for docs/spf.md and `npm run bench`: warm checks per second in-process for a
// record with two includes (checkHost through the warm DNS cache, and the concern's path with the result
// cache), and cold checks (a new DNS cache each) of a three-include record against a local nsd, p50/p99.
// Then the CPU the SPF concern adds to a request inside the daemon, without sockets: the engine's decision
// and the reply's text for the attribute form, uniform over 1e5 senders of one domain from 250 clients, in a
// daemon with and without [spf] (interleaved rounds, CPU time of this process). The socket scenario of
// run.mjs adds the runtime's socket work on a machine whose other load moves it by tens of µs.
// Prints one JSON line. Run: `bun test/bench/spf-check.ts [SECONDS]`.
// With --serve it only starts nsd with the bench zone, prints {"port":N} and runs until stdin closes (run.mjs
// uses it for the policy-socket scenario with [spf] on).
import { CachingResolver } from "../../src/dns/resolver.ts";
import { checkHost } from "../../src/spf/check-host.ts";
import { checkRequest, type SpfChecker } from "../../src/spf/request-check.ts";
import { SpfResultCache } from "../../src/spf/result-cache.ts";
import { parseConfig } from "../../src/config/load.ts";
import { startNsd } from "../helpers/nsd.ts";
import { startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { formatDecision } from "../../src/engine/reply.ts";
import { parseReadsocketRequest } from "../../src/protocols/readsocket.ts";
import type { PolicyRequest } from "../../src/policy/request.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ZONE = `$ORIGIN example.org.
$TTL 3600
@ IN SOA ns.example.org. hostmaster.example.org. 1 3600 600 86400 300
@ NS ns
ns A 127.0.0.1
@ TXT "v=spf1 include:_spf1.example.org include:_spf2.example.org -all"
_spf1 TXT "v=spf1 ip4:198.51.100.0/24 ip6:2001:db8::/32 -all"
_spf2 TXT "v=spf1 ip4:192.0.2.0/24 -all"
three TXT "v=spf1 include:_spf1.example.org include:_spf3.example.org include:_spf2.example.org -all"
_spf3 TXT "v=spf1 ip4:203.0.113.0/24 -all"
`;

const nsd = await startNsd({ "example.org": ZONE }, async (port) => {
  try {
    await new CachingResolver({ servers: [`127.0.0.1:${port}`], timeoutMs: 200, tries: 1 }).resolve4(
      "ns.example.org",
    );
    return true;
  } catch {
    return false;
  }
});

if (process.argv.includes("--serve")) {
  process.stdout.write(`${JSON.stringify({ port: nsd.port })}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => nsd.stop().then(() => process.exit(0)));
  process.stdin.on("close", () => nsd.stop().then(() => process.exit(0)));
} else {
  try {
    process.stdout.write(`${JSON.stringify(await measure(`127.0.0.1:${nsd.port}`))}\n`);
  } finally {
    await nsd.stop();
  }
}

/** Runs `step` in batches of 1000 for `ms` after a warm-up of half a second (the JIT); checks per second. */
async function rate(ms: number, step: (i: number) => Promise<unknown>): Promise<number> {
  const warm = performance.now();
  while (performance.now() - warm < 500) for (let i = 0; i < 1000; i++) await step(i);
  let done = 0;
  const started = performance.now();
  while (performance.now() - started < ms) {
    for (let i = 0; i < 1000; i++) await step(done + i);
    done += 1000;
  }
  return Math.round(done / ((performance.now() - started) / 1000));
}

async function measure(server: string) {
  const seconds = Number(process.argv[2] ?? 3);
  const dns = new CachingResolver({ servers: [server] });
  const ips = Array.from({ length: 250 }, (_, i) => `192.0.2.${i}`);
  await checkHost("192.0.2.1", "a@example.org", "h", { resolver: dns }); // fills the DNS cache
  const warmCheckHost = await rate(
    seconds * 1000,
    (i) => checkHost(ips[i % 250], "alice@example.org", "mx.example.net", { resolver: dns }),
  );
  const parsed = parseConfig("[spf]\nhelo_check = off\n", "bench", "/tmp");
  if (!parsed.ok) throw new Error(parsed.errors.join("\n"));
  const policy = parsed.config.spf!;
  const checker: SpfChecker = {
    dns,
    cache: new SpfResultCache({ maxEntries: 10_000, maxTtl: 86_400 }),
    inFlight: new Map(),
    budgetMs: 1350,
    receiver: "mx.bench",
  };
  const concernPath = await rate(
    seconds * 1000,
    async (i) =>
      await checkRequest(checker, policy, { ip: ips[i % 250], sender: `s${i % 1000}@example.org`, helo: "" }),
  );
  const cold: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const fresh = new CachingResolver({ servers: [server] });
    const started = performance.now();
    const check = await checkHost("203.0.113.5", "a@three.example.org", "h", { resolver: fresh });
    cold.push(performance.now() - started);
    if (check.result !== "pass") throw new Error(`cold check: ${check.result}`);
  }
  cold.sort((a, b) => a - b);
  const at = (p: number) => Math.round(cold[Math.floor(p * cold.length)] * 1000) / 1000;
  return {
    warm_checkhost_per_s: warmCheckHost,
    warm_concern_per_s: concernPath,
    cold_three_includes_ms: { p50: at(0.5), p99: at(0.99), queries: 4 },
    engine_cpu_us: await engineCpu(server, seconds),
    result_cache_bytes_per_entry: resultCacheBytes(),
  };
}

function gc(): void {
  const g = globalThis as { Bun?: { gc(full: boolean): void }; gc?: () => void };
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.();
}

/**
 * Heap bytes per entry of a full result cache (its default 10 000 entries): the result of one check per
 * (client, domain) as checkHost gives it, keyed as the concern keys it.
 */
function resultCacheBytes(): number {
  const entries = 10_000;
  gc();
  const before = process.memoryUsage().heapUsed;
  const cache = new SpfResultCache({ maxEntries: entries, maxTtl: 86_400 });
  for (let i = 0; i < entries; i++) {
    const domain = `sender-domain-${i}.example.org`;
    cache.set(`198.51.${i >> 8}.${i & 255}`, `user@${domain}`, "", {
      result: "pass",
      domain,
      identity: "mailfrom",
      mechanism: "include:_spf.example.org",
      lookups: 2,
      voidLookups: 0,
    }, 3600);
  }
  gc();
  const bytes = Math.round((process.memoryUsage().heapUsed - before) / entries);
  if (cache.size !== entries) throw new Error("result cache did not fill");
  return bytes;
}

/** The RCPT line test/bench/loadgen.c sends in the attribute form for key `k`, parsed. */
function loadgenRequest(k: number): PolicyRequest {
  const line = `rcpt sender=user${k}@example.org client_address=192.0.2.${
    k % 250
  } recipient=rcpt@example.net\n`;
  const parsed = parseReadsocketRequest(new TextEncoder().encode(line));
  if (parsed.kind !== "attributes") throw new Error(`bench request: ${parsed.kind}`);
  return { form: "attributes", stage: parsed.stage, attributes: parsed.attributes };
}

/** µs of CPU per decided and formatted request, in daemons with and without [spf], and the difference. */
async function engineCpu(server: string, seconds: number) {
  const dir = mkdtempSync(join(tmpdir(), "mailpolicyd-spf-bench-"));
  const daemonConfig = (name: string, spf: string) =>
    `[daemon]\npolicy_socket = ${dir}/${name}.sock\ncontrol_socket = ${dir}/${name}-control.sock\n` +
    `pidfile = ${dir}/${name}.pid\nstate_file = ${dir}/${name}.json\npolicy_listen = none\nlog_level = warn\n` +
    `[thresholds]\ntime = 3600\ncount = 20\n[limit outbound]\nkey = sender\ncount = 100\ntime = 1h\n` +
    `[limit network]\nkey = client_address/24\ncount = 1000000\ntime = 1h\nalgorithm = sliding\n` + spf;
  const start = (name: string, spf: string) => {
    const parsed = parseConfig(daemonConfig(name, spf), "bench", dir);
    if (!parsed.ok) throw new Error(parsed.errors.join("\n"));
    return startDaemon({ config: parsed.config, log: createLogger("warn", () => {}) });
  };
  const daemons = {
    plain: start("plain", ""),
    spf: start("spf", `[spf]\ndns_servers = ${server}\nexempt = authenticated\n`),
  };
  const requests = Array.from({ length: 100_000 }, (_, k) => loadgenRequest(k));
  const decideAll = (daemon: ReturnType<typeof start>, from: number, count: number) =>
    new Promise<void>((resolve) => {
      let left = count;
      for (let i = 0; i < count; i++) {
        daemon.engine.decide(requests[(from + i) % requests.length], (decision) => {
          formatDecision(decision);
          if (--left === 0) resolve();
        });
      }
    });
  try {
    // Warm: one request per client first (the SPF checks themselves, one at a time, as DNS answers
    // them), then every request once (the counters' keys, the JIT).
    for (const daemon of Object.values(daemons)) {
      for (let k = 0; k < 250; k++) await decideAll(daemon, k, 1);
      await decideAll(daemon, 0, 100_000);
    }
    const cpu = { plain: 0, spf: 0 };
    const done = { plain: 0, spf: 0 };
    const batch = 20_000;
    const until = performance.now() + seconds * 1000;
    for (let round = 0; performance.now() < until; round++) {
      for (const name of (round % 2 === 0 ? ["plain", "spf"] : ["spf", "plain"]) as ("plain" | "spf")[]) {
        const before = process.cpuUsage();
        await decideAll(daemons[name], round * batch, batch);
        const used = process.cpuUsage(before);
        cpu[name] += used.user + used.system;
        done[name] += batch;
      }
    }
    const perRequest = (name: "plain" | "spf") => Math.round((cpu[name] / done[name]) * 100) / 100;
    return {
      plain: perRequest("plain"),
      spf: perRequest("spf"),
      added: Math.round((perRequest("spf") - perRequest("plain")) * 100) / 100,
    };
  } finally {
    for (const daemon of Object.values(daemons)) daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
