// Through a real Postfix 3.7 with the snippet's lines, an answer's text and header stay within their lines'
// bounds in octets, as the RFCs count them, for a sender written in UTF-8 (SMTPUTF8): a reply line within
// RFC 5321's 512 octets, a prepended header line within RFC 5322's 998 (RFC 6532 keeps both in octets).
// Counted in characters, a sender of two-byte letters made lines of twice that; and the text was cut to 400
// octets whatever the recipient before it, so a long recipient made a reply line of over 600.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { after, before, describe, it } from "node:test";
import { waitFor } from "../helpers/daemon-process.ts";
import { type PostfixWithDaemon, startPostfixWithDaemon } from "../helpers/postfix-with-daemon.ts";
import { openSmtpSession } from "../helpers/smtp-session.ts";

// 252 characters, a limit key's most (policy/limit-key.ts), in 504 octets: named twice, a header of about
// 550 characters and 1 050 octets.
const SENDER = `${"ü".repeat(240)}@example.org`;
const octets = (line: string) => Buffer.byteLength(line, "utf8");

describe("a long UTF-8 sender's answers from a real Postfix", () => {
  let setup: PostfixWithDaemon | undefined;

  before(async () => {
    setup = await startPostfixWithDaemon(
      `[limit fanout]\nkey = sender\nper = recipient\ncount = 1\ntime = 1h\naction = warn\n` +
        `message = {key} wrote to {count} recipients; {key}\n` +
        `[limit rcpts]\nkey = sender\nper = recipient\ncount = 2\ntime = 1h\naction = defer\n` +
        `message = {key} over its limit\n`,
    );
  });
  after(async () => await setup?.stop());

  it("keeps the deferral's reply line within 512 octets and the warning's header within 998", async () => {
    const { postfix, failure } = setup!;
    const session = await openSmtpSession(postfix.port);
    let deferred: string;
    try {
      await session.send("EHLO client.example");
      assert.match(await session.send(`MAIL FROM:<${SENDER}> SMTPUTF8`), /^250 /, failure());
      assert.match(await session.send("RCPT TO:<r1@example.test>"), /^250 /, failure());
      assert.match(await session.send("RCPT TO:<r2@example.test>"), /^250 /, failure());
      deferred = await session.send("RCPT TO:<r3@example.test>");
      assert.match(await session.send("DATA"), /^354 /);
      assert.match(await session.sendData("Subject: hello\n\nhello"), /^250 /, failure());
      await session.send("QUIT");
    } finally {
      session.close();
    }
    assert.match(
      deferred,
      /^450 4\.7\.1 <r3@example\.test>: Recipient address rejected: \\x\{FC\}\\x\{FC\}/,
      failure(),
    );
    // Both recipients get the message, with the warning of the second's RCPT.
    await waitFor(() => postfix.delivered().length === 2, 15_000, "the deliveries");
    const warning = postfix.delivered()[0].split("\n\n")[0].match(/^X-Mailpolicyd-Warning: üü.*$/m)?.[0];
    assert.ok(warning !== undefined, postfix.delivered()[0] + failure());
    const over = [
      ...deferred.split("\r\n").filter((line) => octets(line) > 512),
      ...(octets(warning) > 998 ? [warning] : []),
    ];
    assert.deepEqual(over.map((line) => `${octets(line)} octets: ${line.slice(0, 60)}`), []);
  });

  it("keeps a refusal's reply line within 512 octets for a recipient as long as RFC 5321 allows", async () => {
    const { postfix, failure } = setup!;
    // 244 octets: a 64-octet local part and a 179-octet domain (mynetworks may relay to it).
    const recipient = `${"r".repeat(64)}@${"d".repeat(60)}.${"e".repeat(60)}.${"f".repeat(48)}.example`;
    const session = await openSmtpSession(postfix.port);
    let deferred: string;
    try {
      await session.send("EHLO client.example");
      assert.match(await session.send(`MAIL FROM:<${SENDER}> SMTPUTF8`), /^250 /, failure());
      deferred = await session.send(`RCPT TO:<${recipient}>`); // the sender is over its limit already
      await session.send("QUIT");
    } finally {
      session.close();
    }
    assert.match(
      deferred,
      /^450 4\.7\.1 <r{64}@d{60}.*>: Recipient address rejected: \\x\{FC\}\\x\{FC\}/,
      failure(),
    );
    const over = deferred.split("\r\n").filter((line) => octets(line) > 512);
    assert.deepEqual(over.map((line) => `${octets(line)} octets: ${line.slice(0, 60)}`), []);
  });
});
