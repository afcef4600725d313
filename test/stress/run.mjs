// `npm run stress -- SCENARIO [options]`: runs test/stress/SCENARIO.mjs with the options; `npm run stress --
// --soak SECONDS` (the issue's spelling) is the soak scenario. The scenarios are long and load the whole
// machine, so they are not part of `npm test`; a new scenario is a new file here, nothing to register
// (shared code lives in lib/). Without a known scenario, lists them. Each scenario builds dist/mailpolicyd
// (or takes --binary PATH), drives it with test/bench/loadgen.c (needs gcc) and prints its figures.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const scenarios = readdirSync(here)
  .filter((name) => name.endsWith(".mjs") && name !== "run.mjs")
  .map((name) => name.slice(0, -4))
  .sort();
let [scenario, ...args] = process.argv.slice(2);
if (scenario === "--soak") [scenario, args] = ["soak", ["--soak", ...args]];
if (!scenarios.includes(scenario)) {
  process.stderr.write(
    `usage: npm run stress -- SCENARIO [options] | --soak SECONDS\nscenarios: ${scenarios.join(", ")}\n`,
  );
  process.exit(64);
}
const result = spawnSync(process.execPath, [`${here}${scenario}.mjs`, ...args], { stdio: "inherit" });
process.exit(result.status ?? 1);
