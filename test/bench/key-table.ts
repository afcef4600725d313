// What a lookup of a sender's counter costs against the size of the table, and what a compact table would
// save (docs/decisions.md, "Where a counted sender's time goes"). Each step makes the key as a request
// does (a new string), finds its counter and adds one to it, in random order over N keys:
// - map: the memory store's layout, Map<string, object> (a counter object per key);
// - compact: an open-addressing table in typed arrays, the key's bytes beside its numbers in one 64-byte
//   row, found by a hash of the key: the layout a rewrite of the memory store would use (not built);
// - map with instance and Tally: the map's counter also comparing the message's instance and counting the
//   client address in its Tally, each an object of its own, as the memory store's counters do (a compact
//   row would hold a hash of the instance and the address's pool index instead, in the same row).
// Also: the same Map over 100 keys (everything in the CPU's cache), and the key alone.
// Prints ns per step. Run: `bun test/bench/key-table.ts [N]` (default 1e5; also runs on Deno).
const N = Number(process.argv[2] ?? 100_000);
const STEPS = 1_000_000;
const keyOf = (k: number) => `user${k}@example.org`;

interface Counter {
  start: number;
  count: number;
  last: number;
}

// The memory store's counter as a request reads it: the message's instance it compares and the sightings'
// Tally it counts the client address in are objects of their own (policy/sender-counter.ts).
interface FullCounter extends Counter {
  instance: string;
  clientIps: { first: string; firstCount: number };
}

function fullMapTable(size: number) {
  const map = new Map<string, FullCounter>();
  const address = "192.0.2.7";
  for (let k = 0; k < size; k++) {
    map.set(keyOf(k).split("").join(""), {
      start: 0,
      count: 0,
      last: 0,
      instance: `1.${k.toString(16)}.0`.split("").join(""),
      clientIps: { first: address, firstCount: 0 },
    });
  }
  return (key: string) => {
    const counter = map.get(key)!;
    const instance = `2.${key.length}.0`; // a new message: compared with the one counted last
    if (counter.instance !== instance) counter.count++;
    if (counter.clientIps.first === address) counter.clientIps.firstCount++;
    counter.last = counter.count;
    return counter.count;
  };
}

function mapTable(size: number) {
  const map = new Map<string, Counter>();
  for (let k = 0; k < size; k++) map.set(keyOf(k).split("").join(""), { start: 0, count: 0, last: 0 });
  return (key: string) => {
    const counter = map.get(key)!;
    counter.count++;
    return counter.count;
  };
}

// 64-byte rows: count, start, last (f64 × 3), key length (u8) and up to 39 key bytes.
const ROW = 64;
const KEY_AT = 25;
function compactTable(size: number) {
  const slotCount = 1 << Math.ceil(Math.log2(size * 2));
  const slots = new Int32Array(slotCount).fill(-1);
  const rows = new ArrayBuffer(size * ROW);
  const numbers = new Float64Array(rows);
  const bytes = new Uint8Array(rows);
  const hash = (key: string) => {
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    return h >>> 0;
  };
  const matches = (row: number, key: string) => {
    const at = row * ROW + KEY_AT;
    if (bytes[at - 1] !== key.length) return false;
    for (let i = 0; i < key.length; i++) if (bytes[at + i] !== key.charCodeAt(i)) return false;
    return true;
  };
  for (let k = 0; k < size; k++) {
    const key = keyOf(k);
    let slot = hash(key) & (slotCount - 1);
    while (slots[slot] !== -1) slot = (slot + 1) & (slotCount - 1);
    slots[slot] = k;
    bytes[k * ROW + KEY_AT - 1] = key.length;
    for (let i = 0; i < key.length; i++) bytes[k * ROW + KEY_AT + i] = key.charCodeAt(i);
  }
  return (key: string) => {
    let slot = hash(key) & (slotCount - 1);
    for (;;) {
      const row = slots[slot];
      if (row === -1) return -1;
      if (matches(row, key)) return ++numbers[row * (ROW / 8)];
      slot = (slot + 1) & (slotCount - 1);
    }
  };
}

function perStep(size: number, lookUp: (key: string) => number): number {
  const order = Int32Array.from({ length: STEPS }, () => Math.floor(Math.random() * size));
  let sink = 0;
  const started = performance.now();
  for (let i = 0; i < STEPS; i++) sink += lookUp(keyOf(order[i]));
  const ns = ((performance.now() - started) * 1e6) / STEPS;
  if (sink < 0) console.log(sink);
  return Math.round(ns);
}

const variants: [string, number, (key: string) => number][] = [
  ["key alone", N, (key) => key.length + key.charCodeAt(7)],
  ["map, 100 keys", 100, mapTable(100)],
  [`map, ${N} keys`, N, mapTable(N)],
  [`compact, ${N} keys`, N, compactTable(N)],
  [`map with instance and Tally, ${N} keys`, N, fullMapTable(N)],
];
for (let round = 0; round < 3; round++) {
  console.log(variants.map(([name, size, lookUp]) => `${name}: ${perStep(size, lookUp)} ns`).join("; "));
}
