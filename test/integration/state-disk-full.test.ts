// A state file on a disk that fills up (a real tmpfs of 64 KB, so the kernel says ENOSPC as /var would at
// 3 a.m.): the daemon keeps answering and counting, says so in `status`, leaves the last good snapshot in
// place, starts again on the full disk from it after a kill -9, and writes again by itself once room is made.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parseState } from "../../src/store/state-file.ts";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { fill } from "../helpers/full-disk.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { mainCommand, ROOT } from "../helpers/runtime.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const rcpt = (sender: string) =>
  `rcpt sender=${sender}@example.org recipient=x@example.net client_address=192.0.2.7\n`;

function status(config: string) {
  const [command, ...rest] = mainCommand(["status", "--config", config]);
  const result = spawnSync(command, rest, { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

const counted = (stateFile: string, sender: string) =>
  parseState(readFileSync(stateFile, "utf8")).tables.get("out")?.get(`${sender}@example.org`)?.count ?? 0;

describe("a state file on a disk that fills up", () => {
  let dir: TempDir;
  let config: string;
  let stateFile: string;
  let mounted = false;
  let daemon: DaemonProcess | undefined;
  before(() => {
    dir = makeTempDir();
    const disk = dir.file("disk");
    mkdirSync(disk);
    assert.equal(process.getuid?.(), 0, "needs root to mount a tmpfs");
    const mount = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "none", disk], { encoding: "utf8" });
    assert.equal(mount.status, 0, mount.stderr);
    mounted = true;
    stateFile = `${disk}/state.json`;
    config = writeTestConfig(dir, `[limit out]\nkey = sender\ncount = 1000\ntime = 1h\n`);
    writeFileSync(
      config,
      readFileSync(config, "utf8").replace(/^state_file = .*$/m, `state_file = ${stateFile}`),
    );
  });
  after(async () => {
    await daemon?.stop("SIGKILL");
    if (mounted) spawnSync("umount", [dir.file("disk")]);
    dir?.remove();
  });

  it("keeps answering, keeps the last good snapshot, restarts from it and writes again once there is room", async () => {
    daemon = await startDaemonProcess(dir, config);
    for (let n = 0; n < 5; n++) {
      assert.match(await askPolicy(daemon.policySocket, rcpt("before")), /^action=accept/);
    }
    await daemon.waitForLog(/debug counters: state saved/);
    await new Promise((resolve) => setTimeout(resolve, 500)); // journaled (FLUSH_MS)

    fill(`${dir.file("disk")}/filler`);
    for (let n = 0; n < 200; n++) {
      assert.match(await askPolicy(daemon.policySocket, rcpt(`full${n % 20}`)), /^action=accept/, "answered");
    }
    await daemon.waitForLog(/error counters: cannot write state file/);
    assert.match(status(config), /^state file: NOT WRITTEN since .*(ENOSPC|No space left on device)/m);
    counted(stateFile, "before"); // the last good snapshot is still there, whole
    // Each failed snapshot starts a journal generation; with traffic between them, none may stay as a file.
    for (let n = 0; n < 400 && !/failed_saves=4\b/.test(daemon.logs()); n++) {
      assert.match(await askPolicy(daemon.policySocket, rcpt(`full${n % 20}`)), /^action=accept/, "answered");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.match(daemon.logs(), /failed_saves=4\b/);
    const journals = readdirSync(dir.file("disk")).filter((name) => name.includes(".journal-"));
    assert.ok(journals.length <= 2, `journal files left by failed snapshots: ${journals.join(" ")}`);

    // kill -9 on the full disk, and a start on it still full
    await daemon.stop("SIGKILL");
    daemon = undefined;
    daemon = await startDaemonProcess(dir, config);
    assert.match(await askPolicy(daemon.policySocket, rcpt("before")), /^action=accept/);
    await daemon.waitForLog(/error counters: cannot write state file/);
    assert.match(status(config), /^state file: NOT WRITTEN since .*(ENOSPC|No space left on device)/m);
    assert.equal(counted(stateFile, "before"), 5, "the snapshot and its journal as they were, whole");

    rmSync(`${dir.file("disk")}/filler`); // room again: writes resume by themselves
    await daemon.waitForLog(/info counters: state file written again/);
    assert.doesNotMatch(status(config), /state file/);
    await daemon.stopCleanly();
    daemon = undefined;
    assert.equal(existsSync(`${stateFile}.lock`), false, "the lock goes with the daemon");
    assert.equal(counted(stateFile, "before"), 6, `restored and counted on: ${counted(stateFile, "before")}`);
  });
});
