// The Postfix listener with a real Postfix: Debian's postfix, unpacked beside Exim (test/helpers/postfix.ts),
// configured with `mailpolicyd postfix-snippet`'s own lines, asks an in-process daemon with a per-recipient
// limit, alerts to a real SMTP receiver and [spf] over Debian's nsd. The N+1th recipient of a sender is
// deferred with the limit's text and one alert mail goes out; a forged sender is rejected with the
// domain's explanation; a legitimate message gets Received-SPF prepended; the Unix socket route works as
// the TCP one; with the daemon stopped Postfix's default_action (DUNNO, fail-open) applies and the mail
// arrives byte for byte, and the fail-closed lines defer it instead.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { policyCheck, postfixEndpoint } from "../../src/postfix/snippet.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { swaksAsync, swaksWith } from "../helpers/exim.ts";
import type { Nsd } from "../helpers/nsd.ts";
import {
  pastedSnippet,
  postfixPrivateDirectory,
  type PostfixServer,
  startPostfix,
} from "../helpers/postfix.ts";
import { freePort, type SmtpReceiver, startSmtpReceiver } from "../helpers/smtp-receiver.ts";
import { type DnsRelay, spfDaemonConfigText, startDnsRelay, startSpfNsd } from "../helpers/spf-zone.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const LIMIT_TEXT = "{key} has reached {count} recipients in {window}, try later";

/** One raw message (headers and body, LF lines) through swaks; Postfix adds only its trace headers. */
function sendRaw(port: number, from: string, to: string, raw: string, file: string) {
  // Without its last line end: swaks ends DATA with its own CRLF before the dot.
  writeFileSync(file, raw.replace(/\n$/, "").replace(/\n/g, "\r\n"));
  return swaksWith([
    ...["--server", "127.0.0.1", "--port", String(port), "--from", from, "--to", to],
    ...["--helo", "client.example", "--data", file],
  ]);
}

