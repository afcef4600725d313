// The alert mail is made of what a client sent: the key is its sender, the subjects its messages'. Any local
// user can connect to `milter_listen`'s loopback port and speak the milter protocol itself (docs/postfix.md),
// whose MAIL carries the sender as a NUL-terminated string: a line break in it is the sender's. Neither that
// nor a subject's encoded words, CR LF and text outside ASCII may add a header to the alert (a Bcc: to the
// sender), forge a line of its body (a "Who:" or "Rule:" of its own) or break its 7bit encoding: checked in
// what a real SMTP receiver got from the real daemon.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import net from "node:net";
import { after, describe, it } from "node:test";
import { startDaemonProcess, waitFor, writeTestConfig } from "../helpers/daemon-process.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { quoteValue } from "../../src/protocols/attributes.ts";
import { freePort, type ReceivedMail, startSmtpReceiver } from "../helpers/smtp-receiver.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

const FORGED = "\nRule:        FORGED\r\nBcc: victim@example.net\nWho:         admin@example.org";
const SUBJECT = "=?utf-8?b?DQpCY2M6IHhAZXhhbXBsZS5uZXQ=?= Grüße\r\nBcc: y@example.net\n\u202e</script>";

const config = (smtpPort: number, milterPort: number) =>
  `[limit out]\nkey = sender\ncount = 1\ntime = 1h\naction = defer\n` +
  `[postfix]\nlisten = none\nmilter_listen = 127.0.0.1:${milterPort}\n` +
  `[alerts]\nfromAddr = 'postmaster@example.org'\ntoAddr = 'boss@example.org'\n` +
  `subject = 'over: {key} ({rule})'\n` +
  `smtp_host = 127.0.0.1\nsmtp_port = ${smtpPort}\nsmtp_timeout = 2s\nretry_min = 200ms\nretry_max = 1s\n`;

/** One milter frame: its length, the command letter, the data. */
function frame(command: string, data = "", encoding: "utf8" | "latin1" = "utf8"): Buffer {
  const body = Buffer.from(data, encoding);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(1 + body.length);
  head[4] = command.charCodeAt(0);
  return Buffer.concat([head, body]);
}

/** Two messages from `sender` handed over as cleanup would for sendmail mail; resolves once answered. */
function milterMessages(port: number, sender: string): Promise<void> {
  const message = (n: number) =>
    Buffer.concat([
      frame("D", `Mi\0Q${n}\0`),
      frame("M", `<${sender}>\0`),
      frame("R", "<a@example.net>\0"),
      frame("E"),
    ]);
  const bytes = Buffer.concat([
    frame("O", "\x00\x00\x00\x06\x00\x00\x01\xff\x00\x1f\xff\xff", "latin1"),
    message(1),
    message(2),
    frame("Q"),
  ]);
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host: "127.0.0.1", port });
    socket.on("data", () => {});
    socket.on("error", reject);
    socket.on("close", () => resolve());
    socket.write(bytes);
  });
}

/** What every alert must be, whatever its key and subjects held. */
function assertUnforged(mail: ReceivedMail) {
  assert.deepEqual(mail.to, ["boss@example.org"], "no recipient of the sender's choosing");
  const head = mail.raw.slice(0, mail.raw.search(/\r\n\r\n/));
  assert.doesNotMatch(head, /^bcc:/im, head);
  assert.ok(head.split("\r\n").every((line) => line.length <= 78), head);
  assert.match(mail.raw, /^[\x20-\x7e\r\n]*$/, "the whole mail is 7bit ASCII");
  // Keys are counted in lower case: a forged line is any case.
  const lines = mail.body.split(/\r?\n/);
  assert.equal(lines.filter((line) => /^who:/i.test(line)).length, 1, mail.body);
  assert.equal(lines.filter((line) => /^rule:/i.test(line)).length, 1, mail.body);
  assert.equal(lines.filter((line) => /^bcc:/i.test(line)).length, 0, mail.body);
  assert.match(mail.body, /^Rule: +out \(per sender\)$/m, mail.body);
}

describe("alert mail for a hostile key and subject (real daemon process, real SMTP receiver)", () => {
  const dir = makeTempDir();
  after(() => dir.remove());

  it("adds no header, forges no body line and stays 7bit", { timeout: 60_000 }, async () => {
    const smtp = await startSmtpReceiver();
    const milterPort = await freePort();
    const daemon = await startDaemonProcess(dir, writeTestConfig(dir, config(smtp.port, milterPort)));
    try {
      // The policy socket: its quoted values carry \n and \r, a subject keeps them until it is displayed.
      const request = `rcpt sender=${quoteValue(`policy@example.org${FORGED}`)} recipient=x@example.net ` +
        `subject=${quoteValue(SUBJECT)} client_address=192.0.2.7\n`;
      for (let i = 0; i < 2; i++) await askPolicy(daemon.policySocket, request);
      // A zero-width space draws nothing: the subject named admin@example.org for another account's alert.
      const invisible = `rcpt sender=${quoteValue("admin\u200b@example.org")} recipient=x@example.net\n`;
      for (let i = 0; i < 2; i++) await askPolicy(daemon.policySocket, invisible);
      // The milter: the sender as sent, line breaks and all.
      await daemon.waitForLog(/ postfix: listening milter=/);
      await milterMessages(milterPort, `milter@example.org${FORGED}`);
      await waitFor(() => smtp.mails.length >= 3, 10_000, "the three alert mails");
      const [policy, milter] = ["policy@", "milter@"].map((who) =>
        smtp.mails.find((mail) => mail.body.includes(`Who:         ${who}`))!
      );
      assertUnforged(policy);
      assertUnforged(milter);
      const admin = smtp.mails.find((mail) => mail.body.includes("Who:         admin\\u{200b}@example.org"))!;
      assert.ok(admin, smtp.mails.map((mail) => mail.body).join("\n---\n"));
      assert.match(admin.raw, /^Subject: over: admin\\u\{200b\}@example\.org \(out\)\r$/m, admin.raw);
      // The milter's key whole on its line (folded as long lines are), its line breaks written out.
      assert.ok(
        milter.body.replace(/\r?\n {2}/g, "").includes(
          "Who:         milter@example.org\\u{a}rule:        forged\\u{d}\\u{a}bcc: victim@example.net" +
            "\\u{a}who:         admin@example.org\r\n",
        ),
        milter.body,
      );
    } finally {
      await daemon.stop();
      await smtp.close();
    }
  });
});
