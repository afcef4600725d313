// `npm run stress -- SCENARIO [options]`: runs test/stress/SCENARIO.mjs with the options. The stress
// scenarios are long and load the whole machine, so they are not part of `npm test`; a new scenario is a
// new file here, nothing to register. Without a known scenario, lists them.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const scenarios = readdirSync(here)
  .filter((name) => name.endsWith(".mjs") && name !== "run.mjs")
  .map((name) => name.slice(0, -4))
  .sort();
const [scenario, ...args] = process.argv.slice(2);
if (!scenarios.includes(scenario)) {
  process.stderr.write(`usage: npm run stress -- SCENARIO [options]\nscenarios: ${scenarios.join(", ")}\n`);
  process.exit(64);
}
const result = spawnSync(process.execPath, [`${here}${scenario}.mjs`, ...args], { stdio: "inherit" });
process.exit(result.status ?? 1);
