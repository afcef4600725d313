// Real delivery: an Exim daemon on a loopback port (exim -bd) with the plain snippet, mail sent with
// swaks, delivered to a maildir. A `warn` limit adds its header to the delivered message; a `defer`
// limit makes swaks see the 451 at RCPT.
import assert from "node:assert/strict";
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { type EximDaemon, prepareEximDir, startEximDaemon, swaks, writeEximConfig } from "../helpers/exim.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

describe("delivery through a real Exim daemon (exim -bd, swaks, maildir)", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;
  let exim: EximDaemon;
  const maildir = () => `${dir.file("maildir")}/new`;

  before(async () => {
    dir = makeTempDir();
    prepareEximDir(dir);
    mkdirSync(dir.file("maildir"));
    const owner = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("Debian-exim:"))!
      .split(":");
    chownSync(dir.file("maildir"), Number(owner[2]), Number(owner[3]));
    daemon = await startDaemonProcess(
      dir,
      writeTestConfig(
        dir,
        `socket_group = Debian-exim\n` +
          `[limit watch]\nkey = sender\nstage = data\ncount = 1\ntime = 1h\naction = warn\nmessage = {key} is sending a lot ({count})\n` +
          `[limit stop]\nkey = sender\ncount = 3\ntime = 1h\n`,
      ),
    );
    const config = writeEximConfig(dir, {
      socket: daemon.policySocket,
      mainExtra: "local_interfaces = <; 127.0.0.1\nnever_users = root\n",
      siteRcptAcl: "  accept domains = +local_domains\n  deny message = relay not permitted\n",
      routers: "to_maildir:\n  driver = accept\n  domains = +local_domains\n  transport = maildir_delivery\n",
      transports:
        `maildir_delivery:\n  driver = appendfile\n  directory = ${dir.file("maildir")}\n  maildir_format\n` +
        `  user = Debian-exim\n  group = Debian-exim\n  create_directory\n  delivery_date_add\n  envelope_to_add\n`,
    });
    exim = await startEximDaemon(dir, config, await freePort());
  });
  after(async () => {
    await exim?.stop();
    await daemon?.stopCleanly();
    dir.remove();
  });

  it("delivers the first message untouched and adds the warn header to the second", async () => {
    assert.equal(swaks(exim.port, "busy@example.org", "user@example.net", "first").status, 0);
    assert.equal(swaks(exim.port, "busy@example.org", "user@example.net", "second").status, 0);
    await waitFor(
      () => existsSync(maildir()) && readdirSync(maildir()).length >= 2,
      15_000,
      "two deliveries",
    );
    const messages = readdirSync(maildir()).map((name) => readFileSync(`${maildir()}/${name}`, "utf8"));
    const first = messages.find((text) => /^Subject: first$/m.test(text))!;
    const second = messages.find((text) => /^Subject: second$/m.test(text))!;
    assert.doesNotMatch(first, /X-Mailpolicyd-Warning/);
    assert.match(second, /^X-Mailpolicyd-Warning: busy@example\.org is sending a lot \(2\)$/m);
  });

  it("makes the SMTP client see the deferral at RCPT", () => {
    const third = swaks(exim.port, "busy@example.org", "user@example.net", "third");
    assert.equal(third.status, 0);
    const fourth = swaks(exim.port, "busy@example.org", "user@example.net", "fourth");
    assert.equal(fourth.status, 24, "swaks exits 24 when the recipient is refused");
    assert.match(fourth.output, /<\*\* 451 sender over limit: 4 messages in 1h/);
  });
});
