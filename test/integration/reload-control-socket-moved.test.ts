// `mailpolicyd reload` after the postmaster changed control_socket in the file (real daemon process, the
// CLI as typed): the daemon still listens on the socket it started with (a reload does not move it), so the
// CLI finds nothing at the new path. It said "mailpolicyd is not running", which was false and invited a
// second start; it now says which process runs and how to reach or reload it.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { runMain } from "../helpers/runtime.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

describe("mailpolicyd reload after control_socket was changed in the file", () => {
  const dir = makeTempDir();
  let daemon: DaemonProcess;
  let file: string;

  before(async () => {
    file = writeTestConfig(dir, "");
    daemon = await startDaemonProcess(dir, file);
    const text = readFileSync(file, "utf8");
    writeFileSync(file, text.replace(dir.file("control.sock"), dir.file("moved.sock")));
  });
  after(async () => {
    await daemon?.stop();
    dir.remove();
  });

  it("says the daemon runs, by its PID, and how to reload it, not that it is not running", () => {
    const result = runMain(["reload", "--config", file]);
    assert.equal(result.status, 2);
    assert.doesNotMatch(result.stderr, /is not running/);
    const [moved, pidfile, pid] = [dir.file("moved.sock"), dir.file("mailpolicyd.pid"), daemon.pid];
    assert.equal(
      result.stderr,
      `mailpolicyd: nothing listens on ${moved}, but ${pidfile} names a running process (pid ${pid}): ` +
        `mailpolicyd is still starting, or listens on the control_socket it started with (a changed ` +
        `control_socket takes a restart). Reach it with --socket and the path its start logged, reload it with ` +
        `kill -HUP ${pid} (service mailpolicyd reload), or restart it\n`,
    );
    const status = runMain(["status", "--config", file]);
    assert.equal(status.status, 2);
    assert.match(status.stderr, new RegExp(`names a running process \\(pid ${daemon.pid}\\)`));
  });

  it("reloads through --socket with the old path, and the daemon logs that the change takes a restart", async () => {
    const result = runMain(["reload", "--socket", dir.file("control.sock")]);
    assert.equal(result.status, 0, result.stderr);
    await daemon.waitForLog(/\[daemon\] control_socket changed: takes effect after a restart/);
  });

  it("says it is not running once the daemon is gone", async () => {
    await daemon.stopCleanly();
    const result = runMain(["reload", "--config", file]);
    assert.equal(result.status, 2);
    assert.equal(
      result.stderr,
      `mailpolicyd: mailpolicyd is not running (nothing listens on ${dir.file("moved.sock")})\n`,
    );
  });
});
