// An alert the relay took for some recipients and deferred for another (452 at RCPT TO), then a restart of
// the daemon (real daemon process, real SMTP receiver): the restarted daemon must send it to the deferred
// recipient only. Before, the outbox kept only the notice, and the restart sent it again to every recipient.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { askMany } from "../helpers/policy-client.ts";
import { type SmtpReceiver, startSmtpReceiver } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const RECIPIENTS = ["abuse@example.org", "boss@example.org", "it@example.org"];

const alertsSection = (port: number) =>
  `[thresholds]\ntime = 1h\ncount = 1\n[alerts]\nfromAddr = 'postmaster@example.org'\n` +
  `toAddr = 'boss@example.org'\nccAddr = 'it@example.org, abuse@example.org'\n` +
  `smtp_host = 127.0.0.1\nsmtp_port = ${port}\nsmtp_timeout = 2s\nretry_min = 200ms\nretry_max = 1s\n`;

/** How many copies of the alert each recipient got (the envelope recipients of every mail taken). */
const copies = (smtp: SmtpReceiver) =>
  Object.fromEntries(RECIPIENTS.map((to) => [to, smtp.mails.filter((mail) => mail.to.includes(to)).length]));

describe("an alert partly delivered, then the daemon restarted", () => {
  const dirs: TempDir[] = [];
  const daemons: DaemonProcess[] = [];
  let bossOverQuota = true;
  let smtp: SmtpReceiver;
  before(async () => {
    smtp = await startSmtpReceiver(0, {
      refuseRecipient: (address) => address === "boss@example.org" && bossOverQuota ? 452 : undefined,
    });
  });
  after(async () => {
    await Promise.all(daemons.map((daemon) => daemon.stop("SIGKILL")));
    await smtp.close();
    dirs.forEach((dir) => dir.remove());
  });

  for (const stop of ["SIGTERM", "SIGKILL"] as const) {
    it(`goes after a ${stop} only to the recipient the relay deferred`, { timeout: 60_000 }, async () => {
      bossOverQuota = true;
      smtp.mails.length = 0;
      const dir = makeTempDir();
      dirs.push(dir);
      const config = writeTestConfig(dir, alertsSection(smtp.port));
      const first = await startDaemonProcess(dir, config);
      daemons.push(first);
      await askMany(first.policySocket, "spammer@example.org\n", 2);
      // A second attempt deferred too: the first one's recipients are in the outbox (and the journal) by
      // then, as the alerter told the counters actor before it armed the retry's timer.
      await first.waitForLog(
        /alert mail failed, will retry key=spammer@example\.org .*attempt=2 /,
      );
      assert.deepEqual(copies(smtp), { "abuse@example.org": 1, "boss@example.org": 0, "it@example.org": 1 });
      if (stop === "SIGTERM") await first.stopCleanly();
      else await first.stop("SIGKILL");

      bossOverQuota = false;
      const second = await startDaemonProcess(dir, config);
      daemons.push(second);
      await waitFor(() => copies(smtp)["boss@example.org"] >= 1, 15_000, "the alert to boss@");
      // Before: the restart's mail went to all three, it@ and abuse@ had it twice.
      assert.deepEqual(copies(smtp), { "abuse@example.org": 1, "boss@example.org": 1, "it@example.org": 1 });
      const last = smtp.mails[smtp.mails.length - 1];
      assert.match(last.body, /Who:\s+spammer@example\.org/);
      assert.equal(last.headers.to, "boss@example.org", "the headers are the alert's");
      assert.match(last.headers.cc, /it@example\.org, abuse@example\.org/);
      await second.waitForLog(/alert mail sent key=spammer@example\.org .*to=boss@example\.org\b/);
    });
  }
});
