// A pidfile the daemon cannot write: its folder not the daemon's user's (pidfile = /run/mailpolicyd.pid for
// a daemon run as mailpolicyd), or a directory there. The daemon used to bind its sockets first, then log an
// "uncaught exception" with a stack trace and go on answering without a pidfile and without "started":
// the init script could neither stop nor reload it, and a SIGHUP ended it. It must refuse to start instead.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { after, describe, it } from "node:test";
import { writeTestConfig } from "../helpers/daemon-process.ts";
import { mainCommand, ROOT } from "../helpers/runtime.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

describe("a pidfile that cannot be written (real daemon process)", () => {
  const dir = makeTempDir();
  after(() => dir.remove());

  it("refuses to start (exit 1), saying which file and why, and leaves no socket", () => {
    mkdirSync(dir.file("mailpolicyd.pid")); // the helper's pidfile path, a directory
    const config = writeTestConfig(dir, "");
    const [command, ...rest] = mainCommand(["run", "--config", config]);
    const run = spawnSync(command, rest, { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
    assert.equal(run.error, undefined, `still running: ${run.stderr}`);
    assert.equal(run.status, 1, run.stderr);
    assert.doesNotMatch(run.stderr, /uncaught exception/);
    assert.match(
      run.stderr,
      new RegExp(
        `error daemon: pidfile cannot be written: EISDIR[^;]*; not starting file=${
          dir.file("mailpolicyd.pid")
        }`,
      ),
    );
    assert.equal(existsSync(dir.file("policy.sock")), false, "the policy socket was bound");
  });
});
