// `npm run stress -- sigterm [--rounds 5] [--clients 64] [--transport tcp|unix] [--binary PATH]`
// (issue 16, item 2): SIGTERM under 64-client load, ROUNDS times. A request whose client
// connected and wrote but got an empty reply or a reset is "unanswered": Exim then gets an empty string
// instead of its fallback. Refused connections (nothing listening any more) are fine: Exim falls back.
// Reports per round: answered, unanswered, write failures, refused, the daemon's exit code and how long it
// took to stop. Exim's transport (TCP) by default, --transport unix for the local socket.
import { report, runScenario, sleep, startDaemon, startLoad } from "./lib/harness.mjs";

runScenario({ rounds: 5, clients: 64, load: 3, transport: "tcp" }, async (env, options) => {
  const { rounds, clients, transport } = options;
  const loadSeconds = options.load;
  const results = [];
  for (let round = 0; round < rounds; round++) {
    const daemon = await startDaemon(env);
    const load = startLoad(env, transport === "tcp" ? daemon.tcp : daemon.socket, {
      threads: clients,
      mode: "uniform",
      keys: 100_000,
      form: "attr",
      quiet: true,
    });
    await sleep(loadSeconds * 1000);
    const stopped = await daemon.stop("SIGTERM");
    await sleep(500); // clients keep trying: every connect is now refused, which is what must happen
    load.stop();
    const figures = await load.done;
    const result = {
      round: round + 1,
      answered: figures.requests,
      unanswered: figures.unanswered,
      write_failed: figures.write_failed,
      bad: figures.bad,
      refused: figures.refused,
      exit: stopped.code,
      stop_ms: stopped.ms,
    };
    results.push(result);
    process.stdout.write(`sigterm round: ${JSON.stringify(result)}\n`);
  }
  const sum = (field) => results.reduce((total, result) => total + result[field], 0);
  return report("sigterm", {
    rounds,
    clients,
    transport,
    answered: sum("answered"),
    unanswered: sum("unanswered"),
    write_failed: sum("write_failed"),
    bad: sum("bad"),
    exits: results.map((result) => result.exit),
    stop_ms: results.map((result) => result.stop_ms),
  });
});
