// A host killed (kill -9, an OOM kill, a power cut of the VM) right after it crossed a limit counted in
// Redis, before its alert went out: Redis holds the crossing (the alert marked pending, so that no other host
// and no later request alerts again in that window), and the alert itself was only in this host's outbox.
// The restarted host must still send it: otherwise the postmaster never hears of the sender in that window.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { type SmtpReceiver, startSmtpReceiver } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const rcpt = (sender: string) => `rcpt sender=${sender} recipient=x@example.net client_address=192.0.2.7\n`;

/** A port nothing listens on: the relay is down. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const port = (server.address() as { port: number }).port;
  await new Promise((done) => server.close(done));
  return port;
}

describe("a host killed between crossing a limit in Redis and sending the alert", () => {
  const dirs: TempDir[] = [];
  const daemons: DaemonProcess[] = [];
  let server: RedisServer;
  let smtp: SmtpReceiver;
  before(async () => {
    server = await startRedisServer();
    smtp = await startSmtpReceiver();
  });
  after(async () => {
    await Promise.all(daemons.map((daemon) => daemon.stop("SIGKILL")));
    dirs.forEach((dir) => dir.remove());
    await server.stop();
    await smtp.close();
  });

  it("sends the alert after the restart", async () => {
    const dir = makeTempDir();
    dirs.push(dir);
    const config = (port: number) =>
      `[limit out]\nkey = sender\ncount = 1\ntime = 1h\naction = defer\n` +
      `[alerts]\nfromAddr = 'postmaster@example.org'\ntoAddr = 'boss@example.org'\nsmtp_host = 127.0.0.1\n` +
      `smtp_port = ${port}\nretry_min = 200ms\n` +
      `[redis]\nurl = redis://127.0.0.1:${server.port}\nprefix = killed:\n`;
    const sender = "killed@example.org";
    const first = await startDaemonProcess(dir, writeTestConfig(dir, config(await closedPort())));
    daemons.push(first);
    assert.match(await askPolicy(first.policySocket, rcpt(sender)), /^action=accept/);
    assert.match(await askPolicy(first.policySocket, rcpt(sender)), /^action=defer/, "crossed in Redis");
    await first.stop("SIGKILL"); // at once: the journal's timer writes every 200 ms
    const second = await startDaemonProcess(dir, writeTestConfig(dir, config(smtp.port)));
    daemons.push(second);
    const deadline = Date.now() + 8_000;
    const alerts = () => smtp.mails.filter((mail) => mail.body.includes(sender));
    while (alerts().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(await askPolicy(second.policySocket, rcpt(sender)), /^action=defer/, "still over in Redis");
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(alerts().length, 1, "the alert of the crossing, once");
  });
});
