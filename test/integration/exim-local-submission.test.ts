// Mail handed to Exim on the command line (`exim -odi -f SENDER RCPT`, as PHP's mail() and cron hand it to
// /usr/sbin/sendmail) through the plain snippet's acl_not_smtp, in a real Exim delivering into a maildir:
// counted once per message by the sender limit, the message over it frozen in the queue (not refused, not
// lost: released with -Mt and delivered intact), one alert, sent itself through the same command line and
// neither counted nor frozen; a site that sends as anyone is counted by its login (local_user); with the
// daemon stopped, submitted mail is delivered (fail-open). Exim's own bounces pass unasked; a warn limit
// adds its header to submitted mail as it does over SMTP.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { waitFor } from "../helpers/daemon-process.ts";
import { EXIM } from "../helpers/exim.ts";
import { type MaildirExim, startMaildirExim } from "../helpers/exim-maildir.ts";

const SLOW = { timeout: 120_000 };

/** A message handed to the test's Exim on its command line, as sendmail gets it; login: -oMt, as only a
 * trusted caller can set the login Exim sees ($sender_ident). */
function handOver(setup: MaildirExim, sender: string, recipient: string, text: string, login?: string) {
  const as = login === undefined ? [] : ["-oMt", login];
  const result = spawnSync(
    EXIM,
    ["-C", setup.dir.file("exim.conf"), "-odi", ...as, "-f", sender, recipient],
    { input: text, encoding: "utf8", timeout: 30_000 },
  );
  assert.equal(result.status, 0, `exim took the message: ${result.stdout}${result.stderr}`);
}

