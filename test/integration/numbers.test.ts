// One story for the numbers (issue 15): a sender deferred by a real Exim reads the same count, limit and
// window in the SMTP reply, Exim's log, the daemon's log, `mailpolicyd status` (text and --json) and the
// alert mail the real SMTP receiver gets.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { eximBh, message, prepareEximDir, writeEximConfig } from "../helpers/exim.ts";
import { runMain } from "../helpers/runtime.ts";
import { type SmtpReceiver, startSmtpReceiver } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const SLOW = { timeout: 60_000 };

describe("the same numbers everywhere (real Exim, daemon, CLI, SMTP receiver)", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;
  let smtp: SmtpReceiver;
  let config: string;
  const status = (...args: string[]) => runMain(["status", "--config", config, ...args]);

  before(async () => {
    dir = makeTempDir();
    prepareEximDir(dir);
    smtp = await startSmtpReceiver();
    config = writeTestConfig(
      dir,
      `[limit out]\nkey = sender\ncount = 5\ntime = 1h\n` +
        `[alerts]\nfromAddr = pm@example.net\ntoAddr = boss@example.net\nsmtp_port = ${smtp.port}\n`,
    );
    daemon = await startDaemonProcess(dir, config);
  }, SLOW);
  after(async () => {
    await daemon?.stopCleanly();
    await smtp?.close();
    dir?.remove();
  });

  it(
    "5 accepted then deferred: 5 of 5 in 1h in the reply, the logs, status and the alert",
    SLOW,
    async () => {
      const session = eximBh(writeEximConfig(dir, { address: daemon.eximAddress }), "192.0.2.10", [
        "EHLO client.example",
        ...Array.from({ length: 6 }, (_, i) => message("alice@example.org", [`r${i}@remote.example`])).flat(),
        "QUIT",
      ]);
      assert.equal(
        session.replies.filter((reply) => reply.startsWith("250 OK id=")).length,
        5,
        session.output,
      );
      assert.deepEqual(session.replies.filter((reply) => reply.startsWith("451")), [
        "451 alice@example.org over limit: 5 messages in 1h (limit 5)",
      ]);
      assert.ok(
        session.log.some((line) => /mailpolicyd: deferred by rule out: 5\/5$/.test(line)),
        session.output,
      );

      await daemon.waitForLog(/alert mail sent key=alice@example\.org/);
      const logs = daemon.logs();
      assert.match(
        logs,
        / warn counters: limit passed rule=out key=alice@example\.org count=5 limit=5 window=1h /,
      );
      assert.match(logs, / info policy: defer rule=out key=alice@example\.org count=5 limit=5\n/);

      const json = status("--json");
      assert.equal(json.status, 0, json.stderr);
      const parsed = JSON.parse(json.stdout);
      const [row] = parsed.topSenders;
      assert.deepEqual(
        [row.key, row.count, row.limit, row.window, row.atLimit, row.over],
        ["alice@example.org", 5, 5, "1h", true, false],
      );
      assert.deepEqual([parsed.alerts.recent[0].count, parsed.alerts.recent[0].limit], [5, 5]);

      const text = status();
      assert.equal(text.status, 0, text.stderr);
      assert.match(text.stdout, /^alice@example\.org\s+out\s+5\/5\s+1h\s+defer\s+at limit \(alert sent\)$/m);
      assert.match(text.stdout, /^ {2}\S+ \S+ {2}alice@example\.org {2}out {2}5\/5 {2}sent$/m);

      await waitFor(() => smtp.mails.length >= 1, 10_000, "the alert mail");
      assert.match(smtp.mails[0].body, /^How many: {4}5 messages in 1h, limit 5$/m);
    },
  );
});
