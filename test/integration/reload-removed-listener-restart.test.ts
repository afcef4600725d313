// A listener that fails (its port taken by another program) and is restarted by the supervisor after a
// reload removed its section (real daemon process): the postmaster removed [postfix] and [spamd] to quiet
// them. The running listener keeps its section until the daemon restarts (docs/configuration.md), so the
// restarted one must too. It started with the reloaded config instead, found no section, and failed at once
// ("undefined is not an object (evaluating 'postfix.vocabulary')"), again and again while the daemon ran.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { type DaemonProcess, waitFor, writeTestConfig } from "../helpers/daemon-process.ts";
import { startWithListenersFailing } from "../helpers/failing-listeners.ts";
import { runMain } from "../helpers/runtime.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

describe("a listener restarted after a reload removed its section", () => {
  const dir = makeTempDir();
  let daemon: DaemonProcess | undefined;

  after(async () => {
    await daemon?.stop();
    dir.remove();
  });

  it("starts again with the section it had, and listens once its port is free", async () => {
    const started = await startWithListenersFailing(dir);
    const { file, postfix, spamd } = started;
    daemon = started.daemon;
    const running = daemon;

    writeTestConfig(dir, "");
    const mark = running.logs().length;
    assert.equal(runMain(["reload", "--config", file]).status, 0);
    await waitFor(() => running.logs().slice(mark).includes("config reloaded"), 10_000, "the reload");
    await postfix.release();
    await spamd.release();

    const since = () => running.logs().slice(mark);
    await waitFor(
      () => /postfix: listening/.test(since()) && /spamd: listening/.test(since()),
      20_000,
      `both listeners up on their ports:\n${since()}`,
    ).catch((error) => {
      throw new Error(`${error.message}\n${since()}`);
    });
    assert.match(since(), new RegExp(`postfix: listening .*tcp=127\\.0\\.0\\.1:${postfix.port}`));
    assert.match(since(), new RegExp(`spamd: listening tcp=127\\.0\\.0\\.1:${spamd.port}`));
    const status = runMain(["status", "--config", file]);
    assert.match(status.stdout, /postfix active/);
    assert.match(status.stdout, /spamd active/);
  });
});
