// `npm run stress -- status [--keys 1000000] [--seconds 20] [--rate 2000] [--pollers 2] [--binary PATH]`
// (issue 16, item 0): the control plane must not stall the policy path. Fills the daemon
// with KEYS distinct keys, lets it settle, then runs Exim-style clients at a steady rate while pollers ask
// /status and /senders?top=20 in a loop: two on the control socket and one on the loopback TCP listener
// (which is rate limited). Reports the clients' worst answer and how many took over 50 ms, without and
// then with the pollers, and what the pollers got (answers, their times, refusals).
import {
  controlGet,
  controlGetTcp,
  countOver,
  fillKeys,
  percentile,
  report,
  rssMb,
  runScenario,
  settle,
  startDaemon,
  startLoad,
} from "./lib/harness.mjs";

runScenario(
  { keys: 1_000_000, seconds: 20, rate: 2000, pollers: 2 },
  async (env, { keys, seconds, rate, pollers }) => {
    const daemon = await startDaemon(env);
    try {
      const fill = await fillKeys(env, daemon, keys);
      const rssAfterFill = await settle(daemon);
      // The same clients first alone, then with the pollers: on a shared machine the scheduler alone can
      // hold an answer for tens of milliseconds, and the first phase shows how much.
      const clientLoad = () =>
        startLoad(env, daemon.tcp, { threads: 4, seconds, mode: "uniform", keys, rate, histogram: true });
      const alone = await clientLoad().done;
      const clients = clientLoad();
      let polling = true;
      const answers = { socket: [], tcp: [] };
      const statuses = {};
      const poll = async (get, into) => {
        while (polling) {
          for (const path of ["/status", "/senders?top=20"]) {
            const reply = await get(path);
            statuses[reply.status] = (statuses[reply.status] ?? 0) + 1;
            if (reply.status === 200) into.push(reply.ms);
            if (!polling) return;
          }
        }
      };
      const loops = [
        ...Array.from(
          { length: pollers },
          () => poll((path) => controlGet(daemon.control, path), answers.socket),
        ),
        poll((path) => controlGetTcp(daemon.controlPort, path), answers.tcp),
      ];
      const load = await clients.done;
      polling = false;
      await Promise.all(loops);
      const status = await controlGet(daemon.control, "/status");
      const times = (list) => ({
        answers: list.length,
        median_ms: Math.round(percentile(list, 0.5)),
        max_ms: Math.round(Math.max(0, ...list)),
      });
      const answered = (load) => ({
        requests: load.requests,
        errors: load.errors,
        p50_us: load.p50_us,
        p99_us: load.p99_us,
        p999_us: load.p999_us,
        worst_ms: Math.round(load.max_us / 100) / 10,
        over_50ms: countOver(load, 50),
      });
      return report("status", {
        keys: status.body.trackedKeys,
        fill_rps: fill.rps,
        rss_mb: rssAfterFill,
        rss_end_mb: rssMb(daemon.pid),
        client_rate: rate,
        seconds,
        clients_alone: answered(alone),
        clients_polled: answered(load),
        polls_socket: times(answers.socket),
        polls_tcp: times(answers.tcp),
        poll_statuses: statuses,
      });
    } finally {
      await daemon.stop();
    }
  },
);
