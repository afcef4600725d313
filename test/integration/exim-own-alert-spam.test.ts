// The daemon's own alert mail through a real Exim whose DATA ACL scans with the spamd front (the shipped
// plain snippet with [spamd]) and a real spamd. The alert quotes the subjects of the mail that made a sender
// cross its limit, and a spammer's subjects are what SpamAssassin scores: here a site rule of 20 points on
// "supercheap pills" (body rules read the Subject too). The spammer's own message is refused at DATA; the
// alert that quotes it is delivered, not refused as spam.
// Mail that only looks like the alert (its sender, to anyone else) is still scanned and refused.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { spamdAddressSpec } from "../../src/exim/spamd-snippet.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { type MaildirExim, startMaildirExim } from "../helpers/exim-maildir.ts";
import { swaks } from "../helpers/exim.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { type Spamd, startSpamd } from "../helpers/spamd.ts";

const SLOW = { timeout: 180_000 };
const SPAMMY = "supercheap pills, today only";
const SITE_RULE = "body LOCAL_PILLS /supercheap pills/i\nscore LOCAL_PILLS 20\n";
const SPAM_REFUSED = /<\*\* 550 This message was classified as spam/;

describe("the daemon's own alert mail is not refused as spam for the subjects it quotes", () => {
  let spamd: Spamd;
  let setup: MaildirExim;

  before(async () => {
    spamd = await startSpamd({ localCf: SITE_RULE });
    const front = await freePort();
    setup = await startMaildirExim(
      (port) =>
        `[limit out]\nkey = sender\ncount = 1\ntime = 1h\n` +
        `[alerts]\nfromAddr = postmaster@example.net\ntoAddr = boss@example.net\n` +
        `smtp_host = 127.0.0.1\nsmtp_port = ${port}\nretry_min = 200ms\nretry_max = 1s\n` +
        `[spamd]\nlisten = 127.0.0.1:${front}\nmark_threshold = 5\nreject_threshold = 10\n` +
        `[spamassassin]\naddress = 127.0.0.1:${spamd.tcp.port}\ntimeout = 20s\n`,
      { spamd: spamdAddressSpec({ hostname: "127.0.0.1", port: front }) },
    );
  }, SLOW);
  after(async () => {
    await setup?.stop();
    await spamd?.stop();
  });

  it("refuses the spammer's mail, then delivers the alert that quotes its subject", SLOW, async () => {
    const spam = swaks(setup.exim.port, "spammer@example.org", "user@example.net", SPAMMY);
    assert.match(spam.output, SPAM_REFUSED, "spamd scores the sender's own mail");
    const over = swaks(setup.exim.port, "spammer@example.org", "user@example.net", "second");
    assert.equal(over.status, 24, over.output);
    assert.match(over.output, /<\*\* 451 \S+ over limit: 1 messages in 1h \(limit 1\)/);

    const alerts = () => setup.messages().filter((text) => /^Subject: Mail Abuse Alert$/m.test(text));
    await waitFor(
      () => alerts().length === 1 || /alert mail (failed|given up)/.test(setup.daemon.logs()),
      60_000,
      "the alert delivered, or its failure logged",
    );
    assert.equal(alerts().length, 1, `the alert is delivered:\n${setup.daemon.logs()}`);
    const [alert] = alerts();
    assert.match(alert, /^Who: +spammer@example\.org$/m);
    assert.match(alert, /^ +1 {2}supercheap pills, today only$/m, "the alert quotes the subject");
    assert.doesNotMatch(alert, /^X-Spam-/m, "not scored at all");
    await setup.daemon.waitForLog(/spamd: the daemon's own alert mail, not scanned sender=postmaster@/);
  });

  it("still scans mail from the alert's sender to anyone but the alert recipients", SLOW, () => {
    const forged = swaks(setup.exim.port, "postmaster@example.net", "user@example.net", SPAMMY);
    assert.match(forged.output, SPAM_REFUSED);
  });
});
