// The least a COUNTING policy server can do, on mailpolicyd's runtime: the floor under what issues 20 and 21
// ask of the daemon. reference-server.ts answers without looking at the request; this one reads the
// sender and the client address and counts them under the bench's three limits (sender 20 and 100 an
// hour, the client's /24 a million), fixed windows, and refuses over them. It has nothing else a policy
// server needs (no per-message instance, no sightings, no journal, no metrics, no log, no timeout), so a
// daemon's share of it says how much of the gap to the reference is counting at all and how much is the
// rest (docs/performance.md, session 26).
//   postfix: Postfix's policy delegation (persistent connections, blocks ending in an empty line; a block
//            is taken whole from one read, as the load generator sends it).
//   attr:    the readsocket attribute form (one line, answer, close).
//   --redis PORT (attr): counts exactly in a real redis-server (its database 1) instead of Maps: the
//            requests read in one turn go as one EVALSHA doing three INCRs each (HIT_SCRIPT, stripped).
//   --spin N (with --redis): the script also runs an empty Lua loop of N turns a request, to see what
//            redis-server's time a request costs the chain (docs/decisions.md, "What Redis's time costs").
// Usage: bun floor-server.ts ADDRESS postfix|attr [--redis PORT [--spin N]]; ADDRESS: a Unix socket path
// or HOST:PORT.
import { Buffer } from "node:buffer";
import { unlinkSync } from "node:fs";
import { setImmediate } from "node:timers";
import { Redis } from "ioredis";
import { reexecWithHeapTuning } from "../../src/cli/heap-tuning.ts";
import { bunListen, indexOfBytes } from "../../src/runtime.ts";

reexecWithHeapTuning();

const [address, form] = [process.argv[2], process.argv[3]];
const redisAt = process.argv.indexOf("--redis");
const spinAt = process.argv.indexOf("--spin");
const spin = spinAt > 0 ? String(Number(process.argv[spinAt + 1])) : "0";
const tcp = /^([^/]+):(\d+)$/.exec(address);
if (!tcp) {
  try {
    unlinkSync(address);
  } catch { /* not there */ }
}
if (!bunListen) throw new Error("floor-server.ts runs on Bun");

const HOUR_MS = 3_600_000;
interface Counter {
  start: number;
  count: number;
}
const perSenderStrict = new Map<string, Counter>();
const perSender = new Map<string, Counter>();
const perNetwork = new Map<string, Counter>();

/** Counts one request; a strict limit counts it even when over. Returns whether it is over. */
function over(
  table: Map<string, Counter>,
  key: string,
  limit: number,
  now: number,
  strict: boolean,
): boolean {
  let counter = table.get(key);
  if (counter === undefined) table.set(key, counter = { start: now, count: 0 });
  if (now - counter.start >= HOUR_MS) {
    counter.start = now;
    counter.count = 0;
  }
  const isOver = counter.count + 1 > limit;
  if (strict || !isOver) counter.count++;
  return isOver;
}

/** Whether a request from `sender` at `clientAddress` is over any of the three limits (counted in memory). */
function overInMemory(sender: string, clientAddress: string): boolean {
  const now = Date.now();
  const network = clientAddress.slice(0, clientAddress.lastIndexOf("."));
  const strictOver = over(perSenderStrict, sender, 20, now, true);
  const senderOver = over(perSender, sender, 100, now, false);
  return over(perNetwork, network, 1_000_000, now, false) || senderOver || strictOver;
}

const COUNT_SCRIPT = `
local out = {}
local function incr(key)
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('PEXPIRE', key, ${HOUR_MS}) end
  return n
end
local spin = tonumber(ARGV[1])
for i = 1, #KEYS, 3 do
  for _ = 1, spin do end
  local strict = incr(KEYS[i])
  local sender = tonumber(redis.call('GET', KEYS[i + 1]) or '0') + 1
  if sender <= 100 then incr(KEYS[i + 1]) end
  local network = tonumber(redis.call('GET', KEYS[i + 2]) or '0') + 1
  if network <= 1000000 then incr(KEYS[i + 2]) end
  if strict > 20 or sender > 100 or network > 1000000 then out[#out + 1] = 1 else out[#out + 1] = 0 end
end
return out`;

