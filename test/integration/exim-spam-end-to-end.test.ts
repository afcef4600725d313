// Issue 19 end to end: a real Exim (exim -bd, delivering into a maildir) whose DATA ACL runs `spam =` against
// the daemon's spamd front, in both spamd_address forms, the front asking the real concerns: SpamAssassin
// through a real spamd (Debian's, started by the test) and the content rules. GTUBE is refused at DATA, clean
// mail is delivered intact, an executable attachment is refused by its rule; spamc against the front gets
// the real spamd's verdict; a hung spamd costs only its timeout: the mail is delivered intact, unscored
// by spamd (fail_mode open), and the next message is scored again once spamd answers; a stopped spamd
// (connection refused) lets even GTUBE through intact, scored by the rules alone.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { deflateSync } from "node:zlib";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { openSmtpSession } from "../helpers/smtp-session.ts";
import { type EximDaemon, prepareEximDir, swaksAsync, swaksWith } from "../helpers/exim.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { type Spamd, startSpamd } from "../helpers/spamd.ts";
import { startSpamTestExim } from "../helpers/spamd-front.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
// GTUBE's 1000 points give or take the other tests spamd runs (ALL_TRUSTED: -1 for mail from loopback).
const spamScore = (swaksOutput: string) =>
  Number(/<\*\* 550 spam: score (-?[\d.]+)/.exec(swaksOutput)?.[1] ?? NaN);
// $spam_report's line for a message spamd did not scan (fail_mode open), in either form.
const NOT_SCANNED_BY_SPAMD = /(^| )(Message: )?not scanned by spamassassin: it did not answer/m;
const HEADERS = "From: alice@example.org\nTo: bob@example.net\nDate: Wed, 02 Dec 2026 10:00:00 +0000\n" +
  "Message-Id: <lunch-1@example.org>\n";

