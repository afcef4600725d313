// Alerts that cannot jam or storm, against a real daemon process and a real SMTP receiver: a relay that
// refuses one alert for good (554) does not hold back the others, a malformed outbox entry in the state
// file is refused at start, and 300 senders passing a limit within seconds give a few digest mails. An alert
// dropped from the full outbox while its mail was being tried is not mailed after all.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import libmime from "libmime";
import { after, describe, it } from "node:test";
import { controlRequest } from "../../src/cli/control-client.ts";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { askMany, askPolicy } from "../helpers/policy-client.ts";
import {
  type ReceivedMail,
  type ReceiverOptions,
  type SmtpReceiver,
  startSmtpReceiver,
} from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const config = (port: number, extra = "") =>
  `[thresholds]\ntime = 300\ncount = 1\n[alerts]\nfromAddr = 'postmaster@example.org'\n` +
  `toAddr = 'boss@example.org'\nsmtp_host = 127.0.0.1\nsmtp_port = ${port}\nsmtp_timeout = 2s\n` +
  `retry_min = 200ms\nretry_max = 1s\n${extra}`;

// The keys a mail alerts about: "Who:" in a single alert, the rows of a digest.
const keysIn = (mail: ReceivedMail): string[] =>
  [...mail.body.matchAll(/^Who: +(\S+)$|^ +\d+ +\d+ {2}thresholds {2}(\S+)$/gm)].map((m) => m[1] ?? m[2]);

/** Runs `test` against a daemon alerting to a fresh SMTP receiver; stops both afterwards. */
async function withAlertDaemon(
  dir: TempDir,
  extra: string,
  receiver: ReceiverOptions,
  test: (daemon: DaemonProcess, smtp: SmtpReceiver) => Promise<void>,
): Promise<void> {
  const smtp = await startSmtpReceiver(0, receiver);
  try {
    const daemon = await startDaemonProcess(dir, writeTestConfig(dir, config(smtp.port, extra)));
    try {
      await test(daemon, smtp);
    } finally {
      await daemon.stop();
    }
  } finally {
    await smtp.close();
  }
}

/** A state file whose outbox holds `before`, then an alert for `key`, whose limit it crossed at `crossed`. */
function writeStateWithAlert(dir: TempDir, key: string, crossed: number, before: object[] = []): void {
  const alert = {
    id: `thresholds|${key}|${crossed - 5000}`,
    limit: "thresholds",
    keyKind: "sender",
    key,
    count: 2,
    limitCount: 1,
    windowMs: 300_000,
    firstSeen: crossed - 5000,
    lastSeen: crossed,
    topSubjects: [],
    topClientIps: [],
  };
  const state = {
    format: "mailpolicyd-state",
    version: 1,
    savedAt: Date.now(),
    limits: {},
    outbox: [...before, alert],
  };
  writeFileSync(dir.file("state.json"), JSON.stringify(state));
}

