// `sendmail = PATH`: alerts go through a local binary run with an argument list, never a shell. The
// stand-in sendmail records its arguments and input; the sender address is full of shell syntax and
// must reach the mail verbatim without running anything. A sendmail that fails says why on its stderr: the
// real Exim's, which cannot write its spool, and the log must say what it said.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { startDaemonProcess, waitFor, writeTestConfig } from "../helpers/daemon-process.ts";
import { askMany } from "../helpers/policy-client.ts";
import { EXIM } from "../helpers/exim.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

describe("alert mail through sendmail (real daemon process)", () => {
  const dir = makeTempDir();
  after(() => dir.remove());

  it("passes recipients as arguments and the mail on stdin; shell syntax in the key stays inert", async () => {
    const sendmail = dir.file("sendmail");
    const record = dir.file("sendmail.out");
    const pwned = dir.file("pwned");
    writeFileSync(
      sendmail,
      `#!/bin/sh\nfor a in "$@"; do printf 'ARG %s\\n' "$a"; done > ${record}\ncat >> ${record}\n`,
    );
    chmodSync(sendmail, 0o755);
    const config = writeTestConfig(
      dir,
      `[thresholds]\ntime = 300\ncount = 1\n[alerts]\nfromAddr = pm@example.org\ntoAddr = boss@example.org\n` +
        `ccAddr = it@example.org\nsendmail = ${sendmail}\n`,
    );
    const daemon = await startDaemonProcess(dir, config);
    try {
      const key = `"$(touch${"${IFS}"}${pwned})";\`touch${"${IFS}"}${pwned}\`@example.org`;
      assert.deepEqual(await askMany(daemon.policySocket, `${key}\n`, 2), ["no", "yes"]);
      await waitFor(
        () => existsSync(record) && /Top client IPs/.test(readFileSync(record, "utf8")),
        10_000,
        "sendmail",
      );
      const output = readFileSync(record, "utf8");
      assert.match(output, /^ARG -f\nARG pm@example\.org\n/m);
      assert.match(output, /^ARG boss@example\.org$/m);
      assert.match(output, /^ARG it@example\.org$/m);
      // The key is longer than a 7bit line: it is continued on lines indented by two spaces.
      assert.ok(output.replace(/\n {2}/g, "").includes(`Who:         ${key.toLowerCase()}`), output);
      assert.equal(existsSync(pwned), false, "no shell ran the key");
      await daemon.waitForLog(/alert mail sent/);
    } finally {
      await daemon.stopCleanly();
    }
  });

  it("logs what a failing sendmail said: Exim that cannot use its spool", async () => {
    // The real Exim's sendmail on a config whose spool is no directory: as under a ProtectSystem=strict
    // unit without the drop-in (docs/debian.md), it takes no message, says why on stderr and exits 1.
    const eximDir = dir.file("exim");
    mkdirSync(eximDir, { recursive: true });
    writeFileSync(dir.file("exim/not-a-dir"), "");
    writeFileSync(
      dir.file("exim/exim.conf"),
      `spool_directory = ${dir.file("exim/not-a-dir/spool")}\nlog_file_path = syslog\nkeep_environment =\n` +
        `begin routers\nbegin transports\n`,
    );
    const sendmail = dir.file("exim-sendmail");
    writeFileSync(sendmail, `#!/bin/sh\nexec ${EXIM} -C ${dir.file("exim/exim.conf")} -odi "$@"\n`);
    chmodSync(sendmail, 0o755);
    const config = writeTestConfig(
      dir,
      `[thresholds]\ntime = 300\ncount = 1\n[alerts]\nfromAddr = pm@example.org\ntoAddr = boss@example.org\n` +
        `sendmail = ${sendmail}\nretry_min = 1m\n`,
    );
    const daemon = await startDaemonProcess(dir, config);
    try {
      assert.deepEqual(await askMany(daemon.policySocket, "someone@example.org\n", 2), ["no", "yes"]);
      await daemon.waitForLog(/alert mail failed, will retry/);
      const failed = daemon.logs().split("\n").find((line) => /alert mail failed, will retry/.test(line));
      assert.match(failed!, /Sendmail exited with code 1/);
      assert.match(
        failed!,
        /it said: [^"]*cannot accept message: failed to stat spool directory [^ ]*\/spool: /,
      );
    } finally {
      await daemon.stopCleanly();
    }
  });
});