describe("Postfix policy delegation with a real Postfix", () => {
  let dir: TempDir;
  let nsd: Nsd;
  let relay: DnsRelay;
  let receiver: SmtpReceiver;
  let daemon: Daemon | undefined;
  let postfix: PostfixServer | undefined;
  let policyPort: number;
  const lines: string[] = [];

  before(async () => {
    dir = makeTempDir();
    postfixPrivateDirectory(dir);
    nsd = await startSpfNsd();
    relay = await startDnsRelay(nsd.port);
    receiver = await startSmtpReceiver();
    policyPort = await freePort();
    const parsed = parseConfig(
      spfDaemonConfigText(relay.port) +
        `[limit rcpts]\nkey = sender\nper = recipient\ncount = 3\ntime = 1h\naction = defer\n` +
        `message = ${LIMIT_TEXT}\n` +
        `[alerts]\nfromaddr = mailpolicyd@pfx.test\ntoaddr = postmaster@pfx.test\nsmtp_host = 127.0.0.1\n` +
        `smtp_port = ${receiver.port}\nretry_min = 100ms\n` +
        // smtpd connects as mail_owner (nobody here, postfix on Debian: socket_group = postfix there).
        // The socket in Postfix's queue directory, where a chrooted smtpd reaches it (docs/postfix.md).
        `[postfix]\nlisten = 127.0.0.1:${policyPort}\nsocket = spool/private/mailpolicyd\nsocket_mode = 0666\n`,
      "test.conf",
      dir.path,
    );
    assert.ok(parsed.ok, JSON.stringify(parsed));
    daemon = startDaemon({ config: parsed.config, log: createLogger("info", (line) => lines.push(line)) });
    await waitFor(() => lines.some((line) => line.includes("postfix: listening")), 5000, "Postfix listener");
    postfix = await startPostfix(dir, await freePort(), {
      recipientRestrictions: "", // the snippet's lines below set it
      mainExtra: pastedSnippet(`inet:127.0.0.1:${policyPort}`),
    });
  });
  after(async () => {
    await postfix?.stop();
    daemon?.stop();
    await receiver?.close();
    relay?.close();
    await nsd?.stop();
    dir?.remove();
  });

  const failure = () => `maillog:\n${postfix!.maillog()}\ndaemon:\n${lines.join("\n")}`;

  it("defers the N+1th recipient of a sender with the limit's text, and alerts once", async () => {
    const to = ["r1", "r2", "r3", "r4", "r5"].map((name) => `${name}@example.test`).join(",");
    const sent = await swaksAsync(postfix!.port, "alice@pass.spf.test", to, "five recipients", "limit body");
    const refusals = sent.output.match(/^<\*\* 450 4\.7\.1 .*$/gm) ?? [];
    assert.equal(refusals.length, 2, sent.output + failure());
    assert.match(
      refusals[0],
      /<r4@example.test>: Recipient address rejected: alice@pass.spf.test has reached 3 recipients in 1h, try later/,
    );
    await waitFor(() => postfix!.delivered().length === 3, 15_000, "3 deliveries");
    for (const mail of postfix!.delivered()) {
      assert.equal(mail.split("\n\n")[0].match(/^Received-SPF: pass /gm)?.length, 1, mail);
    }
    await waitFor(() => receiver.mails.length === 1, 10_000, "the alert mail");
    assert.match(receiver.mails[0].raw, /alice@pass\.spf\.test/);
    // The same sender again: deferred at its first recipient; no second alert in the window.
    const again = await swaksAsync(postfix!.port, "alice@pass.spf.test", "r6@example.test", "again");
    assert.match(again.output, /^<\*\* 450 4\.7\.1 <r6@example.test>: Recipient address rejected: alice@/m);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(receiver.mails.length, 1);
  });

  it("prepends Received-SPF to a legitimate sender's mail", async () => {
    const before = postfix!.delivered().length;
    const sent = await swaksAsync(postfix!.port, "bob@pass.spf.test", "spf@example.test", "legitimate");
    assert.equal(sent.status, 0, sent.output + failure());
    await waitFor(() => postfix!.delivered().length === before + 1, 15_000, "delivery");
    const mail = postfix!.delivered().find((text) => text.includes("Subject: legitimate"))!;
    const spf = mail.split("\n\n")[0].match(/^Received-SPF: .*$/gm) ?? [];
    assert.equal(spf.length, 1, mail);
    assert.match(spf[0], /^Received-SPF: pass .*envelope-from="bob@pass.spf.test"/);
  });

  it("rejects an SPF failure with the domain's explanation", async () => {
    const sent = await swaksAsync(postfix!.port, "mallory@fail.spf.test", "spf@example.test", "forged");
    assert.notEqual(sent.status, 0);
    assert.match(
      sent.output,
      /^<\*\* 554 5\.7\.1 <spf@example.test>: Recipient address rejected: 127.0.0.1 may not send mail for fail.spf.test, see https:\/\/spf.test\/why/m,
      sent.output + failure(),
    );
  });

  it("asks over the Unix socket from a chrooted smtpd just the same (unix:private/NAME)", async () => {
    const restart = async (endpoint: string, chrootSmtpd: boolean) => {
      const port = postfix!.port;
      await postfix!.stop();
      postfix = await startPostfix(dir, port, {
        recipientRestrictions: "",
        mainExtra: pastedSnippet(endpoint),
        chrootSmtpd,
      });
    };
    // What `postfix-snippet` prints for this socket, relative to this Postfix's queue directory.
    const endpoint = postfixEndpoint({ path: dir.file("spool/private/mailpolicyd") }, dir.file("spool"));
    assert.equal(endpoint, "unix:private/mailpolicyd");
    await restart(endpoint, true);
    try {
      const sent = await swaksAsync(postfix!.port, "alice@pass.spf.test", "unix@example.test", "over unix");
      assert.match(
        sent.output,
        /^<\*\* 450 4\.7\.1 <unix@example.test>: Recipient address rejected: alice@pass.spf.test has reached/m,
        sent.output + failure(),
      );
    } finally {
      await restart(`inet:127.0.0.1:${policyPort}`, false);
    }
  });

  it("daemon stopped: default_action=DUNNO applies and the mail arrives intact", async () => {
    daemon!.stop();
    daemon = undefined;
    const raw =
      "From: Carol <carol@pass.spf.test>\nTo: <down@example.test>\nSubject: while the daemon is down\n" +
      "Date: Wed, 02 Dec 2026 12:00:00 +0000\nMessage-ID: <down.1@pass.spf.test>\nMIME-Version: 1.0\n" +
      "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" +
      "first line\n  indented, trailing spaces   \n\xe9t\xe9 na\xefve \u2014 UTF-8\n.leading dot\n\nlast line\n";
    const before = postfix!.delivered().length;
    const sent = await sendRaw(
      postfix!.port,
      "carol@pass.spf.test",
      "down@example.test",
      raw,
      dir.file("raw.eml"),
    );
    assert.equal(sent.status, 0, sent.output + failure());
    await waitFor(() => postfix!.delivered().length === before + 1, 15_000, "delivery");
    const mail = postfix!.delivered().find((text) => text.includes("Message-ID: <down.1@pass.spf.test>"))!;
    assert.ok(mail.endsWith(raw), mail);
    assert.match(postfix!.maillog(), /connect to 127\.0\.0\.1:\d+: Connection refused/);
  });

  it("daemon stopped, the snippet's fail-closed lines: the recipient is deferred", async () => {
    await postfix!.stop();
    postfix = await startPostfix(dir, postfix!.port, {
      recipientRestrictions: "",
      mainExtra: pastedSnippet(`inet:127.0.0.1:${policyPort}`, true),
    });
    const sent = await swaksAsync(postfix.port, "dave@pass.spf.test", "closed@example.test", "fail-closed");
    assert.match(
      sent.output,
      /^<\*\* 451 4\.3\.5 <closed@example.test>: Recipient address rejected: mail policy service unavailable, try again later/m,
      sent.output + failure(),
    );
    assert.match(policyCheck("inet:127.0.0.1:1", true), /default_action = 451 4\.3\.5/);
  });
});
