// The daemon as a real Postfix meets it: a child process, stopped and started by PID while Postfix's smtpd
// keeps its policy connection (docs/postfix.md, "Fail-open, fail-closed"). A message whose recipients
// straddle a restart is counted once by a `per = message` limit, also when its later recipient is asked
// about before the restore of the saved counters is done. Within one SMTP session smtpd does not apply
// max_idle: a connection the daemon closed after idle_timeout costs the next request Postfix's retry delay.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { pastedSnippet, type PostfixServer, startPostfix } from "../helpers/postfix.ts";
import { openSmtpSession } from "../helpers/smtp-session.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

// Enough saved keys that their restore outlasts Postfix's retry after the restart (1 s): the daemon
// answers while it restores.
const BULK_KEYS = 800_000;

/** Postfix with the snippet's lines for `policyPort`, its max_idle from `idleSeconds` as the CLI does. */
const postfixFor = async (dir: TempDir, policyPort: number, idleSeconds?: number) =>
  await startPostfix(dir, await freePort(), {
    recipientRestrictions: "",
    mainExtra: pastedSnippet(`inet:127.0.0.1:${policyPort}`, false, { idleSeconds }),
  });

function writeBulkState(file: string): void {
  const now = Date.now();
  const rows: string[] = [];
  for (let i = 0; i < BULK_KEYS; i++) rows.push(`["bulk${i}@bulk.test",${now},1,${now},0]`);
  writeFileSync(
    file,
    `{"format":"mailpolicyd-state","version":1,"savedAt":${now},"limits":{"msgs":[${
      rows.join(",")
    }]},"outbox":[]}`,
  );
}

describe("a real Postfix across a daemon restart", () => {
  let dir: TempDir;
  let config: string;
  let daemon: DaemonProcess | undefined;
  let postfix: PostfixServer | undefined;

  before(async () => {
    dir = makeTempDir();
    const policyPort = await freePort();
    config = writeTestConfig(
      dir,
      `[limit msgs]\nkey = sender\nper = message\ncount = 2\ntime = 1h\naction = defer\n` +
        `[postfix]\nlisten = 127.0.0.1:${policyPort}\n`,
    );
    writeBulkState(dir.file("state.json"));
    daemon = await startDaemonProcess(dir, config);
    await daemon.waitForLog(/state restored/, 60_000);
    postfix = await postfixFor(dir, policyPort);
  });
  after(async () => {
    await postfix?.stop();
    await daemon?.stop("SIGKILL");
    dir?.remove();
  });

  const failure = () => `maillog:\n${postfix!.maillog()}\ndaemon:\n${daemon?.logs()}`;

  it("per = message counts a message once when its recipients straddle a restart", async () => {
    const session = await openSmtpSession(postfix!.port, "127.0.0.1", 60_000);
    try {
      await session.send("EHLO client.example");
      assert.match(await session.send("MAIL FROM:<straddle@sender.test>"), /^250/);
      assert.match(await session.send("RCPT TO:<one@example.test>"), /^250/, failure());
      await daemon!.stopCleanly("SIGTERM");
      daemon = await startDaemonProcess(dir, config);
      await daemon.waitForLog(/postfix: listening/);
      // Postfix finds its connection closed, waits its retry delay, and asks on a new one.
      assert.match(await session.send("RCPT TO:<two@example.test>"), /^250/, failure());
      assert.doesNotMatch(daemon.logs(), /state restored/, "the restore was over before the question");
      assert.match(await session.send("DATA"), /^354/);
      assert.match(await session.sendData("Subject: straddle\n\nbody\n"), /^250/, failure());
      await session.send("QUIT");
    } finally {
      session.close();
    }
    await daemon!.waitForLog(/state restored/, 60_000);
    // One message counted of 2: the second is let through; the third is over the limit.
    const second = await openSmtpSession(postfix!.port);
    try {
      await second.send("EHLO client.example");
      await second.send("MAIL FROM:<straddle@sender.test>");
      assert.match(await second.send("RCPT TO:<three@example.test>"), /^250/, failure());
      await second.send("RSET");
      await second.send("MAIL FROM:<straddle@sender.test>");
      assert.match(await second.send("RCPT TO:<four@example.test>"), /^450 4\.7\.1/, failure());
      await second.send("QUIT");
    } finally {
      second.close();
    }
    await waitFor(() => postfix!.delivered().length === 2, 15_000, "the straddling message, to both");
  });
});

describe("a real Postfix with a connection idle past idle_timeout within one SMTP session", () => {
  let dir: TempDir;
  let daemon: DaemonProcess | undefined;
  let postfix: PostfixServer | undefined;

  before(async () => {
    dir = makeTempDir();
    const policyPort = await freePort();
    const config = writeTestConfig(dir, `[postfix]\nlisten = 127.0.0.1:${policyPort}\nidle_timeout = 2s\n`);
    daemon = await startDaemonProcess(dir, config);
    await daemon.waitForLog(/postfix: listening/);
    postfix = await postfixFor(dir, policyPort, 2); // max_idle=2s, as `postfix-snippet` prints it
  });
  after(async () => {
    await postfix?.stop();
    await daemon?.stop("SIGKILL");
    dir?.remove();
  });

  it("the daemon closes it first; the next request waits Postfix's retry delay, and passes", async () => {
    const session = await openSmtpSession(postfix!.port);
    try {
      await session.send("EHLO client.example");
      await session.send("MAIL FROM:<slow@sender.test>");
      assert.match(await session.send("RCPT TO:<one@example.test>"), /^250/);
      await daemon!.waitForLog(/recipient=one@example.test/);
      await new Promise((resolve) => setTimeout(resolve, 3000)); // past idle_timeout and max_idle
      const asked = Date.now();
      assert.match(await session.send("RCPT TO:<two@example.test>"), /^250/);
      const waited = Date.now() - asked;
      assert.ok(
        waited >= 900,
        `Postfix did not wait its retry delay (${waited} ms): docs/postfix.md is wrong`,
      );
      await daemon!.waitForLog(/recipient=two@example.test/);
      await session.send("QUIT");
    } finally {
      session.close();
    }
  });
});
