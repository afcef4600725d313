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

/**
 * A unit's command line as systemd runs it (systemd.service(5), "Command lines"): words split at spaces
 * outside quotes, the quotes removed; ${NAME} replaced within a word, $NAME as a word of its own split at
 * whitespace, $$ a literal $. Enough for the lines of debian/mailpolicyd.service.
 */
function systemdCommand(line: string, env: Record<string, string>): string[] {
  const words = [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((match) =>
    match[1] ?? match[2] ?? match[3]
  );
  return words.flatMap((word) =>
    /^\$\w+$/.test(word)
      ? (env[word.slice(1)] ?? "").split(/\s+/).filter(Boolean)
      : [word.replace(/\$\$|\$\{(\w+)\}/g, (found, name) => found === "$$" ? "$" : env[name] ?? "")]
  );
}

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

  it("survives the systemd unit's reload sent while it starts", async () => {
    // `systemctl start` returns once ExecStart is forked (Type=simple), so a reload right after it (a
    // script's `systemctl restart mailpolicyd && systemctl reload mailpolicyd`, a config-management
    // handler after `apt install`) runs ExecReload at once: config-test, then SIGHUP to $MAINPID. SIGHUP's
    // default action ends a process that has no handler yet, and systemd counts that as a clean exit:
    // Restart=on-failure does not bring the daemon back. Each ExecReload= line is run as systemd would.
    const unit = readFileSync(`${ROOT}debian/mailpolicyd.service`, "utf8");
    const reload = [...unit.matchAll(/^ExecReload=(.*)$/gm)].map((match) => match[1]);
    assert.ok(reload.some((line) => /MAINPID/.test(line)), reload.join("\n"));
    const config = writeTestConfig(dir, "", "reload-at-start.conf");
    for (let round = 1; round <= 5; round++) {
      const child = spawn(binary, ["run", "--config", config], { stdio: ["ignore", "ignore", "pipe"] });
      let output = "";
      child.stderr!.on("data", (chunk) => output += chunk);
      const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal)));
      for (const line of reload) {
        const [command, ...args] = systemdCommand(line, { CONFIG: config, MAINPID: String(child.pid) });
        const step = spawnSync(command === "/usr/sbin/mailpolicyd" ? binary : command, args, {
          encoding: "utf8",
        });
        assert.equal(step.status, 0, `round ${round}: ${line}\n${step.stdout}${step.stderr}`);
      }
      await waitFor(
        () => /policy: listening/.test(output) || child.exitCode !== null || child.signalCode !== null,
        10_000,
        "the daemon to listen or end",
      );
      assert.equal(child.signalCode, null, `round ${round}: ended by ${child.signalCode}\n${output}`);
      assert.equal(child.exitCode, null, `round ${round}: exited ${child.exitCode}\n${output}`);
      // And the reload reached it.
      await waitFor(() => /config reloaded/.test(output), 10_000, `round ${round}: the reload`);
      process.kill(child.pid!, "SIGTERM");
      assert.equal(await exited, 0);
    }
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
