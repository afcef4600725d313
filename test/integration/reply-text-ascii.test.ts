// A refusal's text names the sender, whose local part may be UTF-8. RFC 6531 lets a server write UTF-8 in a
// reply only to a client that asked for SMTPUTF8, and both MTAs pass the daemon's text on as it is: Postfix
// 3.7 (strict_smtputf8 = no, its default, takes a UTF-8 MAIL FROM without SMTPUTF8) and Exim 4.96 both
// wrote `ålice@…` raw to such a client. Postfix tells a policy server nothing of SMTPUTF8, so the daemon
// writes every refusal's non-ASCII characters as RFC 6533's `\x{HEX}`, to Postfix and to Exim alike.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { after, before, describe, it } from "node:test";
import { type PostfixWithDaemon, startPostfixWithDaemon } from "../helpers/postfix-with-daemon.ts";
import { openSmtpSession } from "../helpers/smtp-session.ts";
import { eximBh, startDaemonForExim, swaksWith, writeEximConfig } from "../helpers/exim.ts";
import type { DaemonProcess } from "../helpers/daemon-process.ts";
import type { TempDir } from "../helpers/temp-dir.ts";

// Deferred from its second recipient on, with the default message, which starts with the sender.
const LIMIT = "[limit rcpts]\nkey = sender\nper = recipient\ncount = 1\ntime = 1h\naction = defer\n";
const NON_ASCII = /[\u0080-\uffff]/;

describe("a refusal's text through a real Postfix, for a UTF-8 sender", () => {
  let setup: PostfixWithDaemon | undefined;

  before(async () => setup = await startPostfixWithDaemon(LIMIT));
  after(async () => await setup?.stop());

  it("is ASCII for a client that did not ask for SMTPUTF8 (swaks)", async () => {
    const { postfix, failure } = setup!;
    const { output } = await swaksWith([
      ...["--server", "127.0.0.1", "--port", String(postfix.port), "--helo", "client.example"],
      ...["--from", "ålice@example.org", "--to", "r1@example.test,r2@example.test", "--quit-after", "RCPT"],
    ]);
    const deferred = output.split("\n").find((line) => line.includes(" 450 "));
    assert.ok(deferred !== undefined, output + failure());
    assert.match(
      deferred,
      /450 4\.7\.1 <r2@example\.test>: Recipient address rejected: \\x\{E5\}lice@example\.org/,
    );
    assert.doesNotMatch(deferred, NON_ASCII);
  });

  it("is ASCII for a client that asked for SMTPUTF8 too: Postfix does not tell which", async () => {
    const { postfix, failure } = setup!;
    const session = await openSmtpSession(postfix.port);
    let deferred: string;
    try {
      assert.match(await session.send("EHLO client.example"), /^250-SMTPUTF8/m);
      assert.match(await session.send("MAIL FROM:<bøb@example.org> SMTPUTF8"), /^250 /, failure());
      assert.match(await session.send("RCPT TO:<r1@example.test>"), /^250 /, failure());
      deferred = await session.send("RCPT TO:<r2@example.test>");
      await session.send("QUIT");
    } finally {
      session.close();
    }
    assert.match(
      deferred,
      /^450 4\.7\.1 <r2@example\.test>: Recipient address rejected: b\\x\{F8\}b@/,
      failure(),
    );
    assert.doesNotMatch(deferred, NON_ASCII);
  });
});

describe("a refusal's text through a real Exim, for a UTF-8 sender", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;
  let exim: string;

  before(async () => {
    ({ dir, daemon } = await startDaemonForExim(LIMIT));
    exim = writeEximConfig(dir, { address: daemon.eximAddress });
  });
  after(async () => {
    await daemon.stopCleanly();
    dir.remove();
  });

  for (const [extension, sender] of [["", "ålice@example.org"], [" SMTPUTF8", "bøb@example.org"]]) {
    it(`is ASCII${extension === "" ? " for a client that did not ask for SMTPUTF8" : " with SMTPUTF8 too"}`, () => {
      const exchange = eximBh(
        exim,
        "192.0.2.7",
        [
          "EHLO client.example",
          `MAIL FROM:<${sender}>${extension}`,
          "RCPT TO:<r1@example.net>",
          "RCPT TO:<r2@example.net>",
          "QUIT",
        ].map((line) => Buffer.from(line, "utf8").toString("latin1")),
      );
      const deferred = exchange.replies.find((line) => line.startsWith("451 "));
      assert.ok(deferred !== undefined, exchange.output);
      assert.match(deferred, /^451 [a-z]*\\x\{(E5|F8)\}[a-z]*@example\.org over limit/);
      assert.doesNotMatch(deferred, NON_ASCII);
    });
  }
});
