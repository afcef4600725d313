// `npm run stress -- --soak SECONDS` or `npm run stress -- soak [--soak 300] [--rate 10000] [--keys 100000]
// [--binary PATH]` (issue 16, item 7): SECONDS at 10 000 requests/s, Zipf keys, the attribute form
// Exim's snippets send, over the TCP listener Exim uses. The load runs in 10 s rounds back to back (a new
// key sequence each), and after each the daemon's RSS, its open fds and the round's p99 are printed: after
// the warm-up all three should stay flat. The summary compares the first half after warm-up with the second.
import { openFds, percentile, report, rssMb, runLoad, runScenario, startDaemon } from "./lib/harness.mjs";

const ROUND_S = 10;
const WARM_UP_S = 60;

runScenario({ soak: 300, rate: 10_000, keys: 100_000 }, async (env, options) => {
  const { rate, keys } = options;
  const seconds = options.soak;
  const daemon = await startDaemon(env);
  const samples = [];
  try {
    const rounds = Math.max(1, Math.round(seconds / ROUND_S));
    let totals = { requests: 0, errors: 0 };
    for (let round = 0; round < rounds; round++) {
      const load = await runLoad(env, daemon.tcp, {
        threads: 8,
        seconds: ROUND_S,
        mode: "zipf",
        keys,
        form: "attr",
        rate,
        seed: round,
      });
      totals = { requests: totals.requests + load.requests, errors: totals.errors + load.errors };
      const sample = {
        t_s: (round + 1) * ROUND_S,
        rps: load.rps,
        p99_us: load.p99_us,
        max_ms: Math.round(load.max_us / 100) / 10,
        rss_mb: rssMb(daemon.pid),
        fds: openFds(daemon.pid),
        errors: load.errors,
      };
      samples.push(sample);
      process.stdout.write(`soak sample: ${JSON.stringify(sample)}\n`);
    }
    // Flat after warm-up: the later samples against the earlier ones (min–max of each half).
    const settled = samples.filter((sample) => sample.t_s > Math.min(WARM_UP_S, seconds / 3));
    const half = Math.floor(settled.length / 2);
    const span = (list, field) =>
      list.length ? [Math.min(...list.map((s) => s[field])), Math.max(...list.map((s) => s[field]))] : [];
    const [early, late] = [settled.slice(0, half), settled.slice(half)];
    return report("soak", {
      seconds: rounds * ROUND_S,
      rate,
      keys,
      requests: totals.requests,
      errors: totals.errors,
      rss_mb: { early: span(early, "rss_mb"), late: span(late, "rss_mb") },
      fds: { early: span(early, "fds"), late: span(late, "fds") },
      p99_us: { early: span(early, "p99_us"), late: span(late, "p99_us") },
      median_p99_us: percentile(settled.map((s) => s.p99_us), 0.5),
    });
  } finally {
    await daemon.stop();
  }
});
