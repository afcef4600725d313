// Run by test/unit/spf/result-cache-heap.test.ts in a process of its own (a forced collection, a heap that
// holds nothing else): the live heap a cached SPF result costs when each domain's record is a long TXT
// (a record over TCP may be 64 KiB) and the deciding term is one of its last. Prints one JSON line.
//
//   bun test/helpers/spf-cache-heap.ts MODE
//   deno run -A --v8-flags=--expose-gc test/helpers/spf-cache-heap.ts MODE
// MODE: cache (what SpfResultCache keeps) | slices (each result's `mechanism` kept as checkHost gave it:
//       the control, which shows what a kept slice of a record can cost on this runtime)
import { checkHost } from "../../src/spf/check-host.ts";
import { parsedSpfRecord } from "../../src/spf/record.ts";
import { SpfResultCache } from "../../src/spf/result-cache.ts";
import type { SpfResolver } from "../../src/spf/types.ts";
import { liveBytes } from "./live-bytes.ts";

const mode = process.argv[2];
const DOMAINS = 200;
const TERMS = 3000; // ~60 KB of record text a domain

const noData = (name: string) =>
  Promise.reject(Object.assign(new Error(`ENODATA ${name}`), { code: "ENODATA" }));
const resolver: SpfResolver = {
  // Each domain's record made anew, as each DNS answer is: no two share characters.
  resolveTxt: (name) => {
    const k = Number(/^d(\d+)\./.exec(name)?.[1]);
    const terms = Array.from({ length: TERMS }, (_, i) => `ip4:10.${k % 250}.${i % 250}.${i >> 8}`);
    return Promise.resolve([[`v=spf1 ${terms.join(" ")} ip4:192.0.2.0/24 -all`]]);
  },
  resolve4: noData,
  resolve6: noData,
  resolveMx: noData,
  resolvePtr: noData,
};

const cache = new SpfResultCache({ maxEntries: 10_000, maxTtl: 3600 });
const slices: string[] = [];
for (let i = 0; i <= 2048; i++) parsedSpfRecord(`v=spf1 ip4:10.0.${i >> 8}.${i % 256} -all`);
const before = await liveBytes();
for (let k = 0; k < DOMAINS; k++) {
  const sender = `a@d${k}.example`;
  const check = await checkHost("192.0.2.1", sender, "mx.example", { resolver });
  if (check.mechanism !== "ip4:192.0.2.0/24") throw new Error(`d${k}: ${JSON.stringify(check)}`);
  if (mode === "slices") slices.push(check.mechanism);
  else cache.set("192.0.2.1", sender, "mx.example", check, 3600);
}
// The parsed-record memo (spf/record.ts) holds the last records itself: small ones push them out.
for (let i = 0; i <= 2048; i++) parsedSpfRecord(`v=spf1 ip4:10.0.${i >> 8}.${i % 256} -all`);
const after = await liveBytes();
console.log(
  JSON.stringify({
    kept: mode === "slices" ? slices.length : cache.size,
    bytesPerEntry: (after - before) / DOMAINS,
  }),
);
