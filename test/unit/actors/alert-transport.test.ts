// The alert transport's sendmail path with a real child process: a sendmail that never exits (an msmtp stuck
// on its relay) is killed at the deadline and the attempt fails, to be retried, instead of holding the
// alerts' queue for good; one that takes the message and exits 0 delivers it.
import assert from "node:assert/strict";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { createAlertTransport } from "../../../src/actors/alert-transport.ts";
import { alertsConfig } from "../../helpers/alerts-config.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

const dir = makeTempDir();
after(() => dir.remove());

function sendmail(name: string, body: string): string {
  const path = dir.file(name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

const alertsWith = (path: string) => alertsConfig({ smtpTimeoutMs: 1000, sendmail: path });

const mail = {
  from: "postmaster@example.org",
  to: ["boss@example.org"],
  cc: [],
  subject: "s",
  text: "body\n",
};

describe("alert transport: sendmail", () => {
  it("kills a sendmail that runs past the deadline: the attempt fails, to be retried", async () => {
    const pidFile = dir.file("hung.pid");
    const hung = sendmail("hung-sendmail", `echo $$ > ${pidFile}\ncat > /dev/null\nexec sleep 600`);
    const send = createAlertTransport(alertsWith(hung), { sendmailDeadlineMs: 300 });
    const began = performance.now();
    await assert.rejects(send(mail), /terminated by SIGKILL/);
    assert.ok(performance.now() - began < 10_000, "ended by the deadline, not by sleep");
    const pid = Number(readFileSync(pidFile, "utf8"));
    assert.ok(!existsSync(`/proc/${pid}`), `the stuck sendmail (pid ${pid}) is gone`);
  });

  it("delivers through a sendmail that takes the message and exits 0", async () => {
    const out = dir.file("taken.eml");
    const good = sendmail("good-sendmail", `cat > ${out}`);
    await createAlertTransport(alertsWith(good), { sendmailDeadlineMs: 5000 })(mail);
    assert.match(readFileSync(out, "utf8"), /^Subject: s$/m);
  });
});
