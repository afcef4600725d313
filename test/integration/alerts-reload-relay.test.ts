// A reload that fixes the alert relay while an alert mail waits out its backoff (real daemon process, real
// SMTP receiver): the mail goes out at once through the new relay, once, and the log says so. It waited up
// to retry_max (10 min by default, here 1 h) before, whatever the reload said.
import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { askMany } from "../helpers/policy-client.ts";
import { runMain } from "../helpers/runtime.ts";
import { type SmtpReceiver, startSmtpReceiver } from "../helpers/smtp-receiver.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

// Port 1 on loopback: nothing listens there (binding it takes root), so every attempt is refused for now.
const CLOSED_PORT = 1;

const alertsSection = (port: number) =>
  `[thresholds]\ntime = 300\ncount = 1\n[alerts]\nfromAddr = 'postmaster@example.org'\n` +
  `toAddr = 'boss@example.org'\nsmtp_host = 127.0.0.1\nsmtp_port = ${port}\nsmtp_timeout = 2s\n` +
  `retry_min = 1h\nretry_max = 1h\n`;

describe("a reload that changes [alerts] while an alert mail backs off", () => {
  const dir = makeTempDir();
  let daemon: DaemonProcess | undefined;
  let smtp: SmtpReceiver | undefined;

  after(async () => {
    await daemon?.stop();
    await smtp?.close();
    dir.remove();
  });

  it("tries the waiting mail at once through the new relay, once", async () => {
    const file = writeTestConfig(dir, alertsSection(CLOSED_PORT));
    daemon = await startDaemonProcess(dir, file);
    await askMany(daemon.policySocket, "alice@example.org\n", 2);
    await daemon.waitForLog(/alert mail failed, will retry .*retry_in_ms=3600000/);

    smtp = await startSmtpReceiver(0);
    writeTestConfig(dir, alertsSection(smtp.port));
    const reload = runMain(["reload", "--config", file]);
    assert.equal(reload.status, 0, reload.stderr);

    const received = smtp;
    await waitFor(() => received.mails.length > 0, 10_000, "the alert at the new relay");
    await daemon.waitForLog(/info alerter: alert mail sent .*key=alice@example.org/);
    assert.match(
      daemon.logs(),
      /info alerter: \[alerts\] changed: the waiting alert mail is tried now queued=1/,
    );
    assert.equal(smtp.mails.length, 1, "the alert went out once");
    assert.deepEqual(smtp.mails[0].to, ["boss@example.org"]);
    assert.match(smtp.mails[0].headers.subject, /Mail Abuse Alert/);
  });

  it("a reload that leaves [alerts] as it was does not cut the backoff short", async () => {
    const running = daemon!;
    const file = writeTestConfig(dir, alertsSection(CLOSED_PORT));
    assert.equal(runMain(["reload", "--config", file]).status, 0);
    await askMany(running.policySocket, "carol@example.org\n", 2);
    await running.waitForLog(/alert mail failed, will retry key=carol@example.org/);
    const mark = running.logs().length;
    assert.equal(runMain(["reload", "--config", file]).status, 0); // the same [alerts]
    // Then one that changes it: its line follows whatever the first reload logged.
    writeTestConfig(dir, alertsSection(CLOSED_PORT).replace("smtp_timeout = 2s", "smtp_timeout = 3s"));
    assert.equal(runMain(["reload", "--config", file]).status, 0);
    const failures = () =>
      running.logs().slice(mark).match(/alert mail failed, will retry key=carol@/g)?.length;
    await waitFor(() => failures() === 1, 10_000, "the attempt after the reload that changed [alerts]");
    const since = running.logs().slice(mark);
    assert.equal(since.match(/the waiting alert mail is tried now/g)?.length, 1, since);
  });
});

describe("a reload that changes [alerts] while an alert mail is being sent", () => {
  const dir = makeTempDir();
  let daemon: DaemonProcess | undefined;
  let smtp: SmtpReceiver | undefined;
  // A relay that takes the connection and says nothing: the attempt waits until the test drops it.
  const held: net.Socket[] = [];
  const silent = net.createServer((socket) => held.push(socket));

  after(async () => {
    await daemon?.stop();
    await smtp?.close();
    await new Promise((resolve) => silent.close(resolve));
    dir.remove();
  });

  it("tries it again at once through the new relay when that attempt fails", async () => {
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const file = writeTestConfig(dir, alertsSection((silent.address() as net.AddressInfo).port));
    daemon = await startDaemonProcess(dir, file);
    await askMany(daemon.policySocket, "dave@example.org\n", 2);
    await waitFor(() => held.length > 0, 10_000, "the attempt at the silent relay");

    smtp = await startSmtpReceiver(0);
    writeTestConfig(dir, alertsSection(smtp.port));
    const running = daemon;
    const mark = running.logs().length;
    assert.equal(runMain(["reload", "--config", file]).status, 0);
    await waitFor(() => running.logs().slice(mark).includes("config reloaded"), 10_000, "the reload");
    for (const socket of held) socket.destroy(); // the attempt under way fails for now

    const received = smtp;
    await waitFor(() => received.mails.length > 0, 10_000, "the alert at the new relay");
    assert.equal(smtp.mails.length, 1);
    assert.match(running.logs(), /alert mail failed, will retry key=dave@example.org/);
    await running.waitForLog(/alert mail sent .*key=dave@example.org/);
  });
});
