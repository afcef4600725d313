// Alert mail against relays that do not simply take it (real daemon process, real SMTP receiver): one that
// defers or refuses one of the alert's recipients at RCPT TO while taking the others, and one that announces
// STARTTLS but cannot start it. Every recipient must get the alert, and get it once, or the log must say who
// did not. And one that never answers MAIL FROM: the attempt ends, saying where, and is retried. One that
// drops the connection after the message, before answering it: sent again (at least once), saying so.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createAlertTransport } from "../../src/actors/alert-transport.ts";
import { failureKind } from "../../src/policy/alert-failure.ts";
import { alertsConfig } from "../helpers/alerts-config.ts";
import { startDaemonProcess, waitFor, writeTestConfig } from "../helpers/daemon-process.ts";
import { askMany } from "../helpers/policy-client.ts";
import { type ReceiverOptions, type SmtpReceiver, startSmtpReceiver } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const alertsSection = (port: number) =>
  `[thresholds]\ntime = 300\ncount = 1\n[alerts]\nfromAddr = 'postmaster@example.org'\n` +
  `toAddr = 'boss@example.org'\nccAddr = 'it@example.org, abuse@example.org'\n` +
  `smtp_host = 127.0.0.1\nsmtp_port = ${port}\nsmtp_timeout = 2s\nretry_min = 200ms\nretry_max = 1s\n`;

const RECIPIENTS = ["abuse@example.org", "boss@example.org", "it@example.org"];

/** How many copies of the alert each recipient got (the envelope recipients of every mail taken). */
const copies = (smtp: SmtpReceiver) =>
  Object.fromEntries(RECIPIENTS.map((to) => [to, smtp.mails.filter((mail) => mail.to.includes(to)).length]));

async function withRelay(
  dir: TempDir,
  receiver: ReceiverOptions,
  test: (
    smtp: SmtpReceiver,
    ask: (key: string) => Promise<unknown>,
    waitForLog: (pattern: RegExp) => Promise<unknown>,
  ) => Promise<void>,
): Promise<void> {
  const smtp = await startSmtpReceiver(0, receiver);
  try {
    const daemon = await startDaemonProcess(dir, writeTestConfig(dir, alertsSection(smtp.port)));
    try {
      await test(
        smtp,
        (key) => askMany(daemon.policySocket, `${key}\n`, 2),
        (pattern) => daemon.waitForLog(pattern),
      );
    } finally {
      await daemon.stop();
    }
  } finally {
    await smtp.close();
  }
}

