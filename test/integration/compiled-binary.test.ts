// The shipped artefact: `bun build --compile` of src/main.ts, run as a plain executable.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { HEAP_TUNING_ENV } from "../../src/cli/heap-tuning.ts";
import { VERSION } from "../../src/version.ts";
import { waitFor, writeTestConfig } from "../helpers/daemon-process.ts";
import { askMany } from "../helpers/policy-client.ts";
import { ROOT } from "../helpers/runtime.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

describe("compiled executable", () => {
  let dir: TempDir;
  let binary: string;

  before(() => {
    dir = makeTempDir();
    binary = dir.file("mailpolicyd");
    const build = spawnSync(
      `${ROOT}node_modules/.bin/bun`,
      ["build", "--compile", "--minify", "--bytecode", `${ROOT}src/main.ts`, "--outfile", binary],
      { encoding: "utf8", timeout: 120_000 },
    );
    assert.equal(build.status, 0, build.stderr);
  });
  after(() => dir.remove());

  it("reports its own version, not bun's", () => {
    const result = spawnSync(binary, ["version"], { encoding: "utf8" });
    assert.equal(result.stdout, `mailpolicyd ${VERSION}\n`);
  });

  it("keeps a heap setting the administrator exported", async () => {
    const config = writeTestConfig(dir, "", "kept.conf");
    const child = spawn(binary, ["run", "--config", config], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, BUN_JSC_smallHeapGrowthFactor: "2" },
    });
    let output = "";
    child.stderr!.on("data", (chunk) => output += chunk);
    const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
    await waitFor(() => /policy: listening/.test(output), 10_000, "the compiled daemon");
    const environment = readFileSync(`/proc/${child.pid}/environ`, "utf8").split("\0");
    assert.ok(environment.includes("BUN_JSC_smallHeapGrowthFactor=2"));
    assert.ok(!environment.some((entry) => entry.startsWith("BUN_JSC_mediumHeapGrowthFactor=")));
    assert.ok(!environment.some((entry) => entry.startsWith("BUN_JSC_useWarmUpMarkedBlocks=")));
    assert.ok(!environment.some((entry) => entry.startsWith("MIMALLOC_PURGE_DELAY=")));
    process.kill(child.pid!, "SIGTERM");
    assert.equal(await exited, 0);
  });

  it("runs the daemon, answers Exim-style requests and stops cleanly on SIGTERM", async () => {
    const config = writeTestConfig(dir, "[thresholds]\ntime = 300\ncount = 2\n");
    const child = spawn(binary, ["run", "--config", config], { stdio: ["ignore", "ignore", "pipe"] });
    let output = "";
    child.stderr!.on("data", (chunk) => output += chunk);
    const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
    await waitFor(() => /policy: listening/.test(output), 10_000, "the compiled daemon");
    assert.deepEqual(await askMany(dir.file("policy.sock"), "bin@example.org\n", 3), ["no", "no", "yes"]);
    // It re-executed itself with the heap settings (src/cli/heap-tuning.ts) under the same PID.
    const environment = readFileSync(`/proc/${child.pid}/environ`, "utf8").split("\0");
    for (const [name, value] of Object.entries(HEAP_TUNING_ENV)) {
      assert.ok(environment.includes(`${name}=${value}`), `${name}=${value} in the daemon's environment`);
    }
    // ... and JavaScriptCore took them: no block warm-up thread (it runs one by default).
    const threads = readdirSync(`/proc/${child.pid}/task`)
      .map((task) => readFileSync(`/proc/${child.pid}/task/${task}/comm`, "utf8").trim());
    assert.ok(threads.includes("HeapHelper"), `JSC's threads are named: ${threads.join(", ")}`);
    assert.ok(!threads.includes("JSCWarmUp"), `no warm-up thread: ${threads.join(", ")}`);
    assert.equal(readFileSync(dir.file("mailpolicyd.pid"), "utf8").trim(), String(child.pid));
    process.kill(child.pid!, "SIGTERM");
    assert.equal(await exited, 0);
    assert.match(output, /info daemon: stopped/);
  });
});
