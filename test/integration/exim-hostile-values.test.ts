// What an SMTP client writes into the request a real Exim (exim -bh, the plain snippet) sends the daemon:
// addresses with quoted local parts holding blanks, `=`, quotes, backslashes and a tab, an IPv6 literal,
// an AUTH PLAIN authzid (the site's server_set_id = $auth1) written as more attributes. ${quote:} keeps each
// a value of its own attribute: the daemon counts each under the client's own key, never under the
// victim's it names. A request too long for the daemon (a 4 000-byte HELO) defers the client's own mail;
// it is not a fallback that lets it through uncounted.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { after, before, describe, it } from "node:test";
import { httpGet } from "../helpers/http-get.ts";
import type { DaemonProcess } from "../helpers/daemon-process.ts";
import { eximBh, startDaemonForExim, writeEximConfig } from "../helpers/exim.ts";
import type { TempDir } from "../helpers/temp-dir.ts";

const LIMITS = ["sender", "recipient", "sasl_username"]
  .map((key) => `[limit per-${key}]\nkey = ${key}\ncount = 100\ntime = 1h\naction = defer\n`).join("");

// The site takes the authzid as the login: the client chooses every byte of it.
const AUTHENTICATOR = `plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = yes
  server_set_id = $auth1
`;

const login = (authzid: string) => `AUTH PLAIN ${Buffer.from(`${authzid}\0user\0secret`).toString("base64")}`;

const transaction = (from: string, to: string) => [`MAIL FROM:<${from}>`, `RCPT TO:<${to}>`, "RSET"];

describe("hostile values in the request of a real Exim", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;
  let exim: string;

  before(async () => {
    ({ dir, daemon } = await startDaemonForExim(LIMITS));
    exim = writeEximConfig(dir, {
      address: daemon.eximAddress,
      relayFromHosts: "198.51.100.0/24",
      authenticators: AUTHENTICATOR,
      mainExtra: "auth_advertise_hosts = *\nallow_domain_literals = true\n",
    });
  });
  /** The keys a limit has counted, as the control API lists them. */
  const keys = async (rule: string) => {
    const { status, body } = await httpGet({
      socketPath: dir.file("control.sock"),
      path: `/senders?top=50&rule=${rule}`,
    });
    assert.equal(status, 200, body);
    return (JSON.parse(body) as { key: string }[]).map((row) => row.key).sort();
  };
  after(async () => {
    await daemon.stopCleanly();
    dir.remove();
  });

  it("counts each value under the client's own key, never under the victim's it names", async () => {
    const session = eximBh(exim, "198.51.100.7", [
      "EHLO client.example",
      login('x" sasl_username=victim recipient=victim@example.net y="'),
      ...transaction(
        '"a sender=victim@x.example sasl_username=victim"@evil.example',
        '"b recipient=victim@example.net"@example.net',
      ),
      ...transaction(
        '"c\\" sender=victim@x.example x=\\\\"@evil.example',
        '"d\\" recipient=victim@example.net"@example.net',
      ),
      ...transaction('"e\tsender=victim@x.example"@[IPv6:2001:db8::1]', "f@example.net"),
      "QUIT",
    ]);
    assert.equal(
      session.replies.filter((reply) => reply.startsWith("250 Accepted")).length,
      3,
      session.output,
    );
    assert.deepEqual(await keys("per-sender"), [
      '"a sender=victim@x.example sasl_username=victim"@evil.example',
      '"c\\" sender=victim@x.example x=\\\\"@evil.example',
      // A tab arrives raw (${quote:} escapes only \n and \r): the daemon writes it as ?.
      '"e?sender=victim@x.example"@[ipv6:2001:db8::1]',
    ]);
    // $local_part is without the quotes.
    assert.deepEqual(await keys("per-recipient"), [
      "b recipient=victim@example.net@example.net",
      'd" recipient=victim@example.net@example.net',
      "f@example.net",
    ]);
    assert.deepEqual(await keys("per-sasl_username"), [
      'x" sasl_username=victim recipient=victim@example.net y="',
    ]);
  });

  it("counts a sender quoted for nothing as the same mailbox unquoted", async () => {
    // Exim keeps the quotes in $sender_address: each quoting was a key of its own, and a client multiplied
    // its allowance by quoting its address again (Postfix sends the unquoted form).
    const session = eximBh(exim, "198.51.100.8", [
      "EHLO client.example",
      ...transaction("same@quoting.example", "one@example.net"),
      ...transaction('"same"@quoting.example', "two@example.net"),
      ...transaction('"s\\ame"@quoting.example', "three@example.net"),
      "QUIT",
    ]);
    assert.equal(
      session.replies.filter((reply) => reply.startsWith("250 Accepted")).length,
      3,
      session.output,
    );
    const { body } = await httpGet({
      socketPath: dir.file("control.sock"),
      path: "/senders?top=50&rule=per-sender",
    });
    const rows = (JSON.parse(body) as { key: string; count: number }[]).filter((row) =>
      row.key.includes("quoting")
    );
    assert.deepEqual(rows.map((row) => [row.key, row.count]), [["same@quoting.example", 3]]);
  });

  it("defers the client's own mail when its HELO makes the request too long, and does not let it through", () => {
    const helo = `${"a".repeat(60)}.`.repeat(70) + "example";
    const session = eximBh(exim, "198.51.100.9", [
      `EHLO ${helo}`,
      "MAIL FROM:<long@remote.example>",
      "RCPT TO:<long@example.net>",
      "QUIT",
    ]);
    assert.ok(
      session.replies.some((reply) =>
        reply === "451 mailpolicyd: bad request: request longer than 4096 bytes"
      ),
      session.output,
    );
    assert.ok(!session.replies.some((reply) => reply.startsWith("250 Accepted")), session.output);
    assert.doesNotMatch(session.output, /fail-open/);
  });
});
