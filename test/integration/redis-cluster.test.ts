// Several MX hosts on one Redis (issue 21), as a site runs them: three real daemon processes sharing a real
// redis-server. A sender spread over the hosts is deferred at exactly N+1 overall for each algorithm, the
// postmaster gets one alert mail, a Redis with requirepass works, a wrong password falls back and says so,
// and Redis forgets the counters when their windows end.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { type SmtpReceiver, startSmtpReceiver } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const N = 4;
const rcpt = (sender: string) => `rcpt sender=${sender} recipient=x@example.net client_address=192.0.2.7\n`;
const redisCli = (server: RedisServer, ...args: string[]) =>
  execFileSync("redis-cli", [
    "-p",
    String(server.port),
    ...(server.password ? ["-a", server.password, "--no-auth-warning"] : []),
    ...args,
  ], {
    encoding: "utf8",
  }).trim();

describe("three MX hosts sharing one Redis (real daemons, real redis-server)", () => {
  const dirs: TempDir[] = [];
  const daemons: DaemonProcess[] = [];
  let server: RedisServer;
  let smtp: SmtpReceiver;
  before(async () => {
    server = await startRedisServer({ password: "s3cret" });
    smtp = await startSmtpReceiver();
  });
  after(async () => {
    await Promise.all(daemons.map((daemon) => daemon.stop()));
    dirs.forEach((dir) => dir.remove());
    await server.stop();
    await smtp.close();
  });

  const hosts = async (extra: string, count = 3) => {
    const started: DaemonProcess[] = [];
    for (let i = 0; i < count; i++) {
      const dir = makeTempDir();
      dirs.push(dir);
      const daemon = await startDaemonProcess(dir, writeTestConfig(dir, extra));
      daemons.push(daemon);
      started.push(daemon);
    }
    return started;
  };

  const limits = (algorithm: string, time = "1h") =>
    `[limit out]\nkey = sender\ncount = ${N}\ntime = ${time}\nalgorithm = ${algorithm}\naction = defer\n` +
    `[alerts]\nfromAddr = 'postmaster@example.org'\ntoAddr = 'boss@example.org'\nsmtp_host = 127.0.0.1\n` +
    `smtp_port = ${smtp.port}\nretry_min = 200ms\n` +
    `[redis]\nurl = redis://127.0.0.1:${server.port}\npassword = s3cret\nprefix = ${algorithm}:\n`;

  for (const algorithm of ["fixed", "sliding", "bucket"]) {
    it(`${algorithm}: a sender spread over three hosts is deferred at exactly ${N + 1} overall, alerted once`, async () => {
      const three = await hosts(limits(algorithm));
      const sender = `spread-${algorithm}@example.org`;
      const before = smtp.mails.length;
      const answers: string[] = [];
      for (let i = 0; i < N + 3; i++) answers.push(await askPolicy(three[i % 3].policySocket, rcpt(sender)));
      assert.deepEqual(answers.map((answer) => answer.split(" ")[0]), [
        ...Array(N).fill("action=accept"),
        "action=defer",
        "action=defer",
        "action=defer",
      ]);
      assert.match(answers[N], new RegExp(`over limit: ${N} messages in 1h \\(limit ${N}\\)`));
      const deadline = Date.now() + 10_000;
      while (smtp.mails.length === before && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 1000)); // room for a second alert from another host
      const alerts = smtp.mails.slice(before).filter((mail) => mail.body.includes(sender));
      assert.equal(alerts.length, 1, "one alert for the site, not one per host");
    });
  }

  it("a wrong password: the daemon counts locally, says why, and keeps answering", async () => {
    const [lone] = await hosts(
      `[limit out]\nkey = sender\ncount = 1\ntime = 1h\n[redis]\nurl = redis://127.0.0.1:${server.port}\n` +
        "password = wrong\ntimeout = 300ms\n",
      1,
    );
    assert.match(await askPolicy(lone.policySocket, rcpt("w@example.org")), /^action=accept/);
    assert.match(
      await askPolicy(lone.policySocket, rcpt("w@example.org")),
      /^action=defer/,
      "counted locally",
    );
    await lone.waitForLog(/Redis unavailable: the fallback answers until it is back fallback=local/);
    await lone.waitForLog(/WRONGPASS|NOAUTH|invalid username-password/i); // why: ioredis's AUTH error
  });

  it("Redis forgets the counters when their windows end (no growth)", async () => {
    const [one] = await hosts(limits("fixed", "2s").replace("prefix = fixed:", "prefix = expiry:"), 1);
    for (let i = 0; i < 5; i++) await askPolicy(one.policySocket, rcpt(`e${i}@example.org`));
    assert.equal(redisCli(server, "--scan", "--pattern", "expiry:{*").split("\n").filter(Boolean).length, 5);
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(redisCli(server, "--scan", "--pattern", "expiry:{*"), "", "every counter expired");
    // Left: the one record of each limit's key (docs/redis.md, "A limit's key changed"), a field a limit.
    assert.equal(redisCli(server, "--scan", "--pattern", "expiry:*").trim(), "expiry:limit-keys");
    assert.equal(redisCli(server, "hlen", "expiry:limit-keys").trim(), "1");
  });
});
