// The files the daemon trusts, tried as a careless admin leaves them: durations past what timers take, a
// FIFO as the config, a FIFO or a directory at the state path.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { writeTestConfig } from "../helpers/daemon-process.ts";
import { mainCommand, ROOT } from "../helpers/runtime.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

function cli(args: string[], timeout = 20_000) {
  const [command, ...rest] = mainCommand(args);
  const result = spawnSync(command, rest, { cwd: ROOT, encoding: "utf8", timeout });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, error: result.error };
}

describe("config and state files (real daemon process)", () => {
  const dirs: TempDir[] = [];
  const fresh = () => {
    const dir = makeTempDir();
    dirs.push(dir);
    return dir;
  };
  after(() => dirs.forEach((dir) => dir.remove()));

  it("config-test and run refuse durations over their maximum (25d would fire every millisecond)", () => {
    const dir = fresh();
    const config = writeTestConfig(
      dir,
      "[alerts]\nfromAddr = a@example.org\ntoAddr = b@example.org\nretry_min = 25d\n",
    );
    writeFileSync(
      config,
      readFileSync(config, "utf8").replace("state_interval = 200ms", "state_interval = 25d"),
    );
    const test = cli(["config-test", config]);
    assert.equal(test.status, 1);
    assert.match(test.stdout, /:7: daemon\.state_interval: must be at most 1h\n/);
    assert.match(test.stdout, /:12: alerts\.retry_min: must be at most 1d\n/);
    const run = cli(["run", "--config", config]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /state_interval: must be at most 1h/);
  });

  it("config-test names a FIFO given as the config and returns at once instead of hanging", () => {
    const dir = fresh();
    execFileSync("mkfifo", [dir.file("fifo.conf")]);
    const test = cli(["config-test", dir.file("fifo.conf")], 10_000);
    assert.equal(test.error, undefined, "returned before the timeout");
    assert.equal(test.status, 1);
    assert.equal(
      test.stdout,
      `${dir.file("fifo.conf")}:0: (file): cannot read: is a FIFO (named pipe), not a regular file\n`,
    );
    const directory = cli(["config-test", dir.path]);
    assert.match(directory.stdout, /:0: \(file\): cannot read: is a directory, not a regular file\n/);
  });

  for (
    const [what, make] of [
      ["a FIFO", (path: string) => execFileSync("mkfifo", [path])],
      ["a directory", (path: string) => mkdirSync(path)],
    ] as const
  ) {
    it(`refuses to start with ${what} at the state path, saying which file and why`, () => {
      const dir = fresh();
      const config = writeTestConfig(dir, "");
      make(dir.file("state.json"));
      const run = cli(["run", "--config", config], 10_000);
      assert.equal(run.error, undefined, "returned before the timeout");
      assert.equal(run.status, 1);
      assert.match(
        run.stderr,
        new RegExp(
          `error daemon: state_file is ${what}[^;]*, not a regular file; not starting file=${
            dir.file("state.json")
          }`,
        ),
      );
    });
  }
});
