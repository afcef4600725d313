// One state file, one daemon. A second `mailpolicyd run` on the same state_file (another config by mistake,
// a test run beside the packaged daemon) used to start, and the two wrote the file and its journal over each
// other: each snapshot replaced the other's counts. Now the second refuses to start, naming the file and the
// first's PID; a lock left by a daemon killed with SIGKILL, or naming a PID the kernel gave to another
// process since, does not keep the next one out (the init script or monit starts it again after a crash).
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { askMany, askPolicy } from "../helpers/policy-client.ts";
import { mainCommand, ROOT } from "../helpers/runtime.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const LIMIT = "[thresholds]\ntime = 1h\ncount = 3\n";

/** A config of its own in `dir` (sockets, pidfile, TCP port) whose state_file is `stateFile`. */
function configOn(dir: TempDir, stateFile: string): string {
  const file = dir.file("other.conf");
  writeFileSync(
    file,
    `[daemon]\npolicy_socket = ${dir.file("policy.sock")}\ncontrol_socket = ${dir.file("control.sock")}\n` +
      `policy_listen = 127.0.0.1:0\npidfile = ${dir.file("mailpolicyd.pid")}\nstate_file = ${stateFile}\n` +
      `state_interval = 200ms\nlog_level = debug\n${LIMIT}`,
  );
  return file;
}