describe("mail submitted on the command line, through the snippet's acl_not_smtp", () => {
  let setup: MaildirExim;
  const exim = (...args: string[]) =>
    spawnSync(EXIM, ["-C", setup.dir.file("exim.conf"), ...args], { encoding: "utf8", timeout: 30_000 });
  const submit = (sender: string, subject: string, login?: string) =>
    handOver(
      setup,
      sender,
      "user@example.net",
      `From: ${sender}\nTo: user@example.net\nSubject: ${subject}\n\nbody of ${subject}\n`,
      login,
    );
  const delivered = (subject: string) =>
    setup.messages().filter((text) => text.includes(`\nSubject: ${subject}\n`));
  const mainlog = () => readFileSync(setup.dir.file("log/mainlog"), "utf8");

  before(async () => {
    setup = await startMaildirExim((_port, dir) => {
      // The alert goes through the same command line: a wrapper names the test's Exim config.
      const sendmail = dir.file("sendmail");
      writeFileSync(sendmail, `#!/bin/sh\nexec ${EXIM} -C ${dir.file("exim.conf")} -odi "$@"\n`);
      chmodSync(sendmail, 0o755);
      return `[limit out]\nkey = sender\ncount = 2\ntime = 1h\n` +
        `[limit site]\nkey = local_user\ncount = 3\ntime = 1h\n` +
        `[alerts]\nfromAddr = postmaster@example.net\ntoAddr = boss@example.net\n` +
        `sendmail = ${sendmail}\nretry_min = 200ms\nretry_max = 1s\n`;
      // Debian's default: Exim mails the postmaster about every message it freezes, unless told not to.
    }, { eximMain: "freeze_tell = postmaster@example.net\n" });
  }, SLOW);
  after(async () => await setup?.stop());

  it("counts each message, freezes the one over the limit and alerts once", SLOW, async () => {
    for (const n of [1, 2, 3]) submit("www@example.org", `local ${n}`);
    assert.equal(delivered("local 1").length, 1);
    assert.equal(delivered("local 2").length, 1);
    assert.equal(delivered("local 3").length, 0, "the third is held");
    // The warning, then the same message frozen (other Exim processes, the alert's sendmail, may log lines
    // between the two).
    const warned = /(\S+) U=root Warning: mailpolicyd: frozen by rule out: 2\/2 \(exim -Mt to release\)\n/
      .exec(mainlog());
    assert.ok(warned, mainlog());
    assert.match(mainlog().slice(warned.index), new RegExp(`\\n\\S+ \\S+ ${warned[1]} frozen by ACL\\n`));
    const queue = exim("-bp").stdout;
    assert.match(queue, /\*\*\* frozen \*\*\*/, queue);

    const alerts = () => setup.messages().filter((text) => /^Subject: Mail Abuse Alert$/m.test(text));
    await waitFor(() => alerts().length === 1, 30_000, "the alert, through sendmail");
    assert.match(alerts()[0], /^Who: +www@example\.org$/m);
    assert.match(alerts()[0], /^ +1 {2}local 1$/m, "the subjects the local messages carried");
    const told = setup.messages().filter((text) => /^Envelope-to: postmaster@example\.net$/m.test(text));
    assert.deepEqual(
      told,
      [],
      "no freeze_tell notice: the alert is the one notice (control = freeze/no_tell)",
    );
    await setup.daemon.waitForLog(/alert mail sent/);
    assert.doesNotMatch(setup.daemon.logs(), /key=postmaster@example\.net/, "the alert was not counted");

    // Nothing is lost: released, the frozen message is delivered as it was submitted.
    const id = /^\s*\S+\s+\S+\s+(\S+) <www@example\.org> \*\*\* frozen \*\*\*/m.exec(queue)?.[1];
    assert.ok(id, queue);
    assert.equal(exim("-Mt", id).status, 0);
    assert.equal(exim("-M", id).status, 0);
    await waitFor(() => delivered("local 3").length === 1, 10_000, "the released message");
    assert.match(delivered("local 3")[0], /\n\nbody of local 3\n$/);
  });

  it("counts a site that sends as anyone (-f) by its login, local_user", SLOW, async () => {
    for (const n of [1, 2, 3, 4]) submit(`random${n}@spam.example`, `site ${n}`, "site1");
    for (const n of [1, 2, 3]) assert.equal(delivered(`site ${n}`).length, 1, `site ${n}`);
    assert.equal(delivered("site 4").length, 0, "the fourth is held");
    assert.match(mainlog(), /Warning: mailpolicyd: frozen by rule site: 3\/3 /);
    const alerts = () =>
      setup.messages().filter((text) =>
        /^Subject: Mail Abuse Alert$/m.test(text) && /^Who: +site1$/m.test(text)
      );
    await waitFor(() => alerts().length === 1, 30_000, "the alert for site1");
    assert.match(alerts()[0], /^Rule: +site \(per local_user\)$/m);
  });

  it(
    "counts a script that names the alert's sender and recipient (-f): only the daemon's login is exempt",
    SLOW,
    () => {
      const forged = (n: number) =>
        handOver(
          setup,
          "postmaster@example.net",
          "boss@example.net",
          `Subject: forged ${n}\n\nbody\n`,
          "site9",
        );
      for (const n of [1, 2, 3]) forged(n);
      assert.match(
        exim("-bp").stdout,
        /<postmaster@example\.net> \*\*\* frozen \*\*\*/,
        "the third, over `out`",
      );
      assert.equal(delivered("forged 3").length, 0);
    },
  );

  it("counts a message with ten long recipients and a long subject: its request fits", SLOW, () => {
    // The longest request the snippet makes: 253-byte addresses (a 64-byte local part, 58-byte labels), and
    // a subject of quotes, each escaped. Queued only (-odq): nothing is delivered to those domains.
    const domain = (n: number) =>
      `${String(n).padStart(58, "d")}.${"e".repeat(58)}.${"f".repeat(58)}.example.net`;
    const address = (n: number) => `${"r".repeat(64)}@${domain(n)}`;
    const recipients = Array.from({ length: 10 }, (_, i) => address(i));
    const subject = '"'.repeat(400);
    for (const n of [1, 2, 3, 4]) {
      const result = spawnSync(
        EXIM,
        ["-C", setup.dir.file("exim.conf"), "-odq", "-oMt", "longone", "-f", address(90 + n), ...recipients],
        { input: `Subject: ${subject}${n}\n\nbody\n`, encoding: "utf8", timeout: 30_000 },
      );
      assert.equal(result.status, 0, result.stdout + result.stderr);
    }
    assert.equal(address(0).length, 253);
    assert.match(mainlog(), /frozen by rule site: 3\/3 /, "the fourth, over the local_user limit");
    assert.doesNotMatch(mainlog(), /unexpected answer/);
  });

  it("leaves Exim's own bounces alone: never counted, never frozen", SLOW, async () => {
    // Three messages to an address nobody routes: Exim hands itself three bounces (sender <>), through
    // acl_not_smtp like any local message. Counted, the third would be over the sender limit (<>: 2).
    for (const n of [1, 2, 3]) {
      handOver(
        setup,
        `b${n}@example.net`,
        "x@nowhere.invalid",
        `Subject: bounce me ${n}\n\nbody\n`,
        "bouncer",
      );
    }
    const bounces = () =>
      setup.messages().filter((text) => /^X-Failed-Recipients: x@nowhere\.invalid$/m.test(text));
    await waitFor(() => bounces().length === 3, 10_000, "three bounces delivered");
    assert.doesNotMatch(exim("-bp").stdout, /<> \*\*\* frozen/);
    assert.doesNotMatch(mainlog(), /frozen by rule out: 2\/2 .*\n.*<= <> R=/);
  });

  it("delivers submitted mail when the daemon is down (fail-open)", SLOW, async () => {
    await setup.daemon.stop();
    submit("www@example.org", "local while down");
    assert.equal(delivered("local while down").length, 1);
    assert.match(mainlog(), /mailpolicyd: no answer, accepting \(fail-open\)/);
  });
});