describe("alerts that cannot jam or storm (real daemon process, real SMTP receiver)", () => {
  const dirs = Array.from({ length: 6 }, () => makeTempDir());
  after(() => dirs.forEach((dir) => dir.remove()));

  it("parks an alert the relay refuses for good (554) and delivers every later one", async () => {
    const dir = dirs[0];
    await withAlertDaemon(dir, "", {
      refuse: (mail) => /bad@example\.org/.test(mail.body) ? 554 : undefined,
    }, async (daemon, smtp) => {
      await askMany(daemon.policySocket, "bad@example.org\n", 2);
      await daemon.waitForLog(
        /error alerter: alert mail given up, parked key=bad@example\.org .*reason="refused for good"/,
      );
      for (const key of ["one", "two", "three"]) {
        await askMany(daemon.policySocket, `${key}@example.org\n`, 2);
      }
      await waitFor(() => smtp.mails.length >= 3, 10_000, "the three later alerts");
      assert.deepEqual(smtp.mails.flatMap(keysIn), [
        "one@example.org",
        "two@example.org",
        "three@example.org",
      ]);
      await new Promise((resolve) => setTimeout(resolve, 1500)); // room for a retry to show up
      assert.equal(smtp.refused.length, 1, "the refused alert was tried once, never again");

      const metrics = await controlRequest(dir.file("control.sock"), "GET", "/metrics");
      assert.match(metrics.body, /^mailpolicyd_alerts_total\{result="parked"\} 1$/m);
      assert.match(metrics.body, /^mailpolicyd_alerts_total\{result="sent"\} 3$/m);
      assert.match(metrics.body, /^mailpolicyd_alerts_pending 0$/m);
      const status = (await controlRequest(dir.file("control.sock"), "GET", "/status")).json<{
        pendingAlerts: number;
        alerts: { parked: number; parkedRecent: { key: string; status: string; error: string }[] };
      }>();
      assert.equal(status.pendingAlerts, 0, "the parked alert left the outbox");
      assert.equal(status.alerts.parked, 1);
      assert.equal(status.alerts.parkedRecent[0].key, "bad@example.org");
      assert.match(status.alerts.parkedRecent[0].error, /554/);
    });
  });

  it("retries an alert refused for now (451) behind the others, and parks it after retry_for", async () => {
    const dir = dirs[4];
    const refuse = (mail: ReceivedMail) => /later@example\.org/.test(mail.body) ? 451 : undefined;
    // retry_for counts from the moment the key crossed its limit, and its least is 10 s: the alert comes
    // from the state file's outbox, its key crossed 4 s ago, so that the case waits 6 s for it, not 10.
    writeStateWithAlert(dir, "later@example.org", Date.now() - 4000);
    await withAlertDaemon(dir, "retry_for = 10s\n", { refuse }, async (daemon, smtp) => {
      await waitFor(() => smtp.refused.length >= 1, 10_000, "the first refusal");
      for (const key of ["one", "two"]) await askMany(daemon.policySocket, `${key}@example.org\n`, 2);
      await waitFor(() => smtp.mails.length >= 2, 10_000, "the two later alerts");
      assert.deepEqual(smtp.mails.flatMap(keysIn), ["one@example.org", "two@example.org"]);
      await daemon.waitForLog(
        /error alerter: alert mail given up, parked key=later@example\.org .*reason="still failing after retry_for"/,
        20_000,
      );
      assert.ok(smtp.refused.length >= 3, `retried meanwhile: ${smtp.refused.length} attempts`);
      const attempts = smtp.refused.length;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(smtp.refused.length, attempts, "no attempt after it was parked");
    });
  });

  it("refuses a {} outbox entry restored from the state file and delivers the good one", async () => {
    const dir = dirs[1];
    writeStateWithAlert(dir, "restored@example.org", Date.now() - 5000, [{}]);
    await withAlertDaemon(dir, "", {}, async (daemon, smtp) => {
      await waitFor(() => smtp.mails.length >= 1, 10_000, "the restored alert");
      assert.deepEqual(keysIn(smtp.mails[0]), ["restored@example.org"]);
      assert.match(
        daemon.logs(),
        /malformed alert in the state file's outbox, refused problem="id: not a text"/,
      );
      await askMany(daemon.policySocket, "later@example.org\n", 2);
      await waitFor(() => smtp.mails.length >= 2, 10_000, "a later alert");
      assert.deepEqual(keysIn(smtp.mails[1]), ["later@example.org"]);
    });
  });

  it("keeps the Subject within 78-character lines and shows a key's encoded CR LF as a space", async () => {
    const dir = dirs[2];
    const subject = "subject = Alert for {key}\n";
    await withAlertDaemon(dir, subject, {}, async (daemon, smtp) => {
      const long = `${"x".repeat(240)}@example.org`;
      await askMany(daemon.policySocket, `${long}\n`, 2);
      await askMany(daemon.policySocket, "=?utf-8?q?=0d=0abcc:_evil@example.org?=\n", 2);
      await waitFor(() => smtp.mails.length >= 2, 10_000, "both alerts");
      for (const mail of smtp.mails) {
        const head = mail.raw.slice(0, mail.raw.indexOf("\r\n\r\n"));
        for (const line of head.split("\r\n")) assert.ok(line.length <= 78, `header line of ${line.length}`);
      }
      const subjects = smtp.mails.map((mail) => libmime.decodeWords(mail.headers.subject));
      assert.ok(subjects[0].startsWith(`Alert for ${"x".repeat(100)}`), subjects[0]);
      assert.equal(subjects[1], "Alert for bcc: evil@example.org");
      assert.match(
        smtp.mails[0].body,
        new RegExp(`Who: +${long.slice(0, 60)}`),
        "the body has the whole key",
      );
    });
  });

  it("turns 300 senders passing a limit within seconds into a few digest mails", async () => {
    const dir = dirs[3];
    const extra = "digest_after = 5\ndigest_window = 2s\n";
    await withAlertDaemon(dir, extra, {}, async (daemon, smtp) => {
      const senders = Array.from({ length: 300 }, (_, i) => `forged${i}@example.net`);
      const started = Date.now();
      for (let i = 0; i < senders.length; i += 20) {
        await Promise.all(
          senders.slice(i, i + 20).map((sender) => askMany(daemon.policySocket, `${sender}\n`, 2)),
        );
      }
      const stormMs = Date.now() - started;
      await waitFor(() => smtp.mails.flatMap(keysIn).length >= 300, 20_000, "all 300 keys alerted");
      await new Promise((resolve) => setTimeout(resolve, 2500)); // room for a stray mail to show up
      const keys = smtp.mails.flatMap(keysIn);
      assert.equal(new Set(keys).size, 300, "every key once");
      assert.equal(keys.length, 300, "no key twice");
      const digests = smtp.mails.filter((mail) => /digest of \d+ keys/.test(mail.headers.subject));
      assert.equal(smtp.mails.length - digests.length, 5, "digest_after alerts went out alone");
      assert.ok(
        digests.length >= 1 && digests.length <= Math.ceil(stormMs / 2000) + 1,
        `${digests.length} digests`,
      );
      assert.match(await askPolicy(daemon.policySocket, "forged0@example.net\n"), /^yes$/);
      const metrics = await controlRequest(dir.file("control.sock"), "GET", "/metrics");
      assert.match(metrics.body, new RegExp(`^mailpolicyd_alert_digests_total ${digests.length}$`, "m"));
    });
  });

  it("does not mail an alert dropped from the full outbox while its mail was being tried", async () => {
    // The relay hangs at MAIL FROM while the first alert is tried; ten more keys cross meanwhile, and the
    // full outbox (outbox_max = 10) drops the oldest: the one being tried. The relay then restarts, dropping
    // the hung session: the attempt fails. Before, that put the alert back in the queue, and it was mailed
    // after the ten although the log said it was dropped.
    const extra = "outbox_max = 10\ndigest_after = 100\nsmtp_command_timeout = 10m\n";
    await withAlertDaemon(dirs[5], extra, { hangAt: "MAIL FROM" }, async (daemon, smtp) => {
      await askMany(daemon.policySocket, "first@example.org\n", 2);
      await waitFor(() => smtp.hungAtMailFrom === 1, 10_000, "the first alert's attempt at MAIL FROM");
      for (let i = 1; i <= 10; i++) await askMany(daemon.policySocket, `k${i}@example.org\n`, 2);
      await daemon.waitForLog(
        /warn counters: alert outbox full, oldest alert dropped key=first@example\.org /,
      );
      smtp.recover();
      await daemon.waitForLog(
        /alert mail failed, (will retry|not retried: its alert was dropped) key=first@/,
      );
      await waitFor(() => smtp.mails.length >= 10, 10_000, "the ten later alerts");
      // One more behind them: anything still queued for the dropped alert would go out before it.
      await askMany(daemon.policySocket, "last@example.org\n", 2);
      await waitFor(
        () => smtp.mails.flatMap(keysIn).includes("last@example.org"),
        10_000,
        "the last alert",
      );
      const keys = Array.from({ length: 10 }, (_, i) => `k${i + 1}@example.org`);
      assert.deepEqual(smtp.mails.flatMap(keysIn), [...keys, "last@example.org"]);
      assert.match(
        daemon.logs(),
        /warn alerter: alert mail failed, not retried: its alert was dropped key=first@/,
      );
    });
  });
});