describe("alert mail through a relay that does not simply take it", () => {
  const dirs = Array.from({ length: 6 }, () => makeTempDir());
  after(() => dirs.forEach((dir) => dir.remove()));

  it("delivers the alert to a recipient deferred at RCPT TO (452), and once to the others", async () => {
    // boss@ is over quota for the first two attempts; it@ and abuse@ take the mail at once.
    let deferrals = 2;
    const refuseRecipient = (address: string) =>
      address === "boss@example.org" && deferrals-- > 0 ? 452 : undefined;
    await withRelay(dirs[0], { refuseRecipient }, async (smtp, ask) => {
      await ask("spammer@example.org");
      await waitFor(() => smtp.refusedRecipients.length >= 2, 10_000, "two deferrals of boss@");
      // Before: the relay's 452 for boss@ was ignored, the mail counted as sent to all, and boss@, the
      // postmaster, never got the alert.
      await waitFor(() => copies(smtp)["boss@example.org"] >= 1, 10_000, "the alert to boss@");
      await new Promise((resolve) => setTimeout(resolve, 1500)); // room for a duplicate to show up
      assert.deepEqual(copies(smtp), { "abuse@example.org": 1, "boss@example.org": 1, "it@example.org": 1 });
      for (const mail of smtp.mails) {
        assert.match(mail.body, /Who:\s+spammer@example\.org/);
        assert.equal(mail.headers.to, "boss@example.org", "the headers are the alert's, whoever it goes to");
        assert.match(mail.headers.cc, /it@example\.org, abuse@example\.org/);
      }
    });
  });

  it("says which recipient the relay refused for good (550) while it took the others", async () => {
    const refuseRecipient = (address: string) => address === "abuse@example.org" ? 550 : undefined;
    await withRelay(dirs[1], { refuseRecipient }, async (smtp, ask, waitForLog) => {
      await ask("spammer@example.org");
      // Before: "info alerter: alert mail sent … to=boss@example.org,it@example.org,abuse@example.org".
      await waitForLog(
        /warn alerter: alert mail sent key=spammer@example\.org .*refused="abuse@example\.org: 550 /,
      );
      await new Promise((resolve) => setTimeout(resolve, 1000)); // room for a retry to show up
      assert.deepEqual(copies(smtp), { "abuse@example.org": 0, "boss@example.org": 1, "it@example.org": 1 });
      assert.equal(smtp.refusedRecipients.length, 1, "not retried: refused for good");
    });
  });

  it("delivers in plaintext through a relay that announces STARTTLS and answers 454", async () => {
    await withRelay(dirs[2], { starttls: "unavailable" }, async (smtp, ask) => {
      await ask("spammer@example.org");
      // Before: every attempt failed at "454 TLS currently unavailable" until retry_for parked the alert.
      await waitFor(() => smtp.mails.length >= 1, 10_000, "the alert mail");
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.deepEqual(copies(smtp), { "abuse@example.org": 1, "boss@example.org": 1, "it@example.org": 1 });
    });
  });

  it("delivers in plaintext through a relay whose STARTTLS handshake fails", async () => {
    await withRelay(dirs[3], { starttls: "handshake fails" }, async (smtp, ask) => {
      await ask("spammer@example.org");
      await waitFor(() => smtp.mails.length >= 1, 10_000, "the alert mail");
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.deepEqual(copies(smtp), { "abuse@example.org": 1, "boss@example.org": 1, "it@example.org": 1 });
    });
  });

  it("retries, not parks, when that relay also refuses plaintext (530)", async () => {
    const receiver = { starttls: "handshake fails", requireTls: true } as const;
    await withRelay(dirs[4], receiver, async (_smtp, ask, waitForLog) => {
      await ask("spammer@example.org");
      await waitForLog(/alert mail failed, will retry .*attempt=2 .*in plaintext: .*530/);
    });
  });

  it("sends again after the relay dropped the connection before answering the message's end, saying so", async () => {
    // The relay takes the first mail, then the connection goes before its 250: it has the alert, the daemon
    // cannot know it. Sent again (at least once, never lost), the log says the second copy may be one.
    let drops = 1;
    await withRelay(dirs[5], { closeAfterData: () => drops-- > 0 }, async (smtp, ask, waitForLog) => {
      await ask("spammer@example.org");
      await waitForLog(
        /alert mail failed, will retry key=spammer@example\.org .*error="Connection closed unexpectedly; the message had gone out whole: the relay may have taken it, and the alert may arrive twice"/,
      );
      await waitForLog(/info alerter: alert mail sent key=spammer@example\.org /);
      assert.deepEqual(copies(smtp), { "abuse@example.org": 2, "boss@example.org": 2, "it@example.org": 2 });
    });
  });

  it("ends the attempt at a relay that never answers MAIL FROM, naming the step: retried", {
    timeout: 30_000, // nodemailer waited for 10 minutes of silence on the socket
  }, async () => {
    const smtp = await startSmtpReceiver(0, { hangAt: "MAIL FROM" });
    try {
      const send = createAlertTransport(alertsConfig({ smtpPort: smtp.port, smtpCommandTimeoutMs: 1000 }));
      const error = await send({
        from: "postmaster@example.org",
        to: ["boss@example.org"],
        cc: [],
        subject: "Mail Abuse Alert",
        text: "body\n",
      }).then(() => undefined, (error) => error);
      assert.equal(
        String(error?.message),
        `127.0.0.1:${smtp.port} did not answer MAIL FROM within 1s ([alerts] smtp_command_timeout); retried`,
      );
      assert.equal(failureKind(error), "temporary", "retried, not parked");
      assert.equal(smtp.mails.length, 0);
    } finally {
      await smtp.close();
    }
  });
});
