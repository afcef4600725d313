// `npm test`: static checks, then the whole suite under Bun and under Deno (the source must run on both).
// Ends with one line "tests: N passed, N failed" so a run that executed no test cannot look green.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { missingPackages, needsPackages, packageNames, packagePlan } from "./helpers/debian-packages.mjs";
import { bunResults, denoResults, lastNumber } from "./runner-results.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name) => `${root}node_modules/.bin/${name}`;
// Optional test paths, for a quicker local run; --long runs the fuzz properties (test/fuzz/) for
// 1 000 000 cases in all instead of the default 167 300 (`npm run fuzz -- --long`).
const long = process.argv.includes("--long");
const only = process.argv.slice(2).filter((arg) => arg !== "--long");

// `quiet` keeps the output to itself (the caller prints it whole): for a phase that runs beside another.
// `env` adds to the environment.
function run(label, command, args, { quiet = false, env = {} } = {}) {
  return new Promise((resolve) => {
    const heading = `\n== ${label}: ${[command, ...args].join(" ")}\n`;
    if (!quiet) process.stdout.write(heading);
    const child = spawn(command, args, {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        NO_COLOR: "1",
        ...(long && !process.env.MAILPOLICYD_FUZZ_RUNS ? { MAILPOLICYD_FUZZ_RUNS: "1000000" } : {}),
        ...env,
      },
    });
    let output = quiet ? heading : "";
    const tee = (stream) => (chunk) => {
      output += chunk;
      if (!quiet) stream.write(chunk);
    };
    child.stdout.on("data", tee(process.stdout));
    child.stderr.on("data", tee(process.stderr));
    child.on("close", (code) => resolve({ code, output }));
  });
}

// The Debian packages the real-component tests need (test/debian-packages.txt): as root, install the
// missing ones, so that `npm test` works on a fresh Debian machine as README says; as anyone else, stop
// before any test with the command that installs them (test/helpers/debian-packages.mjs).
async function installDebianPackages() {
  if (!needsPackages(only)) return;
  const wanted = packageNames(readFileSync(join(root, "test/debian-packages.txt"), "utf8"));
  const plan = packagePlan(process.getuid?.() === 0, missingPackages(wanted));
  if (plan.action === "stop") {
    process.stderr.write(plan.message);
    process.exit(1);
  }
  if (plan.action === "run") return;
  process.env.DEBIAN_FRONTEND = "noninteractive";
  for (const args of [["update"], ["install", "-y", "--no-install-recommends", ...plan.missing]]) {
    const { code } = await run(`apt-get ${args[0]}`, "apt-get", args);
    if (code !== 0) {
      process.stdout.write(`apt-get ${args[0]} failed: the tests that need ${plan.missing} will fail\n`);
    }
  }
}

await installDebianPackages();

let passed = 0;
let failed = 0;
const broken = [];
const failures = []; // [runner, names of what failed under it (runner-results.mjs)]

const statics = only.length === 0
  ? [
    ["format", bin("deno"), ["fmt", "--check"]],
    ["lint", bin("deno"), ["lint"]],
    ["types", bin("deno"), ["check", "src/", "test/"]],
  ]
  : [];
for (const [label, command, args] of statics) {
  const { code } = await run(label, command, args);
  if (code === 0) passed++;
  else {
    failed++;
    broken.push(label);
  }
}

// test/system/ installs the real .deb on this machine (root, CI): it runs once, under Bun, below.
const paths = only.length > 0 ? only.filter((path) => !path.startsWith("test/system")) : [];
const bunTest = (folders, options) =>
  run("bun", bin("bun"), ["test", "--timeout", long ? "3600000" : "60000", ...folders], options);
// The whole suite through one entry (test/deno-suite.ts), which loads the module graph once instead of once
// a file, and without type-checking again: the `deno check` above has checked every file (docs/decisions.md,
// "The Deno suite through one entry"). One file after another, not --parallel: real-component tests failed on
// timing in two of three CI runs ("The Deno suite in parallel"). Paths given are run as files of their own,
// type-checked.
const denoSuite = (folders, options = {}) =>
  run("deno", bin("deno"), ["test", "-A", "--no-check", "test/deno-suite.ts"], {
    ...options,
    env: { MAILPOLICYD_TEST_PATHS: folders.join(" ") },
  });
