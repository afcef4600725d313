// The spamd front with real mail: a real Exim (exim -bd on a loopback port, delivering into a maildir) whose
// DATA ACL runs `spam = nobody:true/defer_ok` against an in-process daemon with [spamd], in both of Exim's
// spamd_address forms (SpamAssassin's, and variant=rspamd), chosen per message by its subject. The ACL copies
// $spam_score, $spam_score_int, $spam_bar, $spam_action and $spam_report into headers, so the test reads
// what Exim made of each reply from the delivered message. The scores come from a test concern that reads a
// marker in the body (test/helpers/marker-concern.ts). A front that refuses connections, never answers
// or answers garbage leaves the mail delivered intact, and Exim's log says why.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import type { Daemon } from "../../src/daemon.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { type EximDaemon, prepareEximDir, swaksAsync, swaksWith } from "../helpers/exim.ts";
import type { MarkerConcern } from "../helpers/marker-concern.ts";
import { startFrontDaemon, startSpamTestExim } from "../helpers/spamd-front.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

describe("spamd front through a real Exim's spam = condition", () => {
  let dir: TempDir;
  let daemon: Daemon;
  let exim: EximDaemon;
  let marker: MarkerConcern;
  let hung: net.Server;
  let garbage: net.Server;
  const hungSockets: net.Socket[] = [];
  const delivered = () => {
    const path = dir.file("maildir/new");
    return existsSync(path) ? readdirSync(path).map((name) => readFileSync(`${path}/${name}`, "utf8")) : [];
  };
  const deliveredWith = (subject: string) =>
    delivered().filter((mail) => mail.includes(`\nSubject: ${subject}\n`));
  const header = (mail: string, name: string) => {
    const headers = mail.split("\n\n")[0].replace(/\n[ \t]+/g, " ");
    return headers.match(new RegExp(`^${name}: ?(.*)$`, "m"))?.[1];
  };
  const eximLog = () => readFileSync(dir.file("log/mainlog"), "utf8");
  const byteLength = (text: string) => new TextEncoder().encode(text).length;

  before(async () => {
    dir = makeTempDir();
    prepareEximDir(dir);
    const frontPort = await freePort();
    const closedPort = await freePort();
    hung = net.createServer({ allowHalfOpen: true }, (socket) => hungSockets.push(socket));
    await new Promise<void>((resolve) => hung.listen(0, "127.0.0.1", resolve));
    const hungPort = (hung.address() as net.AddressInfo).port;
    // Answers at once, not in spamd's words, and closes.
    garbage = net.createServer({ allowHalfOpen: true }, (socket) => socket.end("HTTP/1.0 500 Oops\r\n\r\n"));
    await new Promise<void>((resolve) => garbage.listen(0, "127.0.0.1", resolve));
    const garbagePort = (garbage.address() as net.AddressInfo).port;
    ({ daemon, marker } = await startFrontDaemon(
      dir,
      "none",
      `listen = 127.0.0.1:${frontPort}\nmark_threshold = 5\nreject_threshold = 10\nmax_message_size = 4k\n`,
    ));
    const spamdAddress = `\${if match{$h_subject:}{^rspamd}{127.0.0.1 ${frontPort} variant=rspamd}` +
      `{\${if match{$h_subject:}{^down}{127.0.0.1 ${closedPort}}` +
      `{\${if match{$h_subject:}{^hung}{127.0.0.1 ${hungPort} tmo=2s}` +
      `{\${if match{$h_subject:}{^garbage}{127.0.0.1 ${garbagePort}}{127.0.0.1 ${frontPort}}}}}}}}}`;
    exim = await startSpamTestExim(dir, spamdAddress);
  });
  after(async () => {
    await exim?.stop();
    daemon?.stop();
    for (const socket of hungSockets) socket.destroy();
    hung?.close();
    garbage?.close();
    dir?.remove();
  });

  for (const variant of ["spamassassin", "rspamd"]) {
    describe(`spamd_address ${variant === "rspamd" ? "variant=rspamd" : "(SpamAssassin's protocol)"}`, () => {
      it("a clean message is delivered intact, score 0", async () => {
        const subject = `${variant} clean`;
        const sent = await swaksAsync(
          exim.port,
          "alice@example.org",
          "user@example.net",
          subject,
          "clean body",
        );
        assert.equal(sent.status, 0, sent.output);
        await waitFor(() => deliveredWith(subject).length === 1, 10_000, "delivery");
        const mail = deliveredWith(subject)[0];
        assert.equal(header(mail, "X-Test-Score"), "0.0");
        assert.equal(header(mail, "X-Test-Score-Int"), "0");
        assert.equal(header(mail, "X-Test-Bar"), "/");
        assert.equal(header(mail, "X-Test-Action"), "no action");
        assert.equal(header(mail, "X-Test-Is-Spam"), undefined);
        assert.match(mail, /\n\nclean body\n/);
      });

      it("above mark_threshold: delivered, with the score, bar, action and report", async () => {
        const subject = `${variant} marked`;
        const sent = await swaksAsync(
          exim.port,
          "bob@example.org",
          "user@example.net,other@example.net",
          subject,
          "MARKER-SCORE=7.5",
        );
        assert.equal(sent.status, 0, sent.output);
        await waitFor(() => deliveredWith(subject).length === 2, 10_000, "delivery to both");
        const mail = deliveredWith(subject)[0];
        assert.equal(header(mail, "X-Test-Score"), "7.5");
        assert.equal(header(mail, "X-Test-Score-Int"), "75");
        assert.equal(header(mail, "X-Test-Bar"), "+++++++");
        assert.equal(header(mail, "X-Test-Is-Spam"), "yes");
        // SpamAssassin's protocol has no action: Exim says "reject" for any score at or over the threshold.
        assert.equal(header(mail, "X-Test-Action"), variant === "rspamd" ? "add header" : "reject");
        assert.match(header(mail, "X-Test-Report")!, /TEST_MARKER/);
        const seen = marker.seen.find((request) =>
          new TextDecoder().decode(request.message).includes(subject)
        )!;
        assert.equal(seen.envelope.sender, "bob@example.org");
        assert.deepEqual([...seen.envelope.recipients].sort(), ["other@example.net", "user@example.net"]);
        if (variant === "rspamd") {
          assert.equal(seen.envelope.clientAddress, "127.0.0.1");
          assert.equal(seen.envelope.helo, "client.example");
          assert.match(seen.envelope.queueId!, /^[\w-]{16,23}$/);
        }
      });

      it("above reject_threshold: refused at DATA with 550, nothing delivered", async () => {
        const subject = `${variant} rejected`;
        const sent = await swaksAsync(
          exim.port,
          "carol@example.org",
          "user@example.net",
          subject,
          "MARKER-SCORE=12",
        );
        assert.notEqual(sent.status, 0, sent.output);
        assert.match(sent.output, /<\*\* 550 spam: score 12.0/);
        assert.equal(deliveredWith(subject).length, 0);
      });
    });
  }

  for (const variant of ["spamassassin", "rspamd"]) {
    it(`${variant}: a report over what Exim reads is cut at a line, and says how many rules it leaves out`, async () => {
      // 150 rules with names and descriptions near 200 characters: SpamAssassin's table of the first 100
      // took 40 KB. Exim reads 32599 bytes of a reply and dropped the rest: $spam_report ended in the
      // middle of a rule's line, with no word of the rules it did not show.
      const subject = `${variant} long report`;
      const sent = await swaksAsync(
        exim.port,
        "heidi@example.org",
        "user@example.net",
        subject,
        "MARKER-RULES=150",
      );
      assert.equal(sent.status, 0, sent.output);
      await waitFor(() => deliveredWith(subject).length === 1, 10_000, "delivery");
      const mail = deliveredWith(subject)[0];
      assert.equal(header(mail, "X-Test-Score"), "7.5");
      assert.equal(header(mail, "X-Test-Is-Spam"), "yes");
      assert.equal(mail.slice(mail.indexOf("\n\n") + 2).trimEnd(), "MARKER-RULES=150");
      // The report as Exim made it: its lines, each continued with the space Exim puts after an LF.
      const field = /\nX-Test-Report: ([^\n]*(?:\n [^\n]*)*)\n(?! )/.exec(mail)![1];
      const lines = field.split("\n ");
      const rule = variant === "rspamd"
        ? /^Symbol: TEST_LONG_RULE_(\d+)_X{171,173}\(0\.05\)$/
        : /^ 0\.1 TEST_LONG_RULE_(\d+)_X{171,173} rule \1 of a long list, described at length: y+$/;
      const shown = lines.filter((line) => line.includes("TEST_LONG_RULE_"));
      shown.forEach((line, i) => {
        assert.match(line, rule);
        assert.equal(rule.exec(line)![1], String(i + 1), "in order, none left out between");
        if (variant !== "rspamd") assert.equal(line.length, 4 + 1 + 190 + 1 + 200);
      });
      assert.ok(shown.length >= 60, String(shown.length));
      const more = `... ${150 - shown.length} more rules not shown`;
      if (variant === "rspamd") {
        assert.equal(lines[0], "Action: add header");
        assert.equal(lines[lines.length - 2], `Message: ${more}`);
        assert.match(lines[lines.length - 1], /^Message-ID: [\w-]{16,23}$/);
      } else {
        assert.equal(lines[0], "Content analysis details:   (7.50 points, 5.00 required)");
        assert.equal(lines[lines.length - 1], `     ${more}`);
      }
      assert.ok(byteLength(field) < 32_600, String(byteLength(field)));
    });
  }

  it("variant=rspamd: a concern's own reject below the thresholds is a reject", async () => {
    const subject = "rspamd concern rejects";
    const sent = await swaksAsync(
      exim.port,
      "dave@example.org",
      "user@example.net",
      subject,
      "MARKER-REJECT",
    );
    assert.notEqual(sent.status, 0, sent.output);
    assert.match(sent.output, /<\*\* 550 spam: score 1.0/);
  });

  it("a message over max_message_size: read to its end, not scanned past it, delivered intact", async () => {
    const subject = "rspamd too big";
    const body = `${"filler line of a large message\n".repeat(300)}MARKER-SCORE=50`;
    const sent = await swaksAsync(exim.port, "frank@example.org", "user@example.net", subject, body);
    assert.equal(sent.status, 0, sent.output);
    await waitFor(() => deliveredWith(subject).length === 1, 10_000, "delivery");
    const mail = deliveredWith(subject)[0];
    assert.equal(header(mail, "X-Test-Score"), "0.0");
    assert.equal(header(mail, "X-Test-Action"), "no action");
    assert.match(
      header(mail, "X-Test-Report")!,
      /Message: not scanned: over 4096 bytes \(message of \d+ bytes\)/,
    );
    assert.equal(mail.slice(mail.indexOf("\n\n") + 2).trimEnd(), body);
    assert.equal(daemon.metrics.spamFront!.truncated, 1);
  });

  for (const variant of ["spamassassin", "rspamd"]) {
    it(`${variant}: a message under max_message_size to 60 recipients is scanned whole`, async () => {
      // Exim's mbox copy starts with X-Envelope-To listing every recipient (2.7 KB here). Counted against
      // the 4 KiB bound, it cut this 3.3 KB message short: the marker at its end went unseen, "not
      // scanned", and the mail was delivered to every recipient.
      const subject = `${variant} to many`;
      const recipients = Array.from(
        { length: 60 },
        (_, i) => `recipient-${i + 10}-of-a-long-list@example.net`,
      );
      const body = `${"filler line of a message to many\n".repeat(80)}MARKER-SCORE=12`;
      const sent = await swaksWith([
        ...["--server", "127.0.0.1", "--port", String(exim.port), "--helo", "client.example"],
        ...["--from", "grace@example.org", "--to", recipients.join(",")],
        ...["--header", `Subject: ${subject}`, "--header", "To: undisclosed-recipients:;", "--body", body],
      ]);
      assert.notEqual(sent.status, 0, sent.output);
      assert.match(sent.output, /<\*\* 550 spam: score 12.0/);
      assert.equal(deliveredWith(subject).length, 0);
      const seen = marker.seen.find((request) =>
        new TextDecoder().decode(request.message).includes(subject)
      )!;
      const copy = new TextDecoder().decode(seen.message);
      const own = copy.slice(copy.indexOf("\nReceived: ") + 1);
      assert.ok(own.length < 4096 && copy.length > 4096, `${own.length} of ${copy.length} bytes`);
      assert.equal(seen.truncated, false);
      assert.equal(seen.envelope.recipients.length, 60);
    });
  }

  const faults: Record<string, [string, RegExp]> = {
    down: ["refusing connections", /spam acl condition: spamd: .*Connection refused/],
    hung: [
      "never answering (tmo=2s)",
      /spam acl condition: error reading from spamd .*: Connection timed out/,
    ],
    garbage: ["answering garbage", /spam acl condition: cannot parse spamd .* output/],
  };
  for (const [fault, [what, why]] of Object.entries(faults)) {
    it(`front ${what}: delivered intact, Exim logs why`, { timeout: 30_000 }, async () => {
      const subject = `${fault} front`;
      const body = "MARKER-SCORE=50 but nobody scans it";
      const sent = await swaksAsync(exim.port, "erin@example.org", "user@example.net", subject, body);
      assert.equal(sent.status, 0, sent.output);
      await waitFor(() => deliveredWith(subject).length === 1, 10_000, "delivery");
      const mail = deliveredWith(subject)[0];
      assert.equal(header(mail, "X-Test-Is-Spam"), undefined);
      assert.equal(header(mail, "X-Test-Score"), undefined);
      assert.equal(mail.slice(mail.indexOf("\n\n") + 2).trimEnd(), body); // swaks ends it with blank lines
      assert.match(eximLog(), why);
    });
  }

  it("counts the scans in /metrics' families", () => {
    const front = daemon.metrics.spamFront!;
    assert.ok((front.scans.get("reject") ?? 0) >= 3, JSON.stringify([...front.scans]));
    assert.ok((front.scans.get("add header") ?? 0) >= 2);
    assert.ok((front.symbols.get("TEST_MARKER") ?? 0) >= 4);
    assert.equal(front.inFlight, 0);
  });
});
