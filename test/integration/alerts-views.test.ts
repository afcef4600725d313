// What `top`, `show` and `status` say of a key's alert (real daemon process, real SMTP receiver, the real
// CLI): pending while the relay cannot be reached and the alert is retried, sent once the relay took it,
// and not sent once the alerter gave up on it (the relay refused it for good: parked), also after a restart.
// A postmaster reading "(alert sent)" at 3 a.m. believes the mail went out.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, describe, it } from "node:test";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { mainCommand, ROOT } from "../helpers/runtime.ts";
import { freePort, type SmtpReceiver, startSmtpReceiver } from "../helpers/smtp-receiver.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

const SLOW = { timeout: 90_000 }; // every step spawns the CLI; Deno starts slower than Bun

const KEY = "spammer@example.org";
const RCPT = `rcpt sender=${KEY} recipient=x@example.net client_address=192.0.2.7\n`;

const configText = (port: number) =>
  `[limit out]\nkey = sender\ncount = 1\ntime = 1h\naction = defer\n` +
  `[alerts]\nfromAddr = 'postmaster@example.org'\ntoAddr = 'boss@example.org'\n` +
  `smtp_host = 127.0.0.1\nsmtp_port = ${port}\nsmtp_timeout = 2s\nretry_min = 200ms\nretry_max = 1s\n`;

function cli(config: string, ...args: string[]): string {
  const [command, ...rest] = mainCommand([...args, "--config", config]);
  const result = spawnSync(command, rest, { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

/** The alert state each view prints for KEY under the limit `out`: top's, show's and status's. */
function views(config: string): { top: string; show: string; status: string } {
  const row = new RegExp(`^spammer@example\\.org\\s+out\\s+1/1\\s+1h\\s+defer\\s+(.*)$`, "m");
  const top = row.exec(cli(config, "top"))?.[1] ?? "(no row)";
  const status = row.exec(cli(config, "status"))?.[1] ?? "(no row)";
  const show =
    /^ {2}rule out: 1\/1 per 1h \(fixed, action defer\), (.*)$/m.exec(cli(config, "show", KEY))?.[1] ??
      "(no row)";
  return { top, show, status };
}

const everywhere = (state: string) => ({ top: state, show: state, status: state });

describe("the alert state top, show and status print", () => {
  const dirs = [makeTempDir(), makeTempDir()];
  const daemons: DaemonProcess[] = [];
  const receivers: SmtpReceiver[] = [];
  after(async () => {
    await Promise.all(daemons.map((daemon) => daemon.stop("SIGKILL")));
    await Promise.all(receivers.map((smtp) => smtp.close()));
    dirs.forEach((dir) => dir.remove());
  });

  it("is pending while the relay is unreachable, sent once it took the mail", SLOW, async () => {
    const port = await freePort();
    const config = writeTestConfig(dirs[0], configText(port));
    const daemon = await startDaemonProcess(dirs[0], config);
    daemons.push(daemon);
    await askPolicy(daemon.policySocket, RCPT);
    assert.match(await askPolicy(daemon.policySocket, RCPT), /^action=defer/, "crossed");
    await daemon.waitForLog(/alert mail failed, will retry key=spammer@example\.org/);
    assert.deepEqual(views(config), everywhere("at limit (alert pending)"));

    const smtp = await startSmtpReceiver(port);
    receivers.push(smtp);
    await daemon.waitForLog(/alert mail sent key=spammer@example\.org/, 15_000);
    assert.equal(smtp.mails.length, 1);
    assert.deepEqual(views(config), everywhere("at limit (alert sent)"));
  });

  it(
    "is not sent once the relay refused the mail for good (parked), also after a restart",
    SLOW,
    async () => {
      const smtp = await startSmtpReceiver(0, { refuse: () => 554 });
      receivers.push(smtp);
      const config = writeTestConfig(dirs[1], configText(smtp.port));
      const first = await startDaemonProcess(dirs[1], config);
      daemons.push(first);
      await askPolicy(first.policySocket, RCPT);
      assert.match(await askPolicy(first.policySocket, RCPT), /^action=defer/, "crossed");
      await first.waitForLog(/alert mail given up, parked key=spammer@example\.org .*554/);
      assert.equal(smtp.refused.length, 1, "the relay refused the alert");
      assert.equal(smtp.mails.length, 0, "no alert went out");
      // Before: "at limit (alert sent)" in all three.
      assert.deepEqual(views(config), everywhere("at limit (alert not sent)"));
      assert.match(
        cli(config, "status"),
        /^PARKED ALERTS \(given up, not retried\)\n.*spammer@example\.org.*554/m,
      );

      // The state is in the journal: a kill -9 and a restart still say so (the row is not refused as bad).
      await first.stop("SIGKILL");
      const second = await startDaemonProcess(dirs[1], config);
      daemons.push(second);
      await waitFor(() => /counters: state restored/.test(second.logs()), 10_000, "the restore");
      assert.doesNotMatch(second.logs(), /refused/);
      assert.deepEqual(views(config), everywhere("at limit (alert not sent)"));
      assert.equal(smtp.refused.length, 1, "not tried again after the restart");
    },
  );
});
