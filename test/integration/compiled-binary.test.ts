// The shipped artefact: `bun build --compile` of src/main.ts, run as a plain executable.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
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

  it("runs the daemon, answers Exim-style requests and stops cleanly on SIGTERM", async () => {
    const config = writeTestConfig(dir, "[thresholds]\ntime = 300\ncount = 2\n");
    const child = spawn(binary, ["run", "--config", config], { stdio: ["ignore", "ignore", "pipe"] });
    let output = "";
    child.stderr!.on("data", (chunk) => output += chunk);
    const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
    await waitFor(() => /policy: listening/.test(output), 10_000, "the compiled daemon");
    assert.deepEqual(await askMany(dir.file("policy.sock"), "bin@example.org\n", 3), ["no", "no", "yes"]);
    process.kill(child.pid!, "SIGTERM");
    assert.equal(await exited, 0);
    assert.match(output, /info daemon: stopped/);
  });
});
