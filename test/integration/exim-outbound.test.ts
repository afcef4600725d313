// Outbound limits through a real Exim running the shipped plain snippet: the sender's N+1th message is
// deferred at RCPT with the configured message, exactly one alert mail reaches a real SMTP receiver and
// lists the subjects seen at DATA; per-recipient counting; exemptions.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { countReplies, eximBh, message, prepareEximDir, writeEximConfig } from "../helpers/exim.ts";
import { type SmtpReceiver, startSmtpReceiver } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

describe("outbound limits in a real Exim (plain snippet, exim -bh)", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;
  let smtp: SmtpReceiver;
  let exim: string;

  before(async () => {
    dir = makeTempDir();
    prepareEximDir(dir);
    smtp = await startSmtpReceiver();
    daemon = await startDaemonProcess(
      dir,
      writeTestConfig(
        dir,
        `socket_group = Debian-exim\n` +
          `[limit outbound]\nkey = sender\ncount = 3\ntime = 1h\n` +
          `message = {key} sent too much: {count} messages in {window}\nexempt = boss@example.org, @trusted.example, 192.0.2.200/30\n` +
          `[limit fanout]\nkey = sender\nper = recipient\ncount = 5\ntime = 1h\naction = reject\nalert = no\n` +
          `[alerts]\nfromAddr = mailpolicyd@example.net\ntoAddr = postmaster@example.net\nsmtp_port = ${smtp.port}\nretry_min = 200ms\n`,
      ),
    );
    exim = writeEximConfig(dir, { address: daemon.eximAddress });
  });
  after(async () => {
    await daemon.stopCleanly();
    await smtp.close();
    dir.remove();
  });

  it("defers the 4th message at RCPT with the configured message and mails one alert with the subjects", async () => {
    const session = eximBh(exim, "192.0.2.10", [
      "EHLO client.example",
      ...message("alice@example.org", ["a@remote.example"], ["Subject: quarterly report"]),
      ...message("alice@example.org", ["b@remote.example"], ["Subject: quarterly report"]),
      ...message("alice@example.org", ["c@remote.example"], ["Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?="]),
      "MAIL FROM:<alice@example.org>",
      "RCPT TO:<d@remote.example>",
      "QUIT",
    ]);
    assert.equal(countReplies(session, "250 OK id="), 3, session.output);
    assert.deepEqual(session.replies.filter((reply) => reply.startsWith("451")), [
      "451 alice@example.org sent too much: 3 messages in 1h",
    ]);
    assert.ok(
      session.log.some((line) =>
        /temporarily rejected RCPT <d@remote.example>: mailpolicyd: deferred by rule outbound: 3\/3/.test(
          line,
        )
      ),
    );

    await waitFor(() => smtp.mails.length >= 1, 10_000, "the alert mail");
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(smtp.mails.length, 1);
    const body = smtp.mails[0].body;
    assert.match(body, /Who:\s+alice@example\.org/);
    assert.match(body, /Rule:\s+outbound \(per sender\)/);
    assert.match(body, /How many:\s+3 messages in 1h, limit 3$/m);
    assert.match(body, /^\s+2\s+quarterly report$/m);
    assert.match(body, /^\s+1\s+Gr\\u\{fc\}\\u\{df\}e$/m, "non-ASCII escaped: the body stays 7bit");
    assert.match(body, /^\s+\d+\s+192\.0\.2\.10$/m);
  });

  it("counts a message once however many recipients it has, and per recipient where asked", () => {
    const session = eximBh(exim, "192.0.2.11", [
      "EHLO client.example",
      ...message("bob@example.org", ["1@remote.example", "2@remote.example", "3@remote.example"]),
      ...message("bob@example.org", ["4@remote.example", "5@remote.example", "6@remote.example"]),
      "QUIT",
    ]);
    // outbound (per message, 3): 2 messages are fine. fanout (per recipient, 5, reject): the 6th is over.
    assert.equal(countReplies(session, "250 Accepted"), 5, session.output);
    assert.deepEqual(session.replies.filter((reply) => /^5\d\d/.test(reply)), [
      "550 bob@example.org over limit: 5 recipients in 1h (limit 5)",
    ]);
    assert.equal(countReplies(session, "250 OK id="), 2);
  });

  it("does not limit exempt senders, domains and networks", () => {
    for (
      const [from, ip] of [["boss@example.org", "192.0.2.12"], ["x@trusted.example", "192.0.2.13"], [
        "y@example.org",
        "192.0.2.201",
      ]]
    ) {
      const session = eximBh(exim, ip, [
        "EHLO client.example",
        ...Array.from({ length: 5 }, (_, i) => message(from, [`r${i}@remote.example`])).flat(),
        "QUIT",
      ]);
      assert.equal(countReplies(session, "250 OK id="), 5, `${from} from ${ip}: ${session.output}`);
    }
  });
});
