// The alert transport's sendmail path with a real child process: a sendmail that never exits (an msmtp stuck
// on its relay) is killed at the deadline and the attempt fails, to be retried, instead of holding the
// alerts' queue for good; one that takes the message and exits 0 delivers it, also when it writes more than
// a pipe holds first; one that fails has what it said on stderr in the error.
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

  it("delivers through a sendmail that writes more than a pipe holds before it reads the message", async () => {
    const out = dir.file("chatty.eml");
    // 256 KB to each of stdout and stderr: unread, the program blocks in its first write for good.
    const chatty = sendmail(
      "chatty-sendmail",
      `head -c 262144 /dev/zero | tr '\\0' o\nhead -c 262144 /dev/zero | tr '\\0' e >&2\ncat > ${out}`,
    );
    await createAlertTransport(alertsWith(chatty), { sendmailDeadlineMs: 30_000 })(mail);
    assert.match(readFileSync(out, "utf8"), /^Subject: s$/m);
  });

  it("says what a failing sendmail wrote to stderr, its lines joined, within 1000 characters", async () => {
    const failing = sendmail(
      "failing-sendmail",
      `cat > /dev/null\necho 'sendmail: fatal: no such queue' >&2\necho >&2\n` +
        `echo '  second line' >&2\nhead -c 5000 /dev/zero | tr '\\0' x >&2\nexit 75`,
    );
    const error = await createAlertTransport(alertsWith(failing))(mail).then(
      () => assert.fail("delivered"),
      (error: Error) => error,
    );
    assert.match(
      error.message,
      /^Sendmail exited with code 75; it said: sendmail: fatal: no such queue; second line; x+…$/,
    );
    assert.equal(error.message.length, "Sendmail exited with code 75; it said: ".length + 1000 + 1);
  });
});
