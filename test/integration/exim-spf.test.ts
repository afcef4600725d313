// SPF with real mail: a real Exim (exim -bd, the plain snippet over TCP) asks an in-process daemon with
// [spf], whose DNS is Debian's nsd behind a relay that can stop answering. A forged sender is refused at
// RCPT with the domain's explanation; a legitimate one is delivered with Received-SPF: pass (once per
// message, though every recipient's RCPT adds it); with DNS down the sender is deferred (temperror), nothing
// is delivered, and once DNS is back the same message is delivered intact.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { type EximDaemon, prepareEximDir, swaksAsync } from "../helpers/exim.ts";
import type { Nsd } from "../helpers/nsd.ts";
import { startDeliveringExim } from "../helpers/exim-maildir.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { type DnsRelay, spfDaemonConfigText, startDnsRelay, startSpfNsd } from "../helpers/spf-zone.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

describe("SPF through a real Exim", () => {
  let dir: TempDir;
  let nsd: Nsd;
  let relay: DnsRelay;
  let daemon: Daemon;
  let exim: EximDaemon;
  const lines: string[] = [];
  const delivered = () => {
    const path = dir.file("maildir/new");
    return existsSync(path)
      ? readdirSync(path).sort().map((name) => readFileSync(`${path}/${name}`, "utf8"))
      : [];
  };

  before(async () => {
    dir = makeTempDir();
    prepareEximDir(dir);
    nsd = await startSpfNsd();
    relay = await startDnsRelay(nsd.port);
    const policyPort = await freePort();
    const parsed = parseConfig(
      spfDaemonConfigText(relay.port, `127.0.0.1:${policyPort}`),
      "test.conf",
      dir.path,
    );
    assert.ok(parsed.ok, JSON.stringify(parsed));
    daemon = startDaemon({ config: parsed.config, log: createLogger("info", (line) => lines.push(line)) });
    await waitFor(() => lines.some((line) => line.includes("policy: listening")), 5000, "listener");
    exim = await startDeliveringExim(dir, `inet:127.0.0.1:${policyPort}`, await freePort());
  });
  after(async () => {
    await exim?.stop();
    daemon?.stop();
    relay?.close();
    await nsd?.stop();
    dir?.remove();
  });

  it("a forged sender is refused at RCPT with the domain's exp= explanation", async () => {
    const sent = await swaksAsync(exim.port, "mallory@fail.spf.test", "user@example.net", "forged");
    assert.notEqual(sent.status, 0, sent.output);
    assert.match(
      sent.output,
      /<\*\* 550 127.0.0.1 may not send mail for fail.spf.test, see https:\/\/spf.test\/why/,
    );
    assert.equal(delivered().length, 0);
  });

  // The exp= text is the sender domain's. Exim takes a message starting with three digits and a space as
  // the reply's code; one of another class than the deny's 5 it writes to its panic log and cuts off.
  it("an exp= text that starts with a reply code is said after SPF fail:, not taken as Exim's code", async () => {
    const sent = await swaksAsync(exim.port, "mallory@codefail.spf.test", "user@example.net", "forged");
    assert.notEqual(sent.status, 0, sent.output);
    assert.match(sent.output, /<\*\* 550 SPF fail: 421 4\.7\.0 codefail\.spf\.test is closing/);
    const panic = dir.file("log/paniclog");
    assert.ok(!existsSync(panic), existsSync(panic) ? readFileSync(panic, "utf8") : "");
  });

  it("a legitimate sender is delivered with one Received-SPF: pass per message", async () => {
    const sent = await swaksAsync(
      exim.port,
      "alice@pass.spf.test",
      "user@example.net,other@example.net",
      "legitimate",
      "body line 1",
    );
    assert.equal(sent.status, 0, sent.output);
    await waitFor(() => delivered().length === 2, 10_000, "delivery to both recipients");
    for (const mail of delivered()) {
      const headers = mail.split("\n\n")[0];
      const spf = headers.match(/^Received-SPF: .*$/gm) ?? [];
      assert.equal(spf.length, 1, headers);
      assert.match(
        spf[0],
        /^Received-SPF: pass \(.*: domain of alice@pass.spf.test designates 127.0.0.1 as permitted sender\) client-ip=127.0.0.1; envelope-from="alice@pass.spf.test"; helo=client.example; .*mechanism="include:two.spf.test";$/,
      );
      assert.match(mail, /^Subject: legitimate$/m);
      assert.match(mail, /\nbody line 1\n/);
    }
  });

  it("DNS down: the sender is deferred (temperror), nothing delivered; DNS back: delivered intact", async () => {
    relay.down = true;
    const down = await swaksAsync(
      exim.port,
      "bob@redir.spf.test",
      "user@example.net",
      "while DNS is down",
      "kept",
    );
    assert.notEqual(down.status, 0, down.output);
    assert.match(down.output, /<\*\* 451 SPF temporary error for redir.spf.test, try again later/);
    assert.equal(delivered().length, 2, "nothing more delivered");
    relay.down = false;
    const up = await swaksAsync(
      exim.port,
      "bob@redir.spf.test",
      "user@example.net",
      "while DNS is down",
      "kept",
    );
    assert.equal(up.status, 0, up.output);
    await waitFor(() => delivered().length === 3, 10_000, "delivery");
    const mail = delivered().find((text) => text.includes("Subject: while DNS is down"))!;
    assert.match(mail, /^Received-SPF: pass .*envelope-from="bob@redir.spf.test"/m);
    assert.match(mail, /\nkept\n/);
  });

  // Exim keeps the escapes of a quoted local part in $sender_address, and the sender's own SPF record
  // writes the permerror's problem ("unknown mechanism" and the term): 150 backslashes each. Cut to 160
  // characters before being escaped, each value came out twice as long in Received-SPF: a 1028-character
  // line, which Exim's smtp transport refuses to relay (message_linelength_limit, 998).
  it("a sender and a record full of backslashes get a Received-SPF line under 998 characters", async () => {
    const sender = `"${"\\\\".repeat(75)}"@slashes.spf.test`;
    const sent = await swaksAsync(exim.port, sender, "user@example.net", "backslashes", "intact");
    assert.equal(sent.status, 0, sent.output);
    await waitFor(
      () => delivered().some((text) => text.includes("Subject: backslashes")),
      10_000,
      "delivery",
    );
    const mail = delivered().find((text) => text.includes("Subject: backslashes"))!;
    const spf = mail.match(/^Received-SPF: .*$/m)?.[0] ?? "";
    assert.match(spf, /^Received-SPF: permerror .* problem="unknown mechanism \\"\\\\/, mail);
    const longest = Math.max(...mail.split("\n").map((line) => line.length));
    assert.ok(longest <= 998, `a delivered line of ${longest} characters: ${spf}`);
  });
});