const runs = []; // [runner, its run's result, what the runner said]
const said = (runner, result) =>
  runs.push([runner, result, (runner === "bun" ? bunResults : denoResults)(result.output)]);
if (paths.length > 0) {
  said("bun", await bunTest(paths));
  said("deno", await run("deno", bin("deno"), ["test", "-A", ...paths]));
} else if (only.length === 0) {
  // The unit and fuzz tests of both runtimes side by side: they wait on the CPU, not on real components, and
  // the two take ~2 minutes one after the other (docs/decisions.md, "The unit suites side by side"). Deno's
  // output is printed whole after Bun's. The integration tests then run one runtime after the other.
  const [bunUnits, denoUnits] = await Promise.all([
    bunTest(["test/unit", "test/fuzz"]),
    denoSuite(["test/unit", "test/fuzz"], { quiet: true }),
  ]);
  process.stdout.write(denoUnits.output);
  said("bun", bunUnits);
  said("deno", denoUnits);
  said("bun", await bunTest(["test/integration"]));
  said("deno", await denoSuite(["test/integration"]));
}
let [bunPass, bunFail, denoPass, denoFail] = [0, 0, 0, 0];
for (const [runner, result, { passed: pass, failed: fail, failures: names }] of runs) {
  if (runner === "bun") [bunPass, bunFail] = [bunPass + pass, bunFail + fail];
  else [denoPass, denoFail] = [denoPass + pass, denoFail + fail];
  failures.push([runner, names]);
  passed += pass;
  failed += fail;
  if (result.code !== 0 || pass === 0) {
    broken.push(runner);
    if (fail === 0) failed++; // a runner that crashed or ran nothing is a failure too
  }
}

// The system phase runs once: the package test under Bun (it installs the .deb), the browser test under
// Node (playwright-core drives Debian's Chromium).
const system = { pass: 0, fail: 0, ran: false };
if (only.length === 0 || only.some((path) => path.startsWith("test/system"))) {
  system.ran = true;
  const phases = [
    [
      "system: package (bun)",
      bin("bun"),
      ["test", "--timeout", "900000", "test/system/package.test.ts"],
      bunResults,
    ],
    [
      "system: dashboard (node)",
      process.execPath,
      ["--test", "test/system/dashboard.test.mjs"],
      (output) => ({
        passed: lastNumber(output, /^# pass (\d+)$/gm),
        failed: lastNumber(output, /^# fail (\d+)$/gm),
        failures: [],
      }),
    ],
  ];
  // Side by side (~20 s less than one after the other): neither waits on timing, and each uses folders and
  // ports of its own (the browser test builds its executable apart from build-deb's dist/). The browser
  // test's output is printed whole after the package test's.
  const results = await Promise.all(
    phases.map(([label, command, args], index) => run(label, command, args, { quiet: index > 0 })),
  );
  for (const [index, [label, , , resultsOf]] of phases.entries()) {
    const result = results[index];
    if (index > 0) process.stdout.write(result.output);
    const said = resultsOf(result.output);
    const [pass, fail] = [said.passed, said.failed];
    failures.push([label, said.failures]);
    system.pass += pass;
    system.fail += fail;
    passed += pass;
    failed += fail;
    if (result.code !== 0 || pass === 0) {
      broken.push(label);
      if (fail === 0) failed++;
    }
  }
}

process.stdout.write(
  `\nbun: ${bunPass} passed, ${bunFail} failed; deno: ${denoPass} passed, ${denoFail} failed\n`,
);
if (system.ran) {
  process.stdout.write(
    `system (package under bun, dashboard under node): ${system.pass} passed, ${system.fail} failed\n`,
  );
}
for (const [runner, names] of failures) {
  if (names.length === 0) continue;
  const shown = names.slice(0, 30).map((name) => `  ${name}\n`).join("");
  const more = names.length > 30 ? `  … and ${names.length - 30} more\n` : "";
  process.stdout.write(`failed under ${runner}:\n${shown}${more}`);
}
if (broken.length > 0) process.stdout.write(`failing: ${broken.join(", ")}\n`);
process.stdout.write(`tests: ${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 && broken.length === 0 ? 0 : 1);
