// `npm run stress -- flood [--keys 3000000] [--key-bytes N] [--form legacy|attr] [--control SECONDS]
// [--binary PATH]` (issue 16, item 1): a hostile client
// sends N distinct keys (default 3 000 000) as fast as the daemon takes them while a good client asks at a
// steady 200 requests/s for one key of its own. Reports the daemon's RSS every second (peak and at the
// end), the flood's rate, and the good client's latencies. --key-bytes pads every hostile key (the issue's
// second case: 100 000 keys of 4 000 bytes). --control SECONDS is the control run: the same flood, for that
// long, of one key, so that what the new keys cost is told apart from what the load alone costs the good
// client on this machine.
import {
  countOver,
  openFds,
  report,
  rssMb,
  runScenario,
  settle,
  sleep,
  startDaemon,
  startLoad,
} from "./lib/harness.mjs";

runScenario(
  { keys: 3_000_000, "key-bytes": 0, form: "legacy", control: 0, nice: 0 },
  async (env, options) => {
    const { form, control } = options;
    const keys = control > 0 ? 1 : options.keys;
    const keyBytes = options["key-bytes"] || undefined;
    const daemon = await startDaemon(env);
    try {
      const rssBefore = rssMb(daemon.pid);
      const good = startLoad(env, daemon.tcp, {
        threads: 1,
        mode: "hot",
        form: "attr",
        rate: 200,
        prefix: "good",
        histogram: true,
      });
      const began = performance.now();
      const flood = startLoad(env, daemon.tcp, {
        threads: 4,
        mode: control > 0 ? "hot" : "seq",
        ...(control > 0 ? { seconds: control } : {}),
        keys,
        form,
        prefix: "hostile",
        nice: options.nice,
        keyBytes,
      });
      const rss = [];
      let finished = false;
      const floodDone = flood.done.then((result) => (finished = true, result));
      while (!finished && daemon.exitCode === undefined) {
        await sleep(1000);
        if (daemon.exitCode === undefined) rss.push(rssMb(daemon.pid));
      }
      const floodReport = await floodDone;
      const floodSeconds = Math.round((performance.now() - began) / 100) / 10;
      good.stop();
      const goodReport = await good.done;
      const alive = daemon.exitCode === undefined;
      const rssSettled = alive ? await settle(daemon) : undefined;
      return report("flood", {
        keys,
        key_bytes: keyBytes ?? "as generated (~22)",
        flood_seconds: floodSeconds,
        flood_rps: floodReport.rps,
        flood_errors: floodReport.errors,
        rss_before_mb: rssBefore,
        rss_peak_mb: Math.max(...rss),
        rss_after_3s_mb: rssSettled,
        rss_every_s_mb: rss.filter((_, i) => i % 10 === 9),
        fds: alive ? openFds(daemon.pid) : undefined,
        daemon_alive: alive,
        good_requests: goodReport.requests,
        good_errors: goodReport.errors,
        good_p50_us: goodReport.p50_us,
        good_p99_us: goodReport.p99_us,
        good_max_ms: Math.round(goodReport.max_us / 100) / 10,
        good_over_5ms: countOver(goodReport, 5),
        good_over_50ms: countOver(goodReport, 50),
      });
    } finally {
      await daemon.stop();
    }
  },
);
