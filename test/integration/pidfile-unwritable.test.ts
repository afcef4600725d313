// A pidfile the daemon cannot write: its folder not the daemon's user's (pidfile = /run/mailpolicyd.pid for
// a daemon run as mailpolicyd), or a directory there. The daemon used to bind its sockets first, then log an
// "uncaught exception" with a stack trace and go on answering without a pidfile and without "started":
// the init script could neither stop nor reload it, and a SIGHUP ended it. It must refuse to start instead.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { writeTestConfig } from "../helpers/daemon-process.ts";
import { mainCommand, ROOT } from "../helpers/runtime.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

function run(config: string) {
  const [command, ...rest] = mainCommand(["run", "--config", config]);
  return spawnSync(command, rest, { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
}

describe("a pidfile that cannot be written (real daemon process)", () => {
  const dir = makeTempDir();
  after(() => dir.remove());

  it("refuses to start (exit 1), saying which file and why, and leaves no socket", () => {
    // A folder where no file can be made, even by root (the tests' user): what a folder of another user is
    // to the daemon's.
    const config = writeTestConfig(dir, "");
    const pidfile = "/proc/mailpolicyd-test.pid";
    writeFileSync(config, readFileSync(config, "utf8").replace(dir.file("mailpolicyd.pid"), pidfile));
    const started = run(config);
    assert.equal(started.error, undefined, `still running: ${started.stderr}`);
    assert.equal(started.status, 1, started.stderr);
    assert.doesNotMatch(started.stderr, /uncaught exception/);
    assert.match(
      started.stderr,
      new RegExp(`error daemon: pidfile cannot be written: ENOENT[^;]*; not starting file=${pidfile}`),
    );
    assert.equal(existsSync(dir.file("policy.sock")), false, "the policy socket was bound");
  });

  it("refuses a directory there at the key's line, as config-test does, and leaves no socket", () => {
    mkdirSync(dir.file("mailpolicyd.pid")); // the helper's pidfile path, a directory
    const config = writeTestConfig(dir, "");
    const started = run(config);
    assert.equal(started.error, undefined, `still running: ${started.stderr}`);
    assert.equal(started.status, 1, started.stderr);
    assert.match(
      started.stderr,
      new RegExp(
        `^${config}:5: daemon\\.pidfile: ${dir.file("mailpolicyd.pid")} is a directory, not a regular file`,
        "m",
      ),
    );
    assert.equal(existsSync(dir.file("policy.sock")), false, "the policy socket was bound");
  });
});
