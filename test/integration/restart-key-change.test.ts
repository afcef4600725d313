// A restart with a limit's `key` changed starts that limit afresh, as a reload does (limits/memory-store.ts):
// the state file records each limit's key (store/state-file.ts, limitKeys), and the restore drops the rows
// of a limit whose key changed (actors/state-restore.ts). Before, the state file named limits only, and
// the old counts came back under the new key: with key = sender changed to key = recipient, alice@, who
// had sent 3 of 3 before the restart, had the first message addressed to her deferred after it. Other
// changes (here the algorithm) keep the counts across a restart, as across a reload.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

const rcpt = (sender: string, recipient: string) =>
  `rcpt sender=${sender} recipient=${recipient} client_address=192.0.2.7 instance=${crypto.randomUUID()}\n`;

const limit = (key: string, algorithm = "fixed") =>
  `[limit per_address]\nkey = ${key}\ncount = 3\ntime = 1h\naction = defer\nalert = no\nalgorithm = ${algorithm}\n`;

describe("a restart that changes a limit's key (real daemon process)", () => {
  const dirs = [makeTempDir(), makeTempDir(), makeTempDir()];
  after(() => dirs.forEach((dir) => dir.remove()));

  for (const [round, stop] of (["SIGTERM", "SIGKILL"] as const).entries()) {
    it(`key = sender changed to recipient (${stop}): the limit counts afresh, and says so`, async () => {
      const dir = dirs[round];
      const config = writeTestConfig(dir, limit("sender"));
      let daemon = await startDaemonProcess(dir, config);
      for (let i = 0; i < 3; i++) {
        assert.match(
          await askPolicy(daemon.policySocket, rcpt("alice@example.org", `f${i}@example.net`)),
          /^action=accept/,
        );
      }
      assert.match(
        await askPolicy(daemon.policySocket, rcpt("alice@example.org", "f3@example.net")),
        /^action=defer/,
        "alice@ sent 3 of 3",
      );
      if (stop === "SIGTERM") await daemon.stopCleanly();
      else {
        await new Promise((resolve) => setTimeout(resolve, 600)); // journal every 200 ms, state_interval 200ms
        await daemon.stop("SIGKILL");
      }

      writeTestConfig(dir, limit("recipient"));
      daemon = await startDaemonProcess(dir, config);
      try {
        await daemon.waitForLog(/state restored/);
        assert.match(
          await askPolicy(daemon.policySocket, rcpt("bob@example.net", "alice@example.org")),
          /^action=accept/,
          "mail to alice@ is not counted by what she sent",
        );
        assert.match(daemon.logs(), /state restored keys=0 /);
        assert.match(
          daemon.logs(),
          /warn counters: limit key changed since the state was saved: its counters start afresh rule=per_address from=sender to=recipient dropped=1/,
        );
        await daemon.stopCleanly();
      } finally {
        await daemon.stop("SIGKILL");
      }

      // The next start's state file names the new key: nothing more is dropped, the count goes on.
      daemon = await startDaemonProcess(dir, config);
      try {
        await daemon.waitForLog(/state restored keys=1 /);
        assert.doesNotMatch(daemon.logs(), /limit key changed/);
      } finally {
        await daemon.stop();
      }
    });
  }

  it("algorithm fixed changed to sliding: the counts are kept, as a reload keeps them", async () => {
    const dir = dirs[2];
    const config = writeTestConfig(dir, limit("sender"));
    let daemon = await startDaemonProcess(dir, config);
    for (let i = 0; i < 3; i++) {
      await askPolicy(daemon.policySocket, rcpt("carol@example.org", `f${i}@example.net`));
    }
    await daemon.stopCleanly();
    writeTestConfig(dir, limit("sender", "sliding"));
    daemon = await startDaemonProcess(dir, config);
    try {
      await daemon.waitForLog(/state restored keys=1 /);
      assert.match(
        await askPolicy(daemon.policySocket, rcpt("carol@example.org", "f3@example.net")),
        /^action=defer/,
        "carol@ sent 3 of 3 before the restart",
      );
      assert.doesNotMatch(daemon.logs(), /limit key changed/);
    } finally {
      await daemon.stop();
    }
  });
});
