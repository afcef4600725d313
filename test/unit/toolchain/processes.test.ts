// test/helpers/processes.ts, which the package test uses to prove a purge left no daemon running: it must
// see a process that does run (or the check would pass whatever ran), also once its executable is deleted.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, realpathSync, rmSync } from "node:fs";
import { after, describe, it } from "node:test";
import { processesRunning, runsExecutable } from "../../helpers/processes.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

describe("processesRunning", () => {
  const dir = makeTempDir();
  after(() => dir.remove());

  it("finds the test runner's own process by its executable", () => {
    assert.ok(processesRunning(realpathSync(process.execPath)).includes(process.pid));
  });

  it("finds a process whose executable was deleted meanwhile, as after a purge", async () => {
    const exe = dir.file("sleeper");
    copyFileSync(realpathSync("/bin/sleep"), exe);
    const child = spawn(exe, ["30"], { stdio: "ignore" });
    try {
      await new Promise((resolve, reject) => child.once("spawn", resolve).once("error", reject));
      assert.deepEqual(processesRunning(exe), [child.pid]);
      rmSync(exe);
      assert.deepEqual(processesRunning(exe), [child.pid], "deleted");
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
      assert.deepEqual(processesRunning(exe), [], "once it has exited");
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("finds nothing for an executable no process runs", () => {
    assert.deepEqual(processesRunning(dir.file("never-run")), []);
  });
});

describe("runsExecutable", () => {
  it("matches /proc/PID/exe exactly, or as deleted", () => {
    assert.equal(runsExecutable("/usr/sbin/x", "/usr/sbin/x", "x\0"), true);
    assert.equal(runsExecutable("/usr/sbin/x", "/usr/sbin/x (deleted)", ""), true);
    assert.equal(runsExecutable("/usr/sbin/x", "/usr/sbin/xy", "/usr/sbin/x\0"), false, "the link decides");
    assert.equal(runsExecutable("/usr/sbin/x", "/usr/bin/x", ""), false);
  });

  it("falls back to argv[0] when the exe link cannot be read", () => {
    assert.equal(runsExecutable("/usr/sbin/x", undefined, "/usr/sbin/x\0run\0"), true);
    assert.equal(runsExecutable("/usr/sbin/x", undefined, "/usr/bin/sh\0/usr/sbin/x\0"), false);
    assert.equal(runsExecutable("/usr/sbin/x", undefined, ""), false, "a kernel thread");
  });
});
