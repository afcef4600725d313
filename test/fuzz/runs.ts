// How many cases each fuzz property runs. The default suite runs 167 300 cases in all (well over the 100 000
// CI asks for) in about 15 s per runtime; MAILPOLICYD_FUZZ_RUNS=N (`npm run fuzz -- --long` sets 1 000 000)
// scales every property so that they run N cases in all. MAILPOLICYD_FUZZ_SEED=S replays a run: a failing
// property prints its seed (fast-check's report), the wire fuzz prints it always.
import fc from "fast-check";

/** Each property's share of the default budget, in cases. */
const DEFAULT_RUNS = {
  "readsocket: arbitrary bytes": 40_000,
  "readsocket: only the first line counts": 10_000,
  "readsocket: attribute lines round-trip": 10_000,
  "readsocket: tokens round-trip": 10_000,
  "readsocket: CRLF reads as LF": 5_000,
  "attributes: quoteValue round-trips": 15_000,
  "attributes: formatAttributes round-trips": 10_000,
  "attributes: arbitrary text": 15_000,
  "ini: arbitrary text": 10_000,
  "config: INI-shaped text": 3_000,
  "config: arbitrary text": 3_000,
  "config: file bytes": 300,
  "config: [thresholds] values round-trip": 3_000,
  "state: arbitrary JSON": 8_000,
  "state: state-shaped JSON": 3_000,
  "state: serializeState round-trips": 2_000,
  "postfix: byte search": 4_000,
  "postfix: framing": 4_000,
  "postfix: blocks": 4_000,
  "framing: spamd chunks": 3_000,
  "framing: http": 3_000,
  "wire: unix": 1_000,
  "wire: tcp": 1_000,
} as const;

export type Property = keyof typeof DEFAULT_RUNS;

export const DEFAULT_TOTAL = Object.values(DEFAULT_RUNS).reduce((sum: number, runs) => sum + runs, 0);

function requestedTotal(): number | undefined {
  const text = process.env.MAILPOLICYD_FUZZ_RUNS;
  if (!text) return undefined;
  const total = Number(text);
  if (!Number.isInteger(total) || total < 1) throw new Error(`MAILPOLICYD_FUZZ_RUNS=${text}: not a count`);
  return total;
}

/** The number of cases for `property`: its default share, scaled to MAILPOLICYD_FUZZ_RUNS if set. */
export function fuzzRuns(property: Property): number {
  const total = requestedTotal();
  const runs = DEFAULT_RUNS[property];
  return total === undefined ? runs : Math.max(1, Math.round(runs * total / DEFAULT_TOTAL));
}

let seed: number | undefined;

/** One seed per run (MAILPOLICYD_FUZZ_SEED, or a random one). */
export function fuzzSeed(): number {
  if (seed === undefined) {
    const text = process.env.MAILPOLICYD_FUZZ_SEED;
    seed = text ? Number(text) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  }
  return seed;
}

/** Runs a synchronous property for its share of cases; fast-check reports the seed and a shrunk case. */
export function checkProperty<T>(name: Property, arbitrary: fc.Arbitrary<T>, predicate: (value: T) => void) {
  fc.assert(fc.property(arbitrary, predicate), { numRuns: fuzzRuns(name), seed: fuzzSeed() });
}
