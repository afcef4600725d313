// A listener that fails (its port held by another program: [postfix]'s, [spamd]'s, the policy_listen the
// daemon started with) and is restarted by the supervisor after a reload changed its address (real daemon
// process). The reload logs that the new address "takes effect after a restart", meaning the daemon's:
// Postfix and Exim stay pointed at the old one until then. The restarted listener bound the reloaded address
// instead: it listened where the log said it would not, and not where the MTA looks, so mail went unchecked
// (Postfix's default_action, Exim's fallback). And the reload, arriving while the listener was down between
// its failure and its restart, must still say so: the line was the listener's own, and a listener that was
// down missed it, so the postmaster who changed the address read nothing.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, describe, it } from "node:test";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { accepts, startWithListenersFailing, takenPort } from "../helpers/failing-listeners.ts";
import { runMain } from "../helpers/runtime.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

const count = (text: string, line: string) => text.split(line).length - 1;

describe("a listener restarted after a reload changed its address", () => {
  const dir = makeTempDir();
  let daemon: DaemonProcess | undefined;

  after(async () => {
    await daemon?.stop();
    dir.remove();
  });

  it("binds the address the daemon started with, not the reloaded one", async () => {
    const started = await startWithListenersFailing(dir);
    const { postfix, spamd } = started;
    daemon = started.daemon;
    const running = daemon;

    const [newPostfix, newSpamd] = [await freePort(), await freePort()];
    writeTestConfig(
      dir,
      `[postfix]\nlisten = 127.0.0.1:${newPostfix}\n[spamd]\nlisten = 127.0.0.1:${newSpamd}\n`,
    );
    const mark = running.logs().length;
    const since = () => running.logs().slice(mark);
    running.signal("SIGHUP");
    await waitFor(() => since().includes("config reloaded"), 10_000, "the reload");
    const reloaded = since();
    assert.equal(
      count(
        reloaded,
        "postfix: listen, socket, milter_listen or milter_socket changed: takes effect after a restart",
      ),
      1,
      `the reload says the Postfix listener's new address waits for a restart, once\n${reloaded}`,
    );
    assert.equal(
      count(
        reloaded,
        "spamd: listen, socket, max_message_size, max_scans or timeout changed: takes effect after a restart",
      ),
      1,
      `the reload says the spamd front's new address waits for a restart, once\n${reloaded}`,
    );
    await postfix.release();
    await spamd.release();

    await waitFor(
      () => /postfix: listening/.test(since()) && /spamd: listening/.test(since()),
      20_000,
      "both listeners up",
    ).catch((error) => {
      throw new Error(`${error.message}\n${since()}`);
    });
    assert.match(since(), new RegExp(`postfix: listening .*tcp=127\\.0\\.0\\.1:${postfix.port}\\b`));
    assert.match(since(), new RegExp(`spamd: listening tcp=127\\.0\\.0\\.1:${spamd.port}\\b`));
    assert.equal(await accepts(postfix.port), true, "the Postfix listener on its start address");
    assert.equal(await accepts(spamd.port), true, "the spamd front on its start address");
    assert.equal(await accepts(newPostfix), false, "nothing on the reloaded [postfix] listen");
    assert.equal(await accepts(newSpamd), false, "nothing on the reloaded [spamd] listen");
  });

  it("binds the policy_listen the daemon started with, not the reloaded one", async () => {
    const policyDir = makeTempDir();
    const policy = await takenPort();
    const file = writeTestConfig(policyDir, `policy_listen = 127.0.0.1:${policy.port}\n`);
    // Resolves once the policy listener listens: not before the test lets its port go.
    const starting = startDaemonProcess(policyDir, file);
    try {
      // The control socket answers while the policy listener fails and is retried; once it is there the
      // daemon has read its config.
      await waitFor(() => existsSync(policyDir.file("control.sock")), 10_000, "the control socket");
      const newPolicy = await freePort();
      writeTestConfig(policyDir, `policy_listen = 127.0.0.1:${newPolicy}\n`);
      await waitFor(() => runMain(["reload", "--config", file]).status === 0, 10_000, "the reload");
      await policy.release();
      const policyDaemon = await starting;
      assert.equal(
        count(policyDaemon.logs(), "policy_listen changed: takes effect after a restart"),
        1,
        `the reload says the new policy_listen waits for a restart, once\n${policyDaemon.logs()}`,
      );
      assert.deepEqual(policyDaemon.policyAddress, { hostname: "127.0.0.1", port: policy.port });
      assert.match(policyDaemon.logs(), /daemon: config reloaded/);
      assert.equal(await accepts(policy.port), true, "the policy listener on its start address");
      assert.equal(await accepts(newPolicy), false, "nothing on the reloaded policy_listen");
    } finally {
      await (await starting.catch(() => undefined))?.stop();
      policyDir.remove();
    }
  });
});
