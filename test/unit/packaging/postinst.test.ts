// debian/mailpolicyd.postinst run with every command it calls replaced by a stub that logs its arguments,
// and the conffile's path by a file in a temp folder (nothing on this machine changes): what `configure`
// does to the conffile. The config may hold a Redis
// password ([redis] password); configuration.md promises the file is 0640 root:mailpolicyd, and dpkg
// installs it 0644 root:root. An admin's dpkg-statoverride for it wins.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { makeTempDir } from "../../helpers/temp-dir.ts";

const POSTINST = new URL("../../../debian/mailpolicyd.postinst", import.meta.url);
const dir = makeTempDir();
const CONF = dir.file("mailpolicyd.conf");
const COMMANDS = ["getent", "id", "adduser", "deluser", "install", "chown", "chmod", "dpkg-statoverride"];

/** Runs `postinst configure`; dpkg-statoverride --list answers `override` (nothing: exit 1). */
function configure(override?: string): string[] {
  const log = dir.file("calls.log");
  writeFileSync(log, "");
  for (const command of COMMANDS) {
    const stub = dir.file(command);
    const answer = command === "dpkg-statoverride"
      ? (override ? `echo '${override}'; exit 0` : "exit 1")
      : command === "getent"
      ? "echo 'mailpolicyd:x:999:999::/var/lib/mailpolicyd:/usr/sbin/nologin'"
      : "true";
    writeFileSync(stub, `#!/bin/sh\necho "${command} $*" >> '${log}'\n${answer}\n`);
    chmodSync(stub, 0o755);
  }
  writeFileSync(CONF, "[daemon]\n");
  const script = dir.file("postinst");
  writeFileSync(script, readFileSync(POSTINST, "utf8").replaceAll("/etc/mailpolicyd/mailpolicyd.conf", CONF));
  execFileSync("sh", [script, "configure", ""], {
    env: { PATH: `${dir.path}:/usr/bin:/bin` },
    stdio: "pipe",
  });
  return readFileSync(log, "utf8").trimEnd().split("\n");
}

describe("postinst configure", () => {
  after(() => dir.remove());

  it("makes the conffile 0640 root:mailpolicyd", () => {
    const calls = configure();
    assert.ok(calls.includes(`chown root:mailpolicyd ${CONF}`), calls.join("\n"));
    assert.ok(calls.includes(`chmod 0640 ${CONF}`), calls.join("\n"));
  });

  it("leaves it alone when the admin has a dpkg-statoverride for it", () => {
    const calls = configure(`root root 0644 ${CONF}`);
    assert.ok(
      !calls.some((call) => call.startsWith("chown ") || call.startsWith("chmod ")),
      calls.join("\n"),
    );
  });
});
