// The daemon's own alert mail through a real Exim (exim -bd, the plain snippet asking this daemon): a limit
// of one message per sender, four senders crossing it, four alerts from the same fromAddr, every one
// delivered to the maildir, none deferred, while ordinary senders, and a forged fromAddr to anyone but
// the alert recipients, are still limited.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { waitFor } from "../helpers/daemon-process.ts";
import { type MaildirExim, startMaildirExim } from "../helpers/exim-maildir.ts";
import { swaks } from "../helpers/exim.ts";

const SLOW = { timeout: 90_000 };
const SENDERS = ["s1@example.org", "s2@example.org", "s3@example.org", "s4@example.org"];

describe("the daemon's own alerts through a real Exim are never limited", () => {
  let setup: MaildirExim;

  before(async () => {
    setup = await startMaildirExim((port) =>
      `[limit out]\nkey = sender\ncount = 1\ntime = 1h\n` +
      `[alerts]\nfromAddr = postmaster@example.net\ntoAddr = boss@example.net\nccAddr = it@example.net\n` +
      `smtp_host = 127.0.0.1\nsmtp_port = ${port}\nretry_min = 200ms\nretry_max = 1s\n`
    );
  }, SLOW);
  after(async () => await setup?.stop());

  it("delivers every alert while the senders that caused them are deferred", SLOW, async () => {
    for (const sender of SENDERS) {
      assert.equal(swaks(setup.exim.port, sender, "user@example.net", "first").status, 0, sender);
      const second = swaks(setup.exim.port, sender, "user@example.net", "second");
      assert.equal(second.status, 24, `${sender}'s second message is deferred:\n${second.output}`);
      assert.match(second.output, /<\*\* 451 \S+ over limit: 1 messages in 1h \(limit 1\)/);
    }

    // Four alerts, each to boss@ and it@: eight deliveries, besides the senders' four first messages.
    const alerts = () => setup.messages().filter((text) => /^Subject: Mail Abuse Alert$/m.test(text));
    await waitFor(() => alerts().length >= 8, 30_000, "eight alert deliveries");
    const who = alerts().map((text) => /^Who: +(\S+)$/m.exec(text)![1]);
    for (const sender of SENDERS) assert.equal(who.filter((key) => key === sender).length, 2, sender);
    for (const text of alerts()) assert.match(text, /^\t\(envelope-from <postmaster@example\.net>\)$/m);

    const sent = () => setup.daemon.logs().match(/ alert mail sent /g)?.length ?? 0;
    await waitFor(() => sent() >= 4, 10_000, "four 'alert mail sent' log lines"); // the pipe is read now
    const logs = setup.daemon.logs();
    assert.equal(sent(), 4);
    assert.doesNotMatch(logs, /alert mail failed/);
    assert.doesNotMatch(logs, /key=postmaster@example\.net/, "the alert sender was never counted");
    const mainlog = readFileSync(setup.dir.file("log/mainlog"), "utf8");
    assert.doesNotMatch(mainlog, /F=<postmaster@example\.net>.*temporarily rejected/);
  });

  it("still limits the alert sender's address to anyone but the alert recipients", SLOW, () => {
    assert.equal(swaks(setup.exim.port, "postmaster@example.net", "user@example.net", "forged 1").status, 0);
    const forged = swaks(setup.exim.port, "postmaster@example.net", "user@example.net", "forged 2");
    assert.equal(forged.status, 24, forged.output);
    assert.match(forged.output, /<\*\* 451 postmaster@example\.net over limit: 1 messages in 1h \(limit 1\)/);
  });
});
