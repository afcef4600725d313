// A listener that fails (its port taken by another program) and is restarted by the supervisor after a
// reload removed its section (real daemon process): the postmaster removed [postfix] and [spamd] to quiet
// them. The running listener keeps its section until the daemon restarts (docs/configuration.md), so the
// restarted one must too. It started with the reloaded config instead, found no section, and failed at once
// ("undefined is not an object (evaluating 'postfix.vocabulary')"), again and again while the daemon ran.
import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { runMain } from "../helpers/runtime.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

/** A port some other program holds: the listener cannot bind it until the test lets it go. */
async function takenPort(): Promise<{ port: number; release(): Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    release: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe("a listener restarted after a reload removed its section", () => {
  const dir = makeTempDir();
  let daemon: DaemonProcess | undefined;

  after(async () => {
    await daemon?.stop();
    dir.remove();
  });

  it("starts again with the section it had, and listens once its port is free", async () => {
    const postfix = await takenPort();
    const spamd = await takenPort();
    const file = writeTestConfig(
      dir,
      `[postfix]\nlisten = 127.0.0.1:${postfix.port}\n[spamd]\nlisten = 127.0.0.1:${spamd.port}\n`,
    );
    daemon = await startDaemonProcess(dir, file);
    const running = daemon;
    await running.waitForLog(/actor failed, restarting actor=postfix/);
    await running.waitForLog(/actor failed, restarting actor=spamd/);

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
