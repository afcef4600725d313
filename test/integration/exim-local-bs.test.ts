// Mail handed to sendmail with -bs (SMTP on stdin: the default of Symfony Mailer's and SwiftMailer's sendmail
// transports) runs Exim's SMTP ACLs, not acl_not_smtp, with no client address. The snippet asks about it
// once, at DATA, as mail handed to sendmail (stage local): counted by its login (local_user), frozen over a
// limit and never refused, released and delivered intact. docs/exim.md, "Mail submitted on the command line".
// Found by a review (session 36): before, such mail had no local_user and was refused at RCPT (451).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { EXIM } from "../helpers/exim.ts";
import { type MaildirExim, startMaildirExim } from "../helpers/exim-maildir.ts";
import { waitFor } from "../helpers/daemon-process.ts";

const SLOW = { timeout: 120_000 };

describe("mail handed to sendmail -bs (SMTP on stdin: Symfony Mailer's and SwiftMailer's default)", () => {
  let setup: MaildirExim;
  before(async () => {
    setup = await startMaildirExim(() =>
      `[limit site]\nkey = local_user\ncount = 2\ntime = 1h\n[limit out]\nkey = sender\ncount = 1\ntime = 1h\n`
    );
  }, SLOW);
  after(async () => await setup?.stop());
  const bs = (login: string, session: string) =>
    spawnSync(EXIM, ["-C", setup.dir.file("exim.conf"), "-odi", "-oMt", login, "-bs"], {
      input: session,
      encoding: "utf8",
      timeout: 30_000,
    });

  it("is counted by the login that handed it over, local_user, as sendmail -t mail is", SLOW, () => {
    // A compromised site sends as anyone (-f or MAIL FROM): only its login holds it. -oMt: the login a
    // trusted caller may claim, as in handOver.
    for (const n of [1, 2, 3]) {
      const session = [
        "EHLO localhost",
        `MAIL FROM:<random${n}@spam.example>`,
        "RCPT TO:<user@example.net>",
        "DATA",
        `Subject: bs ${n}`,
        "",
        "body",
        ".",
        "QUIT",
        "",
      ].join("\r\n");
      bs("site5", session);
    }
    const delivered = (n: number) => setup.messages().filter((text) => text.includes(`\nSubject: bs ${n}\n`));
    assert.equal(delivered(1).length, 1);
    assert.equal(delivered(2).length, 1);
    const log = readFileSync(setup.dir.file("log/mainlog"), "utf8");
    assert.match(log, /U=site5 P=local-esmtp/, "Exim knows the login");
    assert.equal(delivered(3).length, 0, "the third is over the site's local_user limit of 2");
  });

  it(
    "is frozen over a limit, not refused: the program that handed it over has nobody to tell",
    SLOW,
    async () => {
      const session = (n: number) =>
        ["EHLO localhost", "MAIL FROM:<same@example.org>", "RCPT TO:<user@example.net>", "DATA"]
          .concat([`Subject: same ${n}`, "", `body of same ${n}`, ".", "QUIT", ""]).join("\r\n");
      assert.doesNotMatch(bs("site6", session(1)).stdout, /^[45]\d\d /m);
      const second = bs("site6", session(2));
      assert.doesNotMatch(second.stdout, /^[45]\d\d /m, "the second, over `out`, is not refused");
      assert.match(second.stdout, /^250 OK id=/m, "accepted into the queue");
      const delivered = (n: number) =>
        setup.messages().filter((text) => text.includes(`\nSubject: same ${n}\n`));
      assert.equal(delivered(1).length, 1);
      assert.equal(delivered(2).length, 0, "the second is held");
      const exim = (...args: string[]) =>
        spawnSync(EXIM, ["-C", setup.dir.file("exim.conf"), ...args], { encoding: "utf8", timeout: 30_000 });
      const queue = exim("-bp").stdout;
      const id = /^\s*\S+\s+\S+\s+(\S+) <same@example\.org> \*\*\* frozen \*\*\*/m.exec(queue)?.[1];
      assert.ok(id, queue);
      assert.match(readFileSync(setup.dir.file("log/mainlog"), "utf8"), /frozen by rule out: 1\/1 /);
      // Nothing is lost: released, it is delivered as it was submitted.
      assert.equal(exim("-Mt", id).status, 0);
      assert.equal(exim("-M", id).status, 0);
      await waitFor(() => delivered(2).length === 1, 10_000, "the released message");
      assert.match(delivered(2)[0], /\n\nbody of same 2\n$/);
    },
  );
});