describe("Exim's spam = through the spamd front to a real spamd and the content rules", () => {
  let dir: TempDir;
  let spamd: Spamd;
  let daemon: Daemon;
  let exim: EximDaemon;
  let frontPort: number;
  const lines: string[] = [];
  const delivered = (subject: string) => {
    const path = dir.file("maildir/new");
    return existsSync(path)
      ? readdirSync(path).map((name) => readFileSync(`${path}/${name}`, "utf8"))
        .filter((mail) => mail.includes(`\nSubject: ${subject}\n`))
      : [];
  };
  const header = (mail: string, name: string) =>
    mail.split("\n\n")[0].replace(/\n[ \t]+/g, " ").match(new RegExp(`^${name}: ?(.*)$`, "m"))?.[1];
  const send = (subject: string, body: string) =>
    swaksAsync(exim.port, "alice@example.org", "user@example.net", subject, body);

  before(async () => {
    dir = makeTempDir();
    prepareEximDir(dir);
    spamd = await startSpamd();
    frontPort = await freePort();
    const parsed = parseConfig(
      `[daemon]\npolicy_socket = policy.sock\ncontrol_socket = control.sock\npolicy_listen = none\n` +
        `pidfile = d.pid\nstate_file = state.json\n` +
        `[spamd]\nlisten = 127.0.0.1:${frontPort}\nmark_threshold = 5\nreject_threshold = 10\n` +
        `[spamassassin]\naddress = 127.0.0.1:${spamd.tcp.port}\ntimeout = 4s\nfail_mode = open\n` +
        `breaker_failures = 100\n` +
        `[content]\nmax_scan_size = 64k\n[rule executable]\nattachments = executable\naction = reject\n` +
        `message = executable attachments are refused\n[rule spamtrap]\nrecipients = trap@example.net, fälle@example.net\nscore = 20\n`,
      "test.conf",
      dir.path,
    );
    assert.ok(parsed.ok, JSON.stringify(parsed));
    daemon = startDaemon({ config: parsed.config, log: createLogger("info", (line) => lines.push(line)) });
    await waitFor(() => lines.some((line) => line.includes("spamd: listening")), 5000, "the spamd front");
    const spamdAddress = `\${if match{$h_subject:}{^rspamd}{127.0.0.1 ${frontPort} variant=rspamd}` +
      `{127.0.0.1 ${frontPort}}}`;
    // Mail to filtered-spamd@ and filtered-front@ is delivered through spamc (PROCESS) as a transport_filter,
    // asking the real spamd or the front, with the Return-Path Exim puts on top (return_path_add).
    const filtered = (port: number) =>
      `  driver = appendfile\n  directory = ${dir.file("maildir")}\n  maildir_format\n` +
      `  user = Debian-exim\n  group = Debian-exim\n  create_directory\n  return_path_add\n` +
      `  transport_filter = /usr/bin/spamc -d 127.0.0.1 -p ${port}\n`;
    exim = await startSpamTestExim(dir, spamdAddress, {
      routers: "filtered:\n  driver = accept\n  local_parts = filtered-spamd : filtered-front\n" +
        "  transport = ${if eq{$local_part}{filtered-spamd}{via_spamd}{via_front}}\n",
      transports: `via_spamd:\n${filtered(spamd.tcp.port)}via_front:\n${filtered(frontPort)}`,
    });
  });
  after(async () => {
    await exim?.stop();
    daemon?.stop();
    await spamd?.stop();
    dir?.remove();
  });

  for (const form of ["spamassassin", "rspamd"]) {
    describe(
      form === "rspamd" ? "spamd_address variant=rspamd" : "spamd_address, SpamAssassin's protocol",
      () => {
        it("GTUBE: refused at DATA with spamd's score; nothing delivered", async () => {
          const subject = `${form} gtube`;
          const sent = await send(subject, `This is the GTUBE:\n${GTUBE}\n`);
          assert.notEqual(sent.status, 0, sent.output);
          assert.ok(spamScore(sent.output) >= 900, sent.output);
          assert.equal(delivered(subject).length, 0);
        });

        it("clean mail: delivered intact, spamd's score below the mark", async () => {
          const subject = `${form} clean`;
          const body = "Hello Bob,\nthe minutes of Tuesday's meeting are below.\nAlice";
          const sent = await send(subject, body);
          assert.equal(sent.status, 0, sent.output);
          await waitFor(() => delivered(subject).length === 1, 20_000, "delivery");
          const mail = delivered(subject)[0];
          assert.ok(Number(header(mail, "X-Test-Score")) < 5, header(mail, "X-Test-Score"));
          assert.equal(header(mail, "X-Test-Is-Spam"), undefined);
          assert.equal(mail.slice(mail.indexOf("\n\n") + 2).trimEnd(), body);
        });
      },
    );
  }

  it("an executable attachment: refused by its content rule (variant=rspamd carries the rule's reject)", async () => {
    const exe = dir.file("invoice.pdf.exe");
    writeFileSync(exe, Buffer.concat([Buffer.from("MZ\x90\x00\x03"), Buffer.alloc(200, 0x41)]));
    const sent = await swaksWith([
      ...["--server", "127.0.0.1", "--port", String(exim.port), "--helo", "client.example"],
      ...["--from", "alice@example.org", "--to", "user@example.net"],
      ...["--header", "Subject: rspamd invoice", "--body", "Please see the invoice attached."],
      ...["--attach-type", "application/pdf", "--attach-name", "invoice.pdf.exe", "--attach", `@${exe}`],
    ]);
    assert.notEqual(sent.status, 0, sent.output);
    assert.match(sent.output, /<\*\* 550 spam: score/);
    assert.equal(delivered("rspamd invoice").length, 0);
    assert.ok(lines.some((line) => /spamd: scanned .*symbols=[^ ]*EXECUTABLE/.test(line)), lines.join("\n"));
  });

  /**
   * The DATA reply to `message` sent to `count` recipients of 60 characters in one SMTP transaction, then to
   * `last`, if given.
   */
  const sendToMany = async (count: number, message: string, last?: string) => {
    const session = await openSmtpSession(exim.port);
    try {
      assert.match(await session.send("EHLO client.example"), /^250 /m);
      assert.match(await session.send("MAIL FROM:<spammer@example.org>"), /^250 /);
      for (let i = 0; i < count; i++) {
        const reply = await session.send(
          `RCPT TO:<${"r".repeat(56)}${String(i).padStart(6, "0")}@example.net>`,
        );
        assert.match(reply, /^250 /);
      }
      if (last) assert.match(await session.send(`RCPT TO:<${last}>`), /^250 /);
      assert.match(await session.send("DATA"), /^354 /);
      return await session.sendData(message);
    } finally {
      session.close();
    }
  };

  it("variant=rspamd, GTUBE to 3 200 recipients (a head of 270 KB): refused at DATA, as to one", async () => {
    // Exim lists every recipient in the rspamd head (up to its recipients_max, 50 000). The front refused
    // a head over 256 KiB, Exim's condition deferred, and the spam was delivered unscanned to them all.
    const reply = await sendToMany(3200, `${HEADERS}Subject: rspamd to many\n\n${GTUBE}\n`);
    assert.match(reply, /^550 spam: score/);
    assert.equal(delivered("rspamd to many").length, 0);
    assert.ok(
      lines.some((line) => /spamd: scanned action=reject .*symbols=[^ ]*GTUBE/.test(line)),
      lines.join("\n"),
    );
  });

  /** A message with an executable attached, under `subject`. */
  const invoice = (subject: string) => {
    const boundary = "b-many";
    return `${HEADERS}Subject: ${subject}\nMIME-Version: 1.0\n` +
      `Content-Type: multipart/mixed; boundary="${boundary}"\n\n--${boundary}\n` +
      `Content-Type: text/plain\n\nPlease see the invoice attached.\n--${boundary}\n` +
      `Content-Type: application/pdf; name="invoice.pdf.exe"\nContent-Disposition: attachment; ` +
      `filename="invoice.pdf.exe"\nContent-Transfer-Encoding: base64\n\n` +
      `${Buffer.concat([Buffer.from("MZ\x90\x00\x03"), Buffer.alloc(200, 0x41)]).toString("base64")}\n` +
      `--${boundary}--\n`;
  };

  it("an executable attached, to 4 500 recipients: refused by its rule, though X-Envelope-To is 290 KB", async () => {
    // Exim's mbox copy starts with X-Envelope-To listing every recipient. The content rules read the
    // message's header block up to 256 KB: past it they saw no Content-Type, no parts, no attachment.
    assert.match(await sendToMany(4500, invoice("rspamd invoice to many")), /^550 spam: score/);
    assert.equal(delivered("rspamd invoice to many").length, 0);
  });

  it("an executable attached, to 1 000 recipients: refused, though the mbox copy is over max_scan_size", async () => {
    // [content] max_scan_size = 64k here; X-Envelope-To takes 76 KB of the copy. Counted, they put the
    // 1 KB message over it: attachments not scanned, and the executable went to all 1 000.
    const subject = "rspamd invoice over max_scan_size";
    assert.match(await sendToMany(1000, invoice(subject)), /^550 spam: score/);
    assert.equal(delivered(subject).length, 0);
  });

  it("SpamAssassin's protocol, a spamtrap listed after 1 000 recipients (76 KB of X-Envelope-To): refused", async () => {
    // With spamd_address in SpamAssassin's form the recipients come from the mbox copy's X-Envelope-To. The
    // front read it from the copy's first 64 KiB: the trap past them was not seen and the mail accepted.
    const reply = await sendToMany(
      1000,
      `${HEADERS}Subject: to a trap among many\n\nhello\n`,
      "trap@example.net",
    );
    assert.match(reply, /^550 spam: score/);
    assert.equal(delivered("to a trap among many").length, 0);
    assert.ok(lines.some((line) => /spamd: scanned .*symbols=[^ ]*SPAMTRAP/.test(line)), lines.join("\n"));
  });

  for (const form of ["spamassassin", "rspamd"]) {
    it(`${form}: a spamtrap with a UTF-8 local part (SMTPUTF8) is seen`, async () => {
      // Exim passes the address's UTF-8 bytes, in the rspamd head and in X-Envelope-To. The front read them
      // as latin1 ("fÃ¤lle@example.net"), the rule naming "fälle@example.net" never matched, and the mail
      // to the trap was accepted.
      const subject = `${form === "rspamd" ? "rspamd " : ""}to a UTF-8 trap`;
      const session = await openSmtpSession(exim.port);
      let reply: string;
      try {
        assert.match(await session.send("EHLO client.example"), /^250[- ]SMTPUTF8/m);
        assert.match(await session.send("MAIL FROM:<spammer@example.org> SMTPUTF8"), /^250 /);
        assert.match(await session.send("RCPT TO:<user@example.net>"), /^250 /);
        assert.match(await session.send("RCPT TO:<fälle@example.net>"), /^250 /);
        assert.match(await session.send("DATA"), /^354 /);
        reply = await session.sendData(`${HEADERS}Subject: ${subject}\n\nhello\n`);
      } finally {
        session.close();
      }
      assert.match(reply, /^550 spam: score/);
      assert.equal(delivered(subject).length, 0);
    });
  }

  it("spamc against the front: the real spamd's verdict on GTUBE (spam, exit 1) and on clean mail", async () => {
    const spamc = (message: string) =>
      new Promise<{ status: number | null; stdout: string }>((resolve) => {
        const child = spawn("spamc", ["-d", "127.0.0.1", "-p", String(frontPort), "-c"], { timeout: 30_000 });
        let stdout = "";
        child.stdout.on("data", (chunk) => stdout += chunk);
        child.on("close", (status) => resolve({ status, stdout }));
        child.stdin.end(message);
      });
    const spam = await spamc(`${HEADERS}Subject: test\n\n${GTUBE}\n`);
    assert.equal(spam.status, 1, spam.stdout);
    assert.match(spam.stdout, /^(99\d|10\d\d)(\.\d+)?\/5(\.0+)?$/m);
    const clean = await spamc(`${HEADERS}Subject: lunch\n\nShall we meet at noon?\n`);
    assert.equal(clean.status, 0, clean.stdout);
  });

  it("Compress: zlib (spamc -z): the front scans the message inside, as spamd does, and PROCESS answers it", async () => {
    // spamc built with zlib (not Debian's) sends the message deflated, its Content-length the compressed
    // size; spamd inflates it and answers uncompressed. The front scored the compressed bytes (no GTUBE:
    // no action) and PROCESS handed spamc the compressed bytes back as the message.
    const message = `${HEADERS}Subject: deflated\n\n${GTUBE}\n`;
    const compressed = deflateSync(Buffer.from(message));
    const request = (verb: string) =>
      Buffer.concat([
        Buffer.from(`${verb} SPAMC/1.5\r\nCompress: zlib\r\nContent-length: ${compressed.length}\r\n\r\n`),
        compressed,
      ]);
    const spamAt = (port: number) =>
      askPolicy({ host: "127.0.0.1", port }, request("CHECK"), { timeoutMs: 20_000 });
    assert.match(await spamAt(spamd.tcp.port), /^SPAMD\/1\.1 0 EX_OK\r\nSpam: True ; /, "spamd itself");
    assert.match(
      await spamAt(frontPort),
      /^SPAMD\/1\.1 0 EX_OK\r\nSpam: True ; (99\d|10\d\d)\.\d\d \/ 5\.00\r\n/,
    );
    const processed = await askPolicy({ host: "127.0.0.1", port: frontPort }, request("PROCESS"), {
      timeoutMs: 20_000,
    });
    assert.match(
      processed,
      /^SPAMD\/1\.1 0 EX_OK\r\nContent-length: \d+\r\nSpam: True [^]*\r\n\r\nX-Spam-Flag: YES\n/,
    );
    assert.ok(processed.endsWith(message), processed);
  });

  /** What spamc (PROCESS) prints for `message`, asking the spamd at `port`. */
  const process = (port: number, message: string) =>
    new Promise<string>((resolve) => {
      const child = spawn("spamc", ["-d", "127.0.0.1", "-p", String(port)], { timeout: 30_000 });
      let stdout = "";
      child.stdout.on("data", (chunk) => stdout += chunk);
      child.on("close", () => resolve(stdout));
      child.stdin.end(message);
    });
  // What PROCESS answered, less the X-Spam-* header fields added (spamd's and the front's differ), on top or
  // under the first line.
  const withoutAdded = (processed: string, under = 0) =>
    processed.slice(0, under) + processed.slice(under).replace(/^(?:X-Spam-[^\n]*\n(?:[ \t][^\n]*\n)*)+/, "");

  it("spamc PROCESS: the front ends the header section where spamd does, and keeps the body's lines as spamd does", async () => {
    // SpamAssassin's header section ends at the empty line, at a line starting with "--" (a MIME boundary
    // with no empty line before it), or at the fourth line that is no header field; only X-Spam-* lines
    // before that end are old headers to drop. The front looked for the empty line alone and dropped the
    // body's X-Spam-* lines (a part's header, a quoted report) that spamd keeps.
    const messages = {
      "a boundary right under the headers": `${HEADERS}Subject: parts\nMIME-Version: 1.0\n` +
        `Content-Type: multipart/mixed; boundary="b"\n--b\nContent-Type: text/plain\n` +
        `X-Spam-Note: a part's own header\n\nhello\n--b--\n`,
      "a quoted report under a dashed line": `${HEADERS}Subject: quoted\n-- what the spam said:\n` +
        `X-Spam-Status: Yes, score=20\nX-Spam-Level: ****\n\nthanks\n`,
      "four lines that are no header fields": `${HEADERS}Subject: s\none\ntwo\nthree\nfour\n` +
        `X-Spam-Note: body\n\nend\n`,
      "three such lines (spamd reads on: a header)": `${HEADERS}Subject: s\none\ntwo\nthree\n` +
        `X-Spam-Note: header\n\nend\n`,
    };
    for (const [name, message] of Object.entries(messages)) {
      const bySpamd = withoutAdded(await process(spamd.tcp.port, message));
      assert.ok(bySpamd.length > 0 && bySpamd.startsWith("From: "), bySpamd);
      assert.equal(withoutAdded(await process(frontPort, message)), bySpamd, name);
    }
  });

  it("spamc PROCESS: a leading Return-Path stays above the X-Spam-* headers, as spamd keeps it", async () => {
    // SpamAssassin puts its headers under a first Return-Path (PerMsgStatus's rewrite_no_report_safe, bug
    // 3409), as a delivery agent wrote it on top (Exim's return_path_add, procmail). The front put its
    // headers above it.
    const returnPath = "Return-Path: <alice@example.org>\n";
    const message = `${returnPath}${HEADERS}Subject: with a return path\n\nhello\n`;
    const bySpamd = await process(spamd.tcp.port, message);
    assert.ok(bySpamd.startsWith(`${returnPath}X-Spam-`), bySpamd);
    const byFront = await process(frontPort, message);
    assert.ok(byFront.startsWith(`${returnPath}X-Spam-`), byFront);
    assert.equal(withoutAdded(byFront, returnPath.length), withoutAdded(bySpamd, returnPath.length));
    assert.equal(withoutAdded(bySpamd, returnPath.length), message);
  });

  it("spamc PROCESS: X-Spam-Level as spamd writes it, so SpamAssassin's procmailrc.example files by it", async () => {
    // The example Debian ships with spamc files mail of 15 points and more by its X-Spam-Level stars; the
    // front wrote no X-Spam-Level, and GTUBE went to "probably-spam" rather than "almost-certainly-spam".
    const recipe = readFileSync("/usr/share/doc/spamc/procmailrc.example", "utf8");
    // "* ^X-Spam-Level: \*\*…": procmail's regular expression reads as JavaScript's, ^ at each line.
    const almostCertainlySpam = new RegExp(/^\* (\^X-Spam-Level: .*)$/m.exec(recipe)![1], "m");
    const level = (processed: string) => /^X-Spam-Level: ?(.*)$/m.exec(processed)?.[1];
    for (
      const [message, filed] of [
        [`${HEADERS}Subject: gtube\n\n${GTUBE}\n`, true],
        [`${HEADERS}Subject: lunch\n\nShall we meet at noon?\n`, false],
      ] as const
    ) {
      const bySpamd = await process(spamd.tcp.port, message);
      const byFront = await process(frontPort, message);
      assert.equal(almostCertainlySpam.test(bySpamd), filed, bySpamd);
      assert.equal(level(byFront), level(bySpamd), byFront);
      assert.equal(almostCertainlySpam.test(byFront), filed, byFront);
    }
  });

  it("Exim's return_path_add through spamc as a transport_filter: Return-Path stays on top, as with spamd", async () => {
    // Exim writes Return-Path first and pipes the message through the filter; the front put its X-Spam-*
    // fields above it, spamd under it.
    for (const to of ["filtered-spamd", "filtered-front"]) {
      const subject = `delivered through ${to}`;
      const sent = await swaksAsync(exim.port, "alice@example.org", `${to}@example.net`, subject, "hello");
      assert.equal(sent.status, 0, sent.output);
      await waitFor(() => delivered(subject).length === 1, 20_000, "delivery");
      const mail = delivered(subject)[0];
      assert.match(mail, /^Return-path: <alice@example\.org>\nX-Spam-/, `${to}: ${mail}`);
    }
  });

  it("spamd hung: the mail waits [spamassassin] timeout, is delivered intact, and spamd scores again later", async () => {
    spamd.pause();
    try {
      const subject = "rspamd while spamd hangs";
      const body = `Sent while spamd hangs; it even says\n${GTUBE}\nbut nobody scores it.`;
      const sent = await send(subject, body);
      assert.equal(sent.status, 0, sent.output);
      await waitFor(() => delivered(subject).length === 1, 20_000, "delivery");
      const mail = delivered(subject)[0];
      assert.equal(mail.slice(mail.indexOf("\n\n") + 2).trimEnd(), body);
      assert.equal(header(mail, "X-Test-Score"), "0.0", "spamd's score missing: fail_mode open");
      assert.match(header(mail, "X-Test-Report")!, NOT_SCANNED_BY_SPAMD);
      assert.ok(
        lines.some((line) => /concern spamassassin .*answering fail-open/.test(line)),
        lines.join("\n"),
      );
    } finally {
      spamd.resume();
    }
    const sent = await send("rspamd gtube after", GTUBE);
    assert.ok(spamScore(sent.output) >= 900, sent.output);
  });

  it("spamd stopped: at once, even GTUBE is delivered intact, scored by the rules alone", async () => {
    await spamd.stop();
    for (const form of ["spamassassin", "rspamd"]) {
      const subject = `${form} while spamd is down`;
      const body = `spamd is not there to see\n${GTUBE}`;
      const sent = await send(subject, body);
      assert.equal(sent.status, 0, sent.output);
      await waitFor(() => delivered(subject).length === 1, 20_000, "delivery");
      const mail = delivered(subject)[0];
      assert.equal(mail.slice(mail.indexOf("\n\n") + 2).trimEnd(), body);
      assert.equal(header(mail, "X-Test-Score"), "0.0");
      // Without the note the report was that of a message spamd scanned and found clean.
      assert.match(header(mail, "X-Test-Report")!, NOT_SCANNED_BY_SPAMD, form);
    }
  });
});
