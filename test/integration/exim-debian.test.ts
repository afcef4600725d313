// The shipped Debian snippets installed into a copy of this machine's /etc/exim4, turned into a config
// by Debian's own update-exim4.conf, and driven with exim -bh: relayed and authenticated senders (which
// Debian's acl_check_rcpt accepts before any local hook) are counted and deferred; refused relaying is
// refused by Debian's ACL as before and costs no allowance; mail handed to sendmail is counted, and frozen
// over the limit.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { countReplies, debianEximConfig, EXIM, eximBh, message, prepareEximDir } from "../helpers/exim.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const AUTH_PLAIN = Buffer.from("\0alice\0secret").toString("base64");

for (const variant of ["debian-split", "debian-unsplit"] as const) {
  describe(`Debian's Exim config with the ${variant} snippet (update-exim4.conf, exim -bh)`, () => {
    let dir: TempDir;
    let daemon: DaemonProcess;
    let exim: string;

    before(async () => {
      dir = makeTempDir();
      prepareEximDir(dir);
      daemon = await startDaemonProcess(
        dir,
        writeTestConfig(
          dir,
          `socket_group = Debian-exim\n` +
            `[limit outbound]\nkey = sender\ncount = 2\ntime = 1h\nmessage = {key}: sending limit reached\n` +
            `[limit submission]\nkey = sasl_username\ncount = 2\ntime = 1h\nmessage = account {key} paused\n`,
        ),
      );
      exim = debianEximConfig(dir, variant, daemon.eximAddress);
    });
    after(async () => {
      await daemon.stopCleanly();
      dir.remove();
    });

    it("counts and defers a relayed sender (relay_from_hosts)", () => {
      const session = eximBh(exim, "192.0.2.50", [
        "EHLO lan.example",
        ...message("relayed@example.org", ["a@remote.example"], ["Subject: one"]),
        ...message("relayed@example.org", ["b@remote.example"], ["Subject: two"]),
        "MAIL FROM:<relayed@example.org>",
        "RCPT TO:<c@remote.example>",
        "QUIT",
      ]);
      assert.equal(countReplies(session, "250 OK id="), 2, session.output);
      assert.deepEqual(session.replies.filter((reply) => reply.startsWith("451")), [
        "451 relayed@example.org: sending limit reached",
      ]);
    });

    it("counts and defers an authenticated sender by its login", () => {
      const session = eximBh(exim, "203.0.113.5", [
        "EHLO roaming.example",
        `AUTH PLAIN ${AUTH_PLAIN}`,
        ...message("alice@example.org", ["a@remote.example"]),
        ...message("alice.other@example.org", ["b@remote.example"]),
        "MAIL FROM:<third@example.org>",
        "RCPT TO:<c@remote.example>",
        "QUIT",
      ]);
      assert.ok(session.replies.some((reply) => reply.startsWith("235")), session.output);
      assert.equal(countReplies(session, "250 OK id="), 2, session.output);
      // Three different senders: only the login-keyed limit sees them as one account.
      assert.deepEqual(session.replies.filter((reply) => reply.startsWith("451")), [
        "451 account alice paused",
      ]);
    });

    it("leaves Debian's relay refusal alone and does not count refused recipients", () => {
      for (let i = 0; i < 3; i++) {
        const session = eximBh(exim, "203.0.113.6", [
          "EHLO stranger.example",
          "MAIL FROM:<stranger@example.org>",
          "RCPT TO:<victim@remote.example>",
          "QUIT",
        ]);
        assert.ok(session.replies.some((reply) => /^550 relay not permitted/.test(reply)), session.output);
      }
      assert.doesNotMatch(daemon.logs(), /sender=stranger@example\.org/);
    });

    it("counts mail handed to sendmail, and freezes the message over the limit (acl_not_smtp)", () => {
      const submit = (n: number) =>
        spawnSync(EXIM, ["-C", exim, "-odq", "-f", "www@example.org", "user@example.net"], {
          input: `Subject: local ${n}\n\nbody ${n}\n`,
          encoding: "utf8",
          timeout: 30_000,
        });
      for (const n of [1, 2, 3]) assert.equal(submit(n).status, 0, `message ${n} taken`);
      const queue = spawnSync(EXIM, ["-C", exim, "-bp"], { encoding: "utf8" }).stdout;
      assert.equal(queue.match(/<www@example\.org>/g)?.length, 3, queue);
      assert.equal(queue.match(/<www@example\.org> \*\*\* frozen \*\*\*/g)?.length, 1, queue);
      assert.match(
        readFileSync(dir.file("log/mainlog"), "utf8"),
        /mailpolicyd: frozen by rule outbound: 2\/2/,
      );
    });
  });
}
