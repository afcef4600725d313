// A daemon killed with SIGKILL (kill -9, the OOM killer, a crash) leaves its pidfile behind, and on a busy
// mail host the kernel soon hands that PID to another process: an Exim delivery, a cron job. The init
// script (start-stop-daemon --pidfile --name --user) sees no mailpolicyd there and starts one; the daemon
// must not then refuse as "already running" because of a process that is not mailpolicyd, or none runs.
// A live mailpolicyd in the pidfile still keeps a second one out (cli.test.ts).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

describe("a pidfile left by a killed daemon, its PID now another process's", () => {
  const dir = makeTempDir();
  let other: ChildProcess | undefined;
  after(() => {
    other?.kill("SIGKILL");
    dir.remove();
  });

  it("does not keep the daemon from starting", async () => {
    other = spawn("sleep", ["300"], { stdio: "ignore" });
    const config = writeTestConfig(dir, "");
    writeFileSync(dir.file("mailpolicyd.pid"), `${other.pid}\n`);
    // Before: "already running, not starting a second instance pid=<sleep's PID>", exit 1.
    const daemon = await startDaemonProcess(dir, config);
    try {
      assert.equal(await askPolicy(daemon.policySocket, "someone@example.org\n"), "no");
    } finally {
      await daemon.stopCleanly();
    }
  });
});
