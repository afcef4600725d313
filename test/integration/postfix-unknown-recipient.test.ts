// A real Postfix with `postfix-snippet`'s lines, delivering to one known mailbox: RCPTs to addresses
// that do not exist (a typo, a dictionary attack under a forged sender) are refused by Postfix as unknown,
// and must reach mailpolicyd neither to use up the sender's allowance nor to be deferred by it. Postfix
// applies its implicit reject_unlisted_recipient only after smtpd_recipient_restrictions and after a
// DEFER_IF_PERMIT has been turned into a deferral (smtpd_check.c, smtpd_check_rcpt), so the snippet
// checks the recipient first (docs/postfix.md, "Setup").
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { waitFor } from "../helpers/daemon-process.ts";
import { httpGet } from "../helpers/http-get.ts";
import { type PostfixWithDaemon, startPostfixWithDaemon } from "../helpers/postfix-with-daemon.ts";
import { openSmtpSession } from "../helpers/smtp-session.ts";

describe("a real Postfix with the snippet's lines and unknown recipients", () => {
  let setup: PostfixWithDaemon | undefined;

  before(async () => {
    setup = await startPostfixWithDaemon(
      `[limit rcpts]\nkey = sender\nper = recipient\ncount = 2\ntime = 1h\naction = defer\n` +
        `[limit msgs]\nkey = sender\nper = message\ncount = 100\ntime = 1h\naction = defer\n`,
      // One mailbox: every other address of example.test is unknown (Postfix: 550 5.1.1 User unknown).
      `virtual_mailbox_maps = inline:{ known@example.test=sink/ }\n`,
    );
  });
  after(async () => await setup?.stop());

  const counts = async (sender: string) => {
    const { body } = await httpGet({
      socketPath: setup!.dir.file("control.sock"),
      path: `/senders/${sender}`,
    });
    const rows = (JSON.parse(body).limits ?? []) as { rule: string; count: number }[];
    return Object.fromEntries(rows.map((row) => [row.rule, row.count]));
  };

  it("refuses them as unknown, uncounted, and the known recipient still gets the mail", async () => {
    const { postfix, failure } = setup!;
    const session = await openSmtpSession(postfix.port);
    const replies: string[] = [];
    try {
      await session.send("EHLO client.example");
      assert.match(await session.send("MAIL FROM:<typo@sender.test>"), /^250 /);
      for (const name of ["nobody1", "nobody2", "nobody3", "nobody4"]) {
        replies.push(await session.send(`RCPT TO:<${name}@example.test>`));
      }
      // A message that went to no one: per = message has nothing to count either.
      assert.match(await session.send("RSET"), /^250 /);
      assert.match(await session.send("MAIL FROM:<typo@sender.test>"), /^250 /);
      replies.push(await session.send("RCPT TO:<known@example.test>"));
      for (const reply of replies.slice(0, 4)) {
        assert.match(
          reply,
          /^550 5\.1\.1 <nobody\d@example\.test>: Recipient address rejected: User unknown/,
          failure(),
        );
      }
      assert.match(replies[4], /^250 /, failure());
      assert.match(await session.send("DATA"), /^354 /);
      assert.match(await session.sendData("Subject: hello\n\nhello"), /^250 /, failure());
      await session.send("QUIT");
    } finally {
      session.close();
    }
    await waitFor(() => postfix.delivered().length === 1, 15_000, "the delivery");
    assert.deepEqual(await counts("typo@sender.test"), { rcpts: 1, msgs: 1 });
  });
});
