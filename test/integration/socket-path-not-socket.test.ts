// A socket path where something other than a socket lies (a config typo: control_socket naming the state
// file, a log, a conffile). A socket left by a daemon that died is removed at start; a regular file there is
// not the daemon's to remove, and was deleted without a word.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

describe("a control_socket path that holds a regular file (real daemon process)", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;
  const precious = "a postmaster's notes\n";

  before(async () => {
    dir = makeTempDir();
    writeFileSync(dir.file("notes.txt"), precious);
    const config = writeTestConfig(dir, "[thresholds]\ntime = 300\ncount = 5\n");
    // The helper's control_socket line is replaced: the last one given would be a repeated key.
    writeFileSync(
      config,
      readFileSync(config, "utf8").replace(
        /^control_socket = .*$/m,
        `control_socket = ${dir.file("notes.txt")}`,
      ),
    );
    daemon = await startDaemonProcess(dir, config);
  });
  after(async () => {
    await daemon?.stop();
    dir?.remove();
  });

  it("is left as it is, the error says why, and mail is still answered", async () => {
    await daemon.waitForLog(/notes\.txt/);
    assert.equal(readFileSync(dir.file("notes.txt"), "utf8"), precious, daemon.logs());
    assert.match(daemon.logs(), /notes\.txt is a regular file, not a socket/);
    assert.equal(await askPolicy(daemon.policySocket, "alice@example.org\n"), "no");
  });
});
