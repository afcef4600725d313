// The Redis counter store against the memory store at the counting engine, without sockets: 8 clients
// in this process, each sending its next request when the last is answered, with the limits of
// `npm run bench` (per sender, per client /24); a uniform sender over 1e5 keys and one hot sender (over its
// limit: answered by the local cache). Prints req/s, p50/p99 of the engine's answer, this process's CPU per
// request, Redis round trips and batches per request, and redis-server's CPU per request (INFO cpu), then
// Redis's memory per counter. A real redis-server on a loopback port (test/helpers/redis-server.ts).
// Run: `bun test/bench/redis-engine.ts` (issue 21; the daemon-level figures are `npm run bench`'s).
import { limitsOf, memoryHost, redisClient, redisHost, request } from "../helpers/redis-engines.ts";
import { startRedisServer } from "../helpers/redis-server.ts";
import type { LimitEngine } from "../../src/limits/limit-engine.ts";
const limits = limitsOf(
  `[limit outbound]\nkey = sender\ncount = 100\ntime = 1h\n[limit network]\nkey = client_address/24\ncount = 1000000\ntime = 1h\nalgorithm = sliding\n`,
);
async function drive(engine: LimitEngine, clients: number, perClient: number, hot: boolean) {
  const lat: number[] = [];
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    for (let i = 0; i < perClient; i++) {
      const s = performance.now();
      const sender = hot ? "hot@x.org" : `u${Math.floor(Math.random() * 100000)}@x.org`;
      await new Promise((r) => engine.hit(request(sender, { client_address: `10.${c}.${i % 250}.1` }), r));
      lat.push(performance.now() - s);
    }
  }));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  return `${Math.round(clients * perClient / (ms / 1000))} req/s, p50 ${
    (lat[Math.floor(lat.length * 0.5)] * 1000).toFixed(0)
  } µs, p99 ${(lat[Math.floor(lat.length * 0.99)] * 1000).toFixed(0)} µs, JS CPU ${
    ((cpu.user + cpu.system) / (clients * perClient)).toFixed(0)
  } µs/req`;
}
const server = await startRedisServer();
const N = 4000;
for (const hot of [false, true]) {
  const mem = memoryHost(limits, Date.now);
  await drive(mem.engine, 8, 1000, hot);
  console.log(
    hot ? "memory, one hot sender   " : "memory, uniform 1e5      ",
    await drive(mem.engine, 8, N, hot),
  );
  const rh = redisHost(server, limits, Date.now, { overCacheMs: 1000 });
  await drive(rh.engine, 8, 1000, hot);
  const before = rh.store.stats();
  const info0 = await rh.client.info("cpu");
  const r = await drive(rh.engine, 8, N, hot);
  const info1 = await rh.client.info("cpu");
  const redisCpu = (i: string) =>
    Number(i.match(/used_cpu_user:([\d.]+)/)![1]) + Number(i.match(/used_cpu_sys:([\d.]+)/)![1]);
  const after = rh.store.stats();
  console.log(
    hot ? "redis, one hot sender    " : "redis, uniform 1e5       ",
    r,
    `| round trips/req ${((after.roundTrips - before.roundTrips) / (8 * N)).toFixed(3)}, batches/req ${
      ((after.batches - before.batches) / (8 * N)).toFixed(2)
    }, redis-server CPU ${((redisCpu(info1) - redisCpu(info0)) * 1e6 / (8 * N)).toFixed(0)} µs/req`,
  );
  await rh.close();
}
const c = redisClient(server);
const keys = await c.dbsize();
const used = Number((await c.info("memory")).match(/used_memory:(\d+)/)![1]);
const k = (await c.keys("mpd:{*}:outbound"))[0];
console.log(`keys ${keys}, used_memory ${used}, MEMORY USAGE of ${k}: ${await c.memory("USAGE", k)}`);
c.disconnect();
await server.stop();
process.exit(0);
