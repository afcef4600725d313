// The DNS client's figures for docs/dns.md: warm cached lookups per second in-process, cold query latency
// (p50/p99) against a local nsd, and heap bytes per cached entry. Run: `bun test/bench/dns-client.ts` or
// `deno run -A --v8-flags=--expose-gc test/bench/dns-client.ts` (as root or with nsd installed).
import { CachingResolver } from "../../src/dns/resolver.ts";
import { startNsd } from "../helpers/nsd.ts";

const COLD = 10_000;
const ZONE = `$ORIGIN example.test.
$TTL 3600
@ IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 30
@ NS ns
ns A 127.0.0.1
spf TXT "v=spf1 include:_spf.example.net include:_spf.example.org ip4:192.0.2.0/24 -all"
*.cold TXT "v=spf1 ip4:198.51.100.0/24 ip6:2001:db8::/32 -all"
`;

function gc(): void {
  const g = globalThis as { Bun?: { gc(full: boolean): void }; gc?: () => void };
  if (g.Bun) g.Bun.gc(true);
  else g.gc?.();
}

const nsd = await startNsd({ "example.test": ZONE }, async (port) => {
  try {
    await new CachingResolver({ servers: [`127.0.0.1:${port}`], timeoutMs: 200, tries: 1 }).resolve4(
      "ns.example.test",
    );
    return true;
  } catch {
    return false;
  }
});
try {
  const server = `127.0.0.1:${nsd.port}`;
  const warm = new CachingResolver({ servers: [server] });
  await warm.resolveTxt("spf.example.test");
  let lookups = 0;
  const started = performance.now();
  while (performance.now() - started < 2000) {
    for (let i = 0; i < 1000; i++) await warm.resolveTxt("spf.example.test");
    lookups += 1000;
  }
  const perSecond = lookups / ((performance.now() - started) / 1000);

  const cold = new CachingResolver({ servers: [server], cacheMaxEntries: COLD + 10 });
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const latencies: number[] = [];
  for (let i = 0; i < COLD; i++) {
    const t = performance.now();
    await cold.resolveTxt(`n${i}.cold.example.test`);
    latencies.push(performance.now() - t);
  }
  gc();
  const heapAfter = process.memoryUsage().heapUsed;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.floor(q * (latencies.length - 1))].toFixed(3);
  const stats = cold.stats();
  console.log(JSON.stringify({
    runtime: "Deno" in globalThis ? "deno" : "bun",
    warmLookupsPerSecond: Math.round(perSecond),
    coldMs: { p50: at(0.5), p99: at(0.99), max: at(1) },
    heapBytesPerEntry: Math.round((heapAfter - heapBefore) / stats.entries),
    estimatedBytesPerEntry: Math.round(stats.bytes / stats.entries),
    entries: stats.entries,
    timeouts: stats.timeouts,
    tcp: stats.tcpQueries,
  }));
} finally {
  await nsd.stop();
}
