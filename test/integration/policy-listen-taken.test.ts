// A policy_listen port another program holds (an old sender_warn daemon still running, a second config on
// the same port) or one the daemon's user may not bind: the listener fails and is retried, and its log line
// must say which address and why. Under Bun it said only "Failed to listen at 127.0.0.1".
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { waitFor, writeTestConfig } from "../helpers/daemon-process.ts";
import { mainCommand } from "../helpers/runtime.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

describe("a policy_listen port held by another program (real daemon process)", () => {
  let dir: TempDir;
  let daemon: ChildProcess;
  let holder: net.Server;
  let port: number;
  let logs = "";

  before(async () => {
    dir = makeTempDir();
    holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen({ host: "127.0.0.1", port: 0 }, resolve));
    port = (holder.address() as net.AddressInfo).port;
    const config = writeTestConfig(dir, `policy_listen = 127.0.0.1:${port}\n[thresholds]\ncount = 5\n`);
    const [command, ...rest] = mainCommand(["run", "--config", config]);
    daemon = spawn(command, rest, { stdio: ["ignore", "ignore", "pipe"] });
    daemon.stderr!.on("data", (chunk) => logs += chunk);
  });
  after(async () => {
    if (daemon?.exitCode === null) {
      const exited = new Promise((resolve) => daemon.once("exit", resolve));
      process.kill(daemon.pid!, "SIGTERM");
      await exited;
    }
    await new Promise((resolve) => holder?.close(resolve));
    dir?.remove();
  });

  it("logs the address and the reason", async () => {
    const failed = /actor failed, restarting actor=policy .*\n/;
    await waitFor(() => failed.test(logs), 15_000, "the policy listener's failure");
    const line = failed.exec(logs)![0];
    assert.ok(line.includes(`127.0.0.1:${port}`), logs);
    assert.match(line, /EADDRINUSE: address already in use/);
  });
});
