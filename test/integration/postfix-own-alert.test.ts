// The daemon's own alert is not counted, and mail that forges its sender is, through a real Postfix 3.7
// with the snippet's lines. At END-OF-MESSAGE Postfix names the recipient when the message has only one
// (smtpd_check.c, smtpd_check_eod), so a message from this host under fromAddr to anyone but the alert
// recipients is counted by a `data` limit like any other.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { swaksAsync } from "../helpers/exim.ts";
import { type PostfixWithDaemon, startPostfixWithDaemon } from "../helpers/postfix-with-daemon.ts";
import { freePort } from "../helpers/smtp-receiver.ts";

const FROM_ADDR = "mailpolicyd@pfx.test";
const ALERT_RECIPIENT = "postmaster@example.test";

describe("the daemon's own alert at END-OF-MESSAGE, in a real Postfix", () => {
  let setup: PostfixWithDaemon | undefined;

  before(async () => {
    setup = await startPostfixWithDaemon(
      // One message an hour from this host, counted once the message is in.
      `[limit messages]\nkey = client_address\nper = message\ncount = 1\ntime = 1h\nstage = data\n` +
        `action = reject\nmessage = one message an hour\n` +
        // No relay listens there: the alert the limit sends is never delivered; only fromAddr matters here.
        `[alerts]\nfromaddr = ${FROM_ADDR}\ntoaddr = ${ALERT_RECIPIENT}\nsmtp_port = ${await freePort()}\n`,
    );
  });
  after(async () => await setup?.stop());

  it("counts mail under fromAddr to another single recipient, and never the alert itself", async () => {
    const { postfix, failure } = setup!;
    for (const subject of ["alert 1", "alert 2"]) {
      const sent = await swaksAsync(postfix.port, FROM_ADDR, ALERT_RECIPIENT, subject);
      assert.equal(sent.status, 0, `${subject} is the daemon's own: not counted\n${sent.output}${failure()}`);
    }
    const first = await swaksAsync(postfix.port, FROM_ADDR, "victim@example.test", "forged 1");
    assert.equal(first.status, 0, first.output + failure());
    const second = await swaksAsync(postfix.port, FROM_ADDR, "victim@example.test", "forged 2");
    assert.match(
      second.output,
      /^<\*\* 554 5\.7\.1 <END-OF-MESSAGE>: End-of-data rejected: one message an hour/m,
      `the second forged message is over the limit\n${second.output}${failure()}`,
    );
  });
});
