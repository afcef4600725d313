// Alert mail against a real SMTP receiver: exactly one per key and window, with the details a
// postmaster needs; an unreachable SMTP server is retried and never delays answers.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { startDaemonProcess, waitFor, writeTestConfig } from "../helpers/daemon-process.ts";
import { askMany, askPolicy } from "../helpers/policy-client.ts";
import { quoteValue } from "../../src/protocols/attributes.ts";
import { freePort, startSmtpReceiver } from "../helpers/smtp-receiver.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

const alertsSection = (port: number) =>
  `[thresholds]\ntime = 300\ncount = 3\n[alerts]\nfromAddr = 'postmaster@example.org'\n` +
  `toAddr = 'boss@example.org'\nccAddr = 'it@example.org, abuse@example.org'\nsubject = 'Mail Abuse Alert'\n` +
  `smtp_host = 127.0.0.1\nsmtp_port = ${port}\nsmtp_timeout = 2s\nretry_min = 200ms\nretry_max = 1s\n`;

describe("alert mail (real daemon process, real SMTP receiver)", () => {
  const dirs = [makeTempDir(), makeTempDir(), makeTempDir(), makeTempDir()];
  after(() => dirs.forEach((dir) => dir.remove()));

  it("sends exactly one alert per key and window, to, cc, from, subject and body as configured", async () => {
    const smtp = await startSmtpReceiver();
    const dir = dirs[0];
    const daemon = await startDaemonProcess(dir, writeTestConfig(dir, alertsSection(smtp.port)));
    try {
      assert.deepEqual(await askMany(daemon.policySocket, "spammer@example.org\n", 10), [
        "no",
        "no",
        "no",
        "yes",
        "yes",
        "yes",
        "yes",
        "yes",
        "yes",
        "yes",
      ]);
      await waitFor(() => smtp.mails.length >= 1, 10_000, "the alert mail");
      await daemon.waitForLog(/alert mail sent key=spammer@example.org/);
      await new Promise((resolve) => setTimeout(resolve, 500)); // room for a duplicate to show up
      assert.equal(smtp.mails.length, 1, "one alert, not one per refused message");

      const mail = smtp.mails[0];
      assert.equal(mail.from, "postmaster@example.org");
      assert.deepEqual(mail.to.sort(), ["abuse@example.org", "boss@example.org", "it@example.org"]);
      assert.equal(mail.headers.subject, "Mail Abuse Alert");
      assert.equal(mail.headers.to, "boss@example.org");
      assert.match(mail.headers.cc, /it@example\.org, abuse@example\.org/);
      assert.equal(mail.headers["auto-submitted"], "auto-generated");
      assert.match(mail.body, /Who:\s+spammer@example\.org/);
      assert.match(mail.body, /How many:\s+4 messages in 300s, limit 3$/m);
      assert.match(mail.body, /First seen:\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
      assert.match(mail.body, /Last seen:\s+\d{4}-\d\d-\d\d/);
      assert.match(mail.body, /Top subjects:/);

      await askMany(daemon.policySocket, "other@example.org\n", 4);
      await waitFor(() => smtp.mails.length >= 2, 10_000, "the second key's alert");
      assert.match(smtp.mails[1].body, /Who:\s+other@example\.org/);
    } finally {
      await daemon.stop();
      await smtp.close();
    }
  });

  it("sends once to a relay slower than smtp_timeout to accept the message (RFC 5321's 10 minutes)", async () => {
    // The relay takes the message and answers 250 after 3 s, as one that scans at DATA; smtp_timeout and
    // smtp_command_timeout 1s: the message's end is not a command's reply.
    const smtp = await startSmtpReceiver(0, { answerAfterMs: 3000 });
    const dir = dirs[3];
    const config = alertsSection(smtp.port).replace(
      "smtp_timeout = 2s",
      "smtp_timeout = 1s\nsmtp_command_timeout = 1s",
    );
    const daemon = await startDaemonProcess(dir, writeTestConfig(dir, config));
    try {
      await askMany(daemon.policySocket, "slowrelay@example.org\n", 4);
      await waitFor(() => smtp.mails.length >= 1, 10_000, "the alert mail");
      await new Promise((resolve) => setTimeout(resolve, 4000)); // its answer, and room for a retry
      // Before: the reply came after smtp_timeout, the alert was retried and the relay got it again.
      assert.equal(smtp.mails.length, 1, "one alert");
      await daemon.waitForLog(/alert mail sent key=slowrelay@example\.org/);
    } finally {
      await daemon.stop();
      await smtp.close();
    }
  });

  it("keeps answering while SMTP is down, logs the failure, and delivers once SMTP is back", async () => {
    const port = await freePort();
    const dir = dirs[1];
    const daemon = await startDaemonProcess(dir, writeTestConfig(dir, alertsSection(port)));
    try {
      await askMany(daemon.policySocket, "early@example.org\n", 4);
      await daemon.waitForLog(/error alerter: alert mail failed, will retry key=early@example\.org/);
      const started = Date.now();
      assert.equal(await askPolicy(daemon.policySocket, "early@example.org\n"), "yes");
      assert.ok(Date.now() - started < 1000, "answer not held up by the failing SMTP server");

      const smtp = await startSmtpReceiver(port);
      try {
        await waitFor(() => smtp.mails.length >= 1, 15_000, "the retried alert");
        assert.match(smtp.mails[0].body, /Who:\s+early@example\.org/);
        await new Promise((resolve) => setTimeout(resolve, 1500));
        assert.equal(smtp.mails.length, 1, "delivered once");
      } finally {
        await smtp.close();
      }
    } finally {
      await daemon.stop();
    }
  });

  it("sends the body as 7bit: short ASCII lines, non-ASCII subjects escaped, long ones cut", async () => {
    const smtp = await startSmtpReceiver();
    const dir = dirs[2];
    const daemon = await startDaemonProcess(dir, writeTestConfig(dir, alertsSection(smtp.port)));
    try {
      const sender = "sender=gruss@example.org client_address=192.0.2.7";
      const subjects = ["Grüße aus Köln 💰", `Cheap ${"pills ".repeat(30)}`, "plain"];
      for (const subject of subjects) {
        assert.equal(
          await askPolicy(daemon.policySocket, `rcpt ${sender} recipient=a@example.net\n`),
          "action=accept",
        );
        await askPolicy(daemon.policySocket, `data ${sender} subject=${quoteValue(subject)}\n`);
      }
      await askPolicy(daemon.policySocket, `rcpt ${sender} recipient=b@example.net\n`); // the 4th: over 3
      await waitFor(() => smtp.mails.length >= 1, 10_000, "the alert mail");

      const { raw, headers, body } = smtp.mails[0];
      assert.equal(headers["content-transfer-encoding"], "7bit");
      assert.doesNotMatch(raw, /=\r\n/, "no quoted-printable soft breaks");
      const rawBody = raw.slice(raw.indexOf("\r\n\r\n") + 4);
      for (const line of rawBody.split("\r\n")) {
        assert.ok(line.length <= 76 && /^[\x20-\x7e]*$/.test(line), `not a short ASCII line: ${line}`);
      }
      assert.match(body, /^ +1 {2}Gr\\u\{fc\}\\u\{df\}e aus K\\u\{f6\}ln \\u\{1f4b0\}$/m);
      assert.match(body, /^ +1 {2}Cheap pills [a-z ]+\.\.\.$/m);
      assert.match(body, /^How many: {4}4 messages in 300s, limit 3$/m);
    } finally {
      await daemon.stop();
      await smtp.close();
    }
  });
});
