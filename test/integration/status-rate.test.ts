// `mailpolicyd status` during a burst: 39 requests in the last minute read 39.0/min (it said 0.0/min until
// the minute was over), and the control API's /status, which the dashboard's header shows, says the same.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { askMany } from "../helpers/policy-client.ts";
import { runMain } from "../helpers/runtime.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const SLOW = { timeout: 60_000 };

describe("request rates in status (real daemon process)", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;
  let config: string;
  const status = (...args: string[]) => runMain(["status", "--config", config, ...args]);

  before(async () => {
    dir = makeTempDir();
    config = writeTestConfig(dir, "[limit out]\nkey = sender\ncount = 100\ntime = 1h\n");
    daemon = await startDaemonProcess(dir, config);
  }, SLOW);
  after(async () => {
    await daemon?.stop();
    dir?.remove();
  });

  it("counts a burst of 39 requests in the last minute as 39/min", SLOW, async () => {
    await askMany(daemon.policySocket, "rcpt sender=burst@example.org recipient=x@example.net\n", 39);
    const json = status("--json");
    assert.equal(json.status, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout).rates, { lastMinute: 39, last5Minutes: 39 });
    const text = status();
    assert.equal(text.status, 0, text.stderr);
    assert.match(
      text.stdout,
      /^requests: 39 \(accept 39\); 39\.0\/min last minute, 39\.0\/min last 5 minutes$/m,
    );
  });
});