describe("a warn limit on mail submitted on the command line", () => {
  let setup: MaildirExim;
  before(async () => {
    setup = await startMaildirExim(() =>
      `[limit watch]\nkey = local_user\ncount = 1\ntime = 1h\naction = warn\nalert = no\n`
    );
  }, SLOW);
  after(async () => await setup?.stop());

  it("delivers the message over it with the warning header, as over SMTP", SLOW, () => {
    for (const n of [1, 2]) {
      handOver(setup, "w@example.org", "user@example.net", `Subject: watched ${n}\n\nbody\n`, "site2");
    }
    const watched = (n: number) =>
      setup.messages().filter((text) => text.includes(`\nSubject: watched ${n}\n`));
    assert.equal(watched(1).length, 1);
    assert.doesNotMatch(watched(1)[0], /^X-Mailpolicyd-Warning:/m);
    assert.equal(watched(2).length, 1, "the second is delivered, not frozen");
    assert.match(watched(2)[0], /^X-Mailpolicyd-Warning: .*site2/m);
  });
});

// Debian's Exim lets every local user set the envelope sender (`untrusted_set_sender = *`), so a login picks
// whichever sender it likes with `sendmail -f`. A sender exempted on a limit keyed by the login was an exit
// from that limit for every login: www-data sent as the trusted application's address, uncounted.
describe("a limit keyed by local_user that exempts a sender", () => {
  let setup: MaildirExim;
  const LIMIT = `[limit site]\nkey = local_user\ncount = 2\ntime = 1h\n`;
  before(async () => {
    setup = await startMaildirExim(() => `${LIMIT}exempt = noreply@example.org\nalert = no\n`);
  }, SLOW);
  after(async () => await setup?.stop());

  it("still counts a login that hands its mail over as that sender (-f)", SLOW, () => {
    for (const n of [1, 2, 3]) {
      handOver(
        setup,
        "noreply@example.org",
        "user@example.net",
        `Subject: as app ${n}\n\nbody\n`,
        "www-data",
      );
    }
    const sent = (n: number) => setup.messages().filter((text) => text.includes(`\nSubject: as app ${n}\n`));
    assert.equal(sent(1).length, 1);
    assert.equal(sent(2).length, 1);
    assert.equal(sent(3).length, 0, "the third, over the login's limit, is held");
    assert.match(readFileSync(setup.dir.file("log/mainlog"), "utf8"), /frozen by rule site: 2\/2 /);
    assert.match(
      setup.daemon.logs(),
      /:\d+: limit site\.exempt: warning: noreply@example\.org: not exempt from this limit/,
    );
  });
});

describe("a limit keyed by local_user that exempts a login", () => {
  let setup: MaildirExim;
  before(async () => {
    setup = await startMaildirExim(() =>
      `[limit site]\nkey = local_user\ncount = 2\ntime = 1h\nexempt = local_user:app\nalert = no\n`
    );
  }, SLOW);
  after(async () => await setup?.stop());

  it("lets the exempt login through and counts every other", SLOW, () => {
    for (const login of ["app", "www-data"]) {
      for (const n of [1, 2, 3]) {
        handOver(setup, "noreply@example.org", "user@example.net", `Subject: ${login} ${n}\n\nbody\n`, login);
      }
    }
    const sent = (subject: string) =>
      setup.messages().filter((text) => text.includes(`\nSubject: ${subject}\n`));
    for (const n of [1, 2, 3]) assert.equal(sent(`app ${n}`).length, 1, `app ${n}`);
    assert.equal(sent("www-data 2").length, 1);
    assert.equal(sent("www-data 3").length, 0, "www-data's third is held");
  });
});