/** The requests read this turn, answered together once Redis has counted them. */
function redisCounting(port: number) {
  // db 1: apart from the daemon's counters. A Redis that cannot be reached answers accept (the bench always
  // starts one; this only keeps the floor from hanging).
  const client = new Redis({ port, host: "127.0.0.1", db: 1, maxRetriesPerRequest: 0 });
  client.on("error", () => {});
  let sha = "";
  // deno-lint-ignore no-explicit-any
  let waiting: { socket: any; keys: string[] }[] = [];
  const flush = async () => {
    const going = waiting;
    waiting = [];
    const keys = going.flatMap((request) => request.keys);
    try {
      if (sha === "") sha = await client.script("LOAD", COUNT_SCRIPT) as string;
      const overs = await client.evalsha(sha, keys.length, ...keys, spin) as number[];
      going.forEach((request, i) => request.socket.end(overs[i] ? DEFER_ATTR : ACCEPT_ATTR));
    } catch {
      for (const request of going) request.socket.end(ACCEPT_ATTR);
    }
  };
  // deno-lint-ignore no-explicit-any
  return (socket: any, sender: string, clientAddress: string) => {
    if (waiting.length === 0) setImmediate(flush);
    const network = clientAddress.slice(0, clientAddress.lastIndexOf("."));
    waiting.push({
      socket,
      keys: [`floor:{${sender}}:strict`, `floor:{${sender}}:sender`, `floor:${network}`],
    });
  };
}

const ACCEPT_ATTR = "action=accept\n";
const DEFER_ATTR = "action=defer rule=floor\n";
const DUNNO = Buffer.from("action=DUNNO\n\n");
const DEFER = Buffer.from("action=DEFER_IF_PERMIT over a limit\n\n");
const EMPTY_LINE = Buffer.from("\n\n");
const SENDER = Buffer.from("\nsender=");
const CLIENT = Buffer.from("\nclient_address=");
const decoder = new TextDecoder();

/** A Postfix attribute's value in block [from, to), "" when absent. */
function postfixValue(chunk: Uint8Array, name: Uint8Array, from: number, to: number): string {
  const at = indexOfBytes(chunk, name, from);
  if (at < 0 || at > to) return "";
  const start = at + name.length;
  return decoder.decode(chunk.subarray(start, chunk.indexOf(0x0a, start)));
}

/** An attribute-form word's value ("name=value" up to a space or the newline), "" when absent. */
function attrValue(line: string, name: string): string {
  const at = line.indexOf(name);
  if (at < 0) return "";
  const start = at + name.length;
  const end = line.indexOf(" ", start);
  return line.slice(start, end < 0 ? line.trimEnd().length : end);
}

const where = tcp ? { hostname: tcp[1], port: Number(tcp[2]) } : { unix: address };
if (form === "postfix") {
  bunListen({
    ...where,
    socket: {
      // deno-lint-ignore no-explicit-any
      data(socket: any, chunk: Uint8Array) {
        let from = 0;
        for (
          let end = indexOfBytes(chunk, EMPTY_LINE, 0);
          end >= 0;
          end = indexOfBytes(chunk, EMPTY_LINE, end + 2)
        ) {
          const start = from === 0 ? 0 : from - 1; // keep the newline before the block's first name
          const isOver = overInMemory(
            postfixValue(chunk, SENDER, start, end),
            postfixValue(chunk, CLIENT, start, end),
          );
          socket.write(isOver ? DEFER : DUNNO);
          from = end + 2;
        }
      },
      error() {},
    },
  });
} else {
  const countInRedis = redisAt > 0 ? redisCounting(Number(process.argv[redisAt + 1])) : undefined;
  bunListen({
    ...where,
    allowHalfOpen: true,
    socket: {
      // deno-lint-ignore no-explicit-any
      data(socket: any, chunk: Uint8Array) {
        const line = decoder.decode(chunk);
        if (!line.endsWith("\n")) return;
        const sender = attrValue(line, "sender=");
        const clientAddress = attrValue(line, "client_address=");
        if (countInRedis) countInRedis(socket, sender, clientAddress);
        else socket.end(overInMemory(sender, clientAddress) ? DEFER_ATTR : ACCEPT_ATTR);
      },
      end() {},
      error() {},
    },
  });
}
