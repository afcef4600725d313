// A daemon killed (kill -9, an OOM kill) just after the relay took its alert: the "sent" record must already
// be in the journal, or the restarted daemon finds the alert still in its outbox and mails the postmaster a
// second time. The journal's timer writes every 200 ms; the kill comes within a few ms of the relay's 250.
// (A kill between the relay's 250 and the daemon reading it still sends the alert twice: at least once.)
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { type SmtpReceiver, startSmtpReceiver } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const rcpt = (sender: string) => `rcpt sender=${sender} recipient=x@example.net client_address=192.0.2.7\n`;

describe("a daemon killed just after its alert was delivered", () => {
  const dirs: TempDir[] = [];
  const daemons: DaemonProcess[] = [];
  let smtp: SmtpReceiver;
  before(async () => {
    smtp = await startSmtpReceiver();
  });
  after(async () => {
    await Promise.all(daemons.map((daemon) => daemon.stop("SIGKILL")));
    dirs.forEach((dir) => dir.remove());
    await smtp.close();
  });

  for (const round of [1, 2, 3, 4, 5]) {
    it(`does not send it again after the restart (round ${round})`, async () => {
      const dir = makeTempDir();
      dirs.push(dir);
      const config = writeTestConfig(
        dir,
        `[limit out]\nkey = sender\ncount = 1\ntime = 1h\naction = defer\n` +
          `[alerts]\nfromAddr = 'postmaster@example.org'\ntoAddr = 'boss@example.org'\n` +
          `smtp_host = 127.0.0.1\nsmtp_port = ${smtp.port}\nretry_min = 200ms\n`,
      );
      const sender = `delivered${round}@example.org`;
      const alerts = () => smtp.mails.filter((mail) => mail.body.includes(sender));
      const first = await startDaemonProcess(dir, config);
      daemons.push(first);
      assert.match(await askPolicy(first.policySocket, rcpt(sender)), /^action=accept/);
      assert.match(await askPolicy(first.policySocket, rcpt(sender)), /^action=defer/, "crossed");
      // Logged once the alert is out of the outbox: the kill comes within the log's 25 ms polling, well
      // within the journal's 200 ms (a snapshot due meanwhile writes the journal too: hence five rounds).
      await first.waitForLog(/alert mail sent/, 8_000);
      await first.stop("SIGKILL");
      assert.equal(alerts().length, 1, "the alert at the relay");
      const second = await startDaemonProcess(dir, config);
      daemons.push(second);
      assert.match(await askPolicy(second.policySocket, rcpt(sender)), /^action=defer/, "the count was kept");
      await new Promise((r) => setTimeout(r, 1_500)); // an alert offered again goes out within retry_min
      assert.equal(alerts().length, 1, "the alert, once");
    });
  }
});
