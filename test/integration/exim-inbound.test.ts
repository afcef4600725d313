// Inbound limits and robustness through a real Exim: a per-/24 connection-source limit, the classic daemons'
// one-token ${readsocket} condition unchanged, a hostile subject surviving the round trip into the alert,
// and the fail-open path when the daemon is stopped.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { countReplies, eximBh, message, prepareEximDir, writeEximConfig } from "../helpers/exim.ts";
import { freePort, type SmtpReceiver, startSmtpReceiver } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

describe("inbound limits and failure paths in a real Exim", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;
  let smtp: SmtpReceiver;

  before(async () => {
    dir = makeTempDir();
    prepareEximDir(dir);
    smtp = await startSmtpReceiver();
    daemon = await startDaemonProcess(
      dir,
      writeTestConfig(
        dir,
        `socket_group = Debian-exim\n` +
          `[thresholds]\ntime = 1h\ncount = 2\n` +
          `[limit inbound]\nkey = client_address/24\ncount = 3\ntime = 10m\nmessage = too many messages from your network\n` +
          `[limit subjects]\nkey = sender\nstage = data\ncount = 1\ntime = 1h\naction = warn\n` +
          `[alerts]\nfromAddr = mailpolicyd@example.net\ntoAddr = postmaster@example.net\nsmtp_port = ${smtp.port}\nretry_min = 200ms\n`,
      ),
    );
  });
  after(async () => {
    await daemon.stopCleanly();
    await smtp.close();
    dir.remove();
  });

  it("limits a /24 as a whole, inbound, and leaves other networks alone", () => {
    const exim = writeEximConfig(dir, { address: daemon.eximAddress });
    const from = (ip: string, n: number) =>
      eximBh(exim, ip, [
        "HELO sender.example",
        ...Array.from({ length: n }, (_, i) => message(`news@sender${i}.example`, ["user@example.net"]))
          .flat(),
        "QUIT",
      ]);
    assert.equal(countReplies(from("198.51.100.1", 2), "250 OK id="), 2);
    const third = from("198.51.100.77", 2); // same /24: its 3rd message passes, the 4th is deferred
    assert.equal(countReplies(third, "250 OK id="), 1, third.output);
    assert.deepEqual(third.replies.filter((reply) => reply.startsWith("451")), [
      "451 too many messages from your network",
    ]);
    assert.equal(countReplies(from("203.0.113.9", 3), "250 OK id="), 3, "another /24 has its own allowance");
  });

  it("answers the classic daemons' one-token condition unchanged", () => {
    const exim = writeEximConfig(dir, {
      address: daemon.eximAddress,
      withSnippet: false,
      siteRcptAcl: `  defer
    hosts       = +relay_from_hosts
    condition   = \${readsocket{${daemon.eximAddress}}{$sender_address\\n}{5s}{}{no}}
    message     = you have sent too much
    log_message = tons-o-mail
  accept hosts = +relay_from_hosts
  deny
`,
    });
    const session = eximBh(exim, "192.0.2.20", [
      "HELO lan.example",
      ...message("legacy@example.org", ["r1@remote.example"]),
      ...message("legacy@example.org", ["r2@remote.example"]),
      "MAIL FROM:<legacy@example.org>",
      "RCPT TO:<r3@remote.example>",
      "RCPT TO:<r4@remote.example>",
      "QUIT",
    ]);
    // [thresholds] count = 2: the third request and later are over ("yes").
    assert.equal(countReplies(session, "250 OK id="), 2, session.output);
    assert.equal(countReplies(session, "451 you have sent too much"), 2);
    assert.ok(session.log.some((line) => /tons-o-mail/.test(line)));
  });

  it("carries a subject with quotes, backslashes, folding and raw 8-bit bytes into the alert intact", async () => {
    const exim = writeEximConfig(dir, { address: daemon.eximAddress });
    const subject = 'Re: "50% off" \\o/ caf\xe9 =?UTF-8?B?w7xiZXI=?=';
    const session = eximBh(exim, "192.0.2.30", [
      "EHLO client.example",
      // Folded before "café": unfolding keeps the fold's whitespace, display collapses it to one space.
      ...message("quoter@example.org", ["x@remote.example"], [
        `Subject: ${subject.slice(0, 17)}`,
        `\t${subject.slice(18)}`,
      ]),
      ...message("quoter@example.org", ["y@remote.example"], [`Subject: ${subject}`]),
      "QUIT",
    ]);
    assert.equal(countReplies(session, "250 OK id="), 2, session.output);
    // The data-stage limit (count 1, action warn) is over on the 2nd message: its alert has the subject.
    await waitFor(
      () => smtp.mails.some((mail) => /Who:\s+quoter@example\.org/.test(mail.body)),
      10_000,
      "alert",
    );
    const body = smtp.mails.find((mail) => /Who:\s+quoter@example\.org/.test(mail.body))!.body;
    // Sent as 7bit: non-ASCII escaped as \u{hex}, a backslash doubled.
    assert.match(body, /^\s+2\s+Re: "50% off" \\\\o\/ caf\\u\{e9\} \\u\{fc\}ber$/m, body);
    assert.match(daemon.logs(), /request has raw 8-bit bytes, read as Windows-1252/);
  });

  it("accepts and logs when the daemon does not answer (fail-open)", async () => {
    const exim = writeEximConfig(dir, { address: `inet:127.0.0.1:${await freePort()}` });
    const session = eximBh(exim, "192.0.2.40", [
      "EHLO client.example",
      ...message("anyone@example.org", ["x@remote.example"], ["Subject: hello"]),
      "QUIT",
    ]);
    assert.equal(countReplies(session, "250 OK id="), 1, session.output);
    assert.ok(
      session.log.some((line) => /mailpolicyd: no answer, accepting \(fail-open\)/.test(line)),
      session.log.join("\n"),
    );
  });
});
