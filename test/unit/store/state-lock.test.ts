import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { after, describe, it } from "node:test";
import { parseProcessStat } from "../../../src/store/lock-holder.ts";
import { lockStateFile } from "../../../src/store/state-lock.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

const startedOf = (pid: number) => parseProcessStat(readFileSync(`/proc/${pid}/stat`, "utf8"))!.started;

describe("the state file's lock", () => {
  const dir = makeTempDir();
  const sleeper = spawn("sleep", ["300"], { stdio: "ignore" });
  after(() => {
    sleeper.kill("SIGKILL");
    dir.remove();
  });
  const stateFile = dir.file("state.json");
  const lockFile = dir.file("state.json.lock");

  it("is taken when free, names this process, and goes at release", () => {
    const taken = lockStateFile(stateFile);
    assert.ok(taken.ok);
    assert.equal(readFileSync(lockFile, "utf8"), `${process.pid}\n${startedOf(process.pid)}\n`);
    taken.lock.release();
    assert.equal(existsSync(lockFile), false);
    assert.deepEqual(readdirSync(dir.path), [], "no file left beside it");
  });

  it("is refused while a live process that started when the lock says holds it", () => {
    writeFileSync(lockFile, `${sleeper.pid}\n${startedOf(sleeper.pid!)}\n`);
    const taken = lockStateFile(stateFile);
    assert.deepEqual(taken, {
      ok: false,
      path: lockFile,
      holder: { pid: sleeper.pid, started: startedOf(sleeper.pid!) },
    });
    assert.equal(
      readFileSync(lockFile, "utf8"),
      `${sleeper.pid}\n${startedOf(sleeper.pid!)}\n`,
      "left alone",
    );
  });

  for (
    const [what, text] of [
      ["its PID now another process's", () => `${sleeper.pid}\n${startedOf(sleeper.pid!) + 1}\n`],
      ["this very process's (a re-exec, or a PID namespace's PID given again)", () => `${process.pid}\n1\n`],
      ["not a lock's text", () => "garbage"],
    ] as const
  ) {
    it(`is taken over when the lock is ${what}`, () => {
      writeFileSync(lockFile, text());
      const taken = lockStateFile(stateFile);
      assert.ok(taken.ok);
      assert.equal(readFileSync(lockFile, "utf8"), `${process.pid}\n${startedOf(process.pid)}\n`);
      taken.lock.release();
      assert.deepEqual(readdirSync(dir.path), []);
    });
  }

  it("a release leaves a lock that another daemon took over since", () => {
    const taken = lockStateFile(stateFile);
    assert.ok(taken.ok);
    writeFileSync(lockFile, `${sleeper.pid}\n${startedOf(sleeper.pid!)}\n`);
    taken.lock.release();
    assert.equal(readFileSync(lockFile, "utf8"), `${sleeper.pid}\n${startedOf(sleeper.pid!)}\n`);
  });

  // A full disk has no room for the lock's text as a file: a daemon started there makes the lock a symbolic
  // link to it, which the next start must read, not take for a lock released meanwhile.
  it("made on a full disk (a symbolic link to its text) is refused while its holder lives, then taken over", () => {
    rmSync(lockFile, { force: true }); // the test before leaves one
    symlinkSync(`${sleeper.pid}\n${startedOf(sleeper.pid!)}\n`, lockFile);
    const refused = lockStateFile(stateFile);
    assert.deepEqual(refused, {
      ok: false,
      path: lockFile,
      holder: { pid: sleeper.pid, started: startedOf(sleeper.pid!) },
    });
    unlinkSync(lockFile);
    symlinkSync(`${sleeper.pid}\n${startedOf(sleeper.pid!) + 1}\n`, lockFile); // its PID now another's
    const taken = lockStateFile(stateFile);
    assert.ok(taken.ok, JSON.stringify(taken));
    assert.equal(readFileSync(lockFile, "utf8"), `${process.pid}\n${startedOf(process.pid)}\n`);
    taken.lock.release();
    assert.deepEqual(readdirSync(dir.path), []);
  });

  it("says why when no lock file can be made", () => {
    const taken = lockStateFile(dir.file("missing/state.json"));
    assert.equal(taken.ok, false);
    assert.match(!taken.ok && taken.error || "", /^cannot make its lock file: ENOENT/);
  });
});