/** Runs `mailpolicyd run` until it exits or says it listens (then it is stopped): what it did, and its log. */
function runUntilListeningOrExit(
  config: string,
): Promise<{ listened: boolean; exit: number | null; log: string }> {
  const [command, ...rest] = mainCommand(["run", "--config", config]);
  const child: ChildProcess = spawn(command, rest, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  let listened = false;
  child.stderr!.on("data", (chunk) => {
    log += chunk;
    if (!listened && /policy: listening/.test(log)) {
      listened = true;
      process.kill(child.pid!, "SIGTERM");
    }
  });
  // "close", not "exit": the log is complete once stderr is closed.
  return new Promise((resolve) => child.on("close", (exit) => resolve({ listened, exit, log })));
}

describe("two daemons on one state file", () => {
  const dirs: TempDir[] = [];
  const daemons: DaemonProcess[] = [];
  let sleeper: ChildProcess | undefined;
  after(async () => {
    sleeper?.kill("SIGKILL");
    await Promise.all(daemons.map((daemon) => daemon.stop("SIGKILL")));
    dirs.forEach((dir) => dir.remove());
  });
  const tempDir = () => {
    const dir = makeTempDir();
    dirs.push(dir);
    return dir;
  };

  it(
    "the second refuses to start, naming the state file and the first's PID",
    { timeout: 60_000 },
    async () => {
      const dir = tempDir();
      const first = await startDaemonProcess(dir, writeTestConfig(dir, LIMIT));
      daemons.push(first);
      await askMany(first.policySocket, "counted@example.org\n", 2);

      const second = await runUntilListeningOrExit(configOn(tempDir(), dir.file("state.json")));
      // Before: it started (listened = true) and wrote the same state file and journal as the first.
      assert.equal(second.listened, false, `a second daemon started on the same state file:\n${second.log}`);
      assert.equal(second.exit, 1);
      assert.match(
        second.log,
        new RegExp(
          `error daemon: state_file is in use by another mailpolicyd, not starting ` +
            `file=${dir.file("state.json")} pid=${first.pid} lock=${dir.file("state.json.lock")}`,
        ),
      );
      // The first kept its count: the third message is still within the limit, the fourth is not.
      assert.equal(await askPolicy(first.policySocket, "counted@example.org\n"), "no");
      assert.equal(await askPolicy(first.policySocket, "counted@example.org\n"), "yes");
      await first.stopCleanly();

      // A clean stop releases the file: the other config may now use it, and finds the counts.
      const otherDir = tempDir();
      const after = await startDaemonProcess(otherDir, configOn(otherDir, dir.file("state.json")));
      daemons.push(after);
      assert.equal(await askPolicy(after.policySocket, "counted@example.org\n"), "yes");
      await after.stopCleanly();
    },
  );

  it("a reload onto another daemon's state file is refused, one onto a free file moves the lock", {
    timeout: 60_000,
  }, async () => {
    const dir = tempDir();
    const first = await startDaemonProcess(dir, writeTestConfig(dir, LIMIT));
    daemons.push(first);
    const otherDir = tempDir();
    const config = configOn(otherDir, otherDir.file("state.json"));
    const second = await startDaemonProcess(otherDir, config);
    daemons.push(second);

    writeFileSync(
      config,
      readFileSync(config, "utf8").replace(otherDir.file("state.json"), dir.file("state.json")),
    );
    second.signal("SIGHUP");
    await second.waitForLog(/reload refused|config reloaded/);
    // Before: "config reloaded", and the second wrote its snapshot over the first's state file.
    assert.match(
      second.logs(),
      new RegExp(
        `error config: state_file ${dir.file("state.json")} is in use by another mailpolicyd ` +
          `\\(pid ${first.pid}, lock ${dir.file("state.json.lock")}\\)\n.*reload refused`,
      ),
    );
    assert.doesNotMatch(second.logs(), /config reloaded/);

    writeFileSync(
      config,
      readFileSync(config, "utf8").replace(dir.file("state.json"), otherDir.file("moved.json")),
    );
    second.signal("SIGHUP");
    await second.waitForLog(/config reloaded/);
    assert.ok(existsSync(otherDir.file("moved.json.lock")), "the new state file is locked");
    assert.ok(!existsSync(otherDir.file("state.json.lock")), "the old one is free");
    await second.stopCleanly();
    assert.ok(!existsSync(otherDir.file("moved.json.lock")), "released at stop");
    await first.stopCleanly();
    assert.ok(!existsSync(dir.file("state.json.lock")), "released at stop");
  });

  it(
    "a lock left by a daemon killed with SIGKILL does not keep the next one out",
    { timeout: 60_000 },
    async () => {
      const dir = tempDir();
      const config = writeTestConfig(dir, LIMIT);
      const first = await startDaemonProcess(dir, config);
      daemons.push(first);
      await askMany(first.policySocket, "killed@example.org\n", 3);
      // On disk before the kill (a kill -9 loses what the journal has not written yet, up to 200 ms).
      const counted = /"killed@example\.org",\d+,3,/;
      await waitFor(
        () =>
          existsSync(dir.file("state.json")) && counted.test(readFileSync(dir.file("state.json"), "utf8")),
        10_000,
        "the count in the state file",
      );
      await first.stop("SIGKILL");

      const next = await startDaemonProcess(dir, config);
      daemons.push(next);
      assert.equal(await askPolicy(next.policySocket, "killed@example.org\n"), "yes", "the journal's counts");
      await next.stopCleanly();
    },
  );

  it(
    "a lock naming a PID that another process has now does not keep the daemon out",
    { timeout: 60_000 },
    async () => {
      const dir = tempDir();
      sleeper = spawn("sleep", ["300"], { stdio: "ignore" });
      // As a daemon killed long ago left it: its PID, now the kernel's gift to `sleep`, and its start time.
      writeFileSync(dir.file("state.json.lock"), `${sleeper.pid}\n1\n`);
      const daemon = await startDaemonProcess(dir, writeTestConfig(dir, LIMIT));
      daemons.push(daemon);
      assert.equal(await askPolicy(daemon.policySocket, "someone@example.org\n"), "no");
      await daemon.stopCleanly();
    },
  );

  it("a FIFO at the lock's path is named and `run` exits, where reading it waited for a writer", () => {
    const dir = tempDir();
    execFileSync("mkfifo", [dir.file("state.json.lock")]);
    const [command, ...rest] = mainCommand(["run", "--config", writeTestConfig(dir, LIMIT)]);
    // Killed at the timeout if it hangs; the daemon never gets as far as listening either way.
    const run = spawnSync(command, rest, { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
    assert.equal(run.error, undefined, "returned before the timeout");
    assert.equal(run.status, 1);
    assert.match(
      run.stderr,
      new RegExp(
        `error daemon: state_file has a FIFO \\(named pipe\\) as its lock file, not a regular file; ` +
          `not starting ` +
          `file=${dir.file("state.json")} lock=${dir.file("state.json.lock")}`,
      ),
    );
  });
});
