// The SPF concern's figures for docs/spf.md and `npm run bench`: warm checks per second in-process for a
// record with two includes (checkHost through the warm DNS cache, and the concern's path with the result
// cache), and cold checks (a new DNS cache each) of a three-include record against a local nsd, p50/p99.
// Prints one JSON line. Run: `bun test/bench/spf-check.ts [SECONDS]`.
// With --serve it only starts nsd with the bench zone, prints {"port":N} and runs until stdin closes (run.mjs
// uses it for the policy-socket scenario with [spf] on).
import { CachingResolver } from "../../src/dns/resolver.ts";
import { checkHost } from "../../src/spf/check-host.ts";
import { checkRequest, type SpfChecker } from "../../src/spf/request-check.ts";
import { SpfResultCache } from "../../src/spf/result-cache.ts";
import { parseConfig } from "../../src/config/load.ts";
import { startNsd } from "../helpers/nsd.ts";

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
    (i) => checkRequest(checker, policy, { ip: ips[i % 250], sender: `s${i % 1000}@example.org`, helo: "" }),
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
  };
}
