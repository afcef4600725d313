// The shipped Exim snippets with [spamd]: plain, Debian split and Debian unsplit (built by Debian's own
// update-exim4.conf from a copy of /etc/exim4), each in a real Exim (-bd, delivering into a maildir) asking
// an in-process daemon's spamd front with variant=rspamd. Clean mail is delivered without X-Spam headers,
// mail above mark_threshold with X-Spam-Score/-Bar/-Report, mail above reject_threshold is refused at DATA;
// with the daemon stopped the mail is delivered intact and Exim logs that it went unscanned.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { Daemon } from "../../src/daemon.ts";
import { spamdAddressSpec } from "../../src/exim/spamd-snippet.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import {
  debianEximConfig,
  type EximDaemon,
  maildirDelivery,
  prepareEximDir,
  startEximDaemon,
  swaksAsync,
  writeEximConfig,
} from "../helpers/exim.ts";
import { startFrontDaemon } from "../helpers/spamd-front.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

for (const variant of ["plain", "debian-split", "debian-unsplit"] as const) {
  describe(`the ${variant} snippet with [spamd], in a real Exim`, () => {
    let dir: TempDir;
    let daemon: Daemon;
    let exim: EximDaemon;
    const delivered = (subject: string) => {
      const path = dir.file("maildir/new");
      return existsSync(path)
        ? readdirSync(path).map((name) => readFileSync(`${path}/${name}`, "utf8"))
          .filter((mail) => mail.includes(`\nSubject: ${subject}\n`))
        : [];
    };
    const headers = (mail: string) => mail.split("\n\n")[0].replace(/\n[ \t]+/g, " ");
    const send = (subject: string, body: string) =>
      swaksAsync(exim.port, "alice@example.org", "user@example.net", subject, body);

    before(async () => {
      dir = makeTempDir();
      prepareEximDir(dir);
      const policyPort = await freePort();
      const frontPort = await freePort();
      ({ daemon } = await startFrontDaemon(
        dir,
        `127.0.0.1:${policyPort}`,
        `listen = 127.0.0.1:${frontPort}\n`,
      ));
      const address = `inet:127.0.0.1:${policyPort}`;
      const spamd = spamdAddressSpec({ hostname: "127.0.0.1", port: frontPort });
      const config = variant === "plain"
        ? writeEximConfig(dir, {
          address,
          spamd,
          mainExtra: "local_interfaces = <; 127.0.0.1\nnever_users = root\n",
          siteRcptAcl: "  accept domains = +local_domains\n  deny message = relay not permitted\n",
          ...maildirDelivery(dir),
        })
        : debianEximConfig(dir, variant, address, spamd);
      exim = await startEximDaemon(dir, config, await freePort());
    });
    after(async () => {
      await exim?.stop();
      daemon?.stop();
      dir?.remove();
    });

    it("clean mail: delivered, no X-Spam headers", async () => {
      const sent = await send("clean", "nothing here");
      assert.equal(sent.status, 0, sent.output);
      await waitFor(() => delivered("clean").length === 1, 10_000, "delivery");
      assert.doesNotMatch(headers(delivered("clean")[0]), /^X-Spam-/m);
    });

    it("above mark_threshold (5): delivered with X-Spam-Score, X-Spam-Bar and X-Spam-Report", async () => {
      const sent = await send("marked", "MARKER-SCORE=7.5");
      assert.equal(sent.status, 0, sent.output);
      await waitFor(() => delivered("marked").length === 1, 10_000, "delivery");
      const head = headers(delivered("marked")[0]);
      assert.match(head, /^X-Spam-Score: 7\.5$/m);
      assert.match(head, /^X-Spam-Bar: \+{7}$/m);
      assert.match(head, /^X-Spam-Report: Action: add header Symbol: TEST_MARKER\(7\.50\)/m);
    });

    it("above reject_threshold (10): refused at DATA with 550", async () => {
      const sent = await send("rejected", "MARKER-SCORE=12");
      assert.notEqual(sent.status, 0, sent.output);
      assert.match(sent.output, /<\*\* 550 This message was classified as spam \(score 12\.0\)/);
      assert.equal(delivered("rejected").length, 0);
    });

    it("a concern deferring (down with fail_mode = closed): 451 at DATA, nothing delivered", async () => {
      const sent = await send("deferred", "MARKER-DEFER");
      assert.notEqual(sent.status, 0, sent.output);
      assert.match(sent.output, /<\*\* 451 The message could not be checked now, please try again later/);
      assert.equal(delivered("deferred").length, 0);
    });

    it("daemon stopped: delivered intact, unscanned, and Exim logs why", async () => {
      daemon.stop();
      const body = "MARKER-SCORE=50 while nobody listens";
      const sent = await send("unscanned", body);
      assert.equal(sent.status, 0, sent.output);
      await waitFor(() => delivered("unscanned").length === 1, 10_000, "delivery");
      const mail = delivered("unscanned")[0];
      assert.doesNotMatch(headers(mail), /^X-Spam-/m);
      assert.equal(mail.slice(mail.indexOf("\n\n") + 2).trimEnd(), body);
      const log = readFileSync(dir.file("log/mainlog"), "utf8");
      assert.match(log, /spam acl condition: spamd: .*Connection refused/);
      assert.match(log, /mailpolicyd: spamd front did not answer, accepting unscanned \(fail-open\)/);
    });
  });
}
