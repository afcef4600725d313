// A sender with two SMTP sessions at once (a web application's workers, a list manager) interleaves the
// recipients of its messages. A `per = message` limit counts each message once all the same (it remembers
// the messages it counted lately, policy/counted-messages.ts): a real Exim (exim -bd) asking the daemon,
// two sessions held open, every recipient accepted and delivered to the maildir, the next message over.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { waitFor } from "../helpers/daemon-process.ts";
import { type MaildirExim, startMaildirExim } from "../helpers/exim-maildir.ts";
import { openSmtpSession, type SmtpSession } from "../helpers/smtp-session.ts";

describe("per = message with two sessions' recipients interleaved, in a real Exim", () => {
  let setup: MaildirExim;

  before(async () => {
    setup = await startMaildirExim(() =>
      `[limit messages]\nkey = sender\ncount = 2\ntime = 1h\nper = message\n`
    );
  });
  after(async () => await setup?.stop());

  const open = async (): Promise<SmtpSession> => {
    const session = await openSmtpSession(setup.exim.port);
    assert.match(await session.send("EHLO lan.example"), /^250/m);
    assert.match(await session.send("MAIL FROM:<busy@example.org>"), /^250/);
    return session;
  };

  it("counts two messages as two and delivers all their recipients; a third message is over", async () => {
    const sessions = [await open(), await open()];
    try {
      for (const recipient of ["r1", "r2", "r3"]) {
        for (const [i, session] of sessions.entries()) {
          const reply = await session.send(`RCPT TO:<${recipient}-${i}@example.net>`);
          assert.match(reply, /^250/, `message ${i}, ${recipient}: ${reply}`);
        }
      }
      for (const [i, session] of sessions.entries()) {
        assert.match(await session.send("DATA"), /^354/);
        const text = `From: busy@example.org\nSubject: interleaved ${i}\n\nbody ${i}\n`;
        assert.match(await session.sendData(text), /^250/);
        await session.send("QUIT");
      }
    } finally {
      for (const session of sessions) session.close();
    }
    await waitFor(() => setup.messages().length >= 6, 15_000, "six deliveries");
    const subjects = setup.messages().map((text) => /^Subject: (.*)$/m.exec(text)?.[1]).sort();
    assert.deepEqual(subjects, [...Array(3).fill("interleaved 0"), ...Array(3).fill("interleaved 1")]);

    const third = await open();
    try {
      const reply = await third.send("RCPT TO:<r1-2@example.net>");
      assert.match(reply, /^451 .*busy@example\.org over limit: 2 messages in 1h \(limit 2\)/, reply);
    } finally {
      third.close();
    }
  });
});
