// A state file that cannot be written (a full disk; here a directory put at its path, which fails each save
// at its rename as a full disk fails it after writing): the daemon keeps answering, says so once in its
// log, and `status` and /metrics show it until a save is written again. A postmaster restarting it then
// would lose every count since.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, rmdirSync, rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { controlRequest } from "../../src/cli/control-client.ts";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { mainCommand, ROOT } from "../helpers/runtime.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const rcpt = (n: number) =>
  `rcpt sender=s${n}@example.org recipient=x@example.net client_address=192.0.2.7\n`;

function status(config: string, ...args: string[]) {
  const [command, ...rest] = mainCommand(["status", ...args, "--config", config]);
  const result = spawnSync(command, rest, { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

describe("a state file that cannot be written", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;
  let config: string;
  before(async () => {
    dir = makeTempDir();
    config = writeTestConfig(dir, `[limit out]\nkey = sender\ncount = 100\ntime = 1h\n`);
    daemon = await startDaemonProcess(dir, config);
    assert.match(await askPolicy(daemon.policySocket, rcpt(0)), /^action=accept/);
    await daemon.waitForLog(/debug counters: state saved/);
  });
  after(async () => {
    await daemon?.stop();
    dir?.remove();
  });

  const failing = async () => {
    const metrics = await controlRequest(dir.file("control.sock"), "GET", "/metrics");
    return /^mailpolicyd_state_write_failing (\d)$/m.exec(metrics.body)?.[1];
  };

  it("is shown by status and /metrics while it lasts, and no longer once a save is written", async () => {
    assert.equal(await failing(), "0");
    assert.doesNotMatch(status(config), /state file/);
    rmSync(dir.file("state.json"));
    mkdirSync(dir.file("state.json"));
    for (let n = 1; n <= 3; n++) {
      assert.match(await askPolicy(daemon.policySocket, rcpt(n)), /^action=accept/, "still answering");
    }
    await daemon.waitForLog(/error counters: cannot write state file/);
    assert.match(
      status(config),
      /^state file: NOT WRITTEN since \d{4}-\d\d-\d\d [\d:]{8} \(.+; \d+ saves? failed\)/m,
    );
    assert.equal(JSON.parse(status(config, "--json")).stateWrites.failing, true);
    assert.equal(await failing(), "1");
    rmdirSync(dir.file("state.json")); // room again
    assert.match(await askPolicy(daemon.policySocket, rcpt(4)), /^action=accept/);
    await daemon.waitForLog(/info counters: state file written again .*failed_saves=\d+/);
    assert.doesNotMatch(status(config), /state file/);
    assert.equal(await failing(), "0");
    assert.equal(daemon.logs().match(/error counters: cannot write state file/g)?.length, 1, "one error");
  });
});
