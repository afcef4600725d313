// The classic daemons' one-token condition (docs/exim.md) with senders a real Exim accepts: the request is
// `$sender_address\n` as Exim has it, and any answer but yes/no makes the `condition` defer the mail.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { DaemonProcess } from "../helpers/daemon-process.ts";
import { countReplies, eximBh, startDaemonForExim, writeEximConfig } from "../helpers/exim.ts";
import type { TempDir } from "../helpers/temp-dir.ts";

describe("the classic one-token condition with unusual senders, in a real Exim", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;
  let exim: string;

  before(async () => {
    ({ dir, daemon } = await startDaemonForExim(`[thresholds]\ntime = 1h\ncount = 2\n`));
    exim = writeEximConfig(dir, {
      address: daemon.eximAddress,
      withSnippet: false,
      siteRcptAcl: `  defer
    hosts       = +relay_from_hosts
    condition   = \${readsocket{${daemon.eximAddress}}{$sender_address\\n}{5s}{}{no}}
    message     = you have sent too much
  accept hosts = +relay_from_hosts
  deny
`,
    });
  });
  after(async () => {
    await daemon.stopCleanly();
    dir.remove();
  });

  // Exim's $sender_address for MAIL FROM:<"john doe"@example.org> keeps the quotes and the space.
  it("counts a sender whose quoted local part has a space, instead of deferring its mail", () => {
    const rcpts = ["r1", "r2", "r3", "r4"].map((r) => `RCPT TO:<${r}@remote.example>`);
    const session = eximBh(exim, "192.0.2.20", [
      "HELO lan.example",
      'MAIL FROM:<"john doe"@example.org>',
      ...rcpts,
      "QUIT",
    ]);
    // count = 2: the first two recipients pass, the later ones are over ("yes") and deferred.
    assert.equal(countReplies(session, "250 Accepted"), 2, session.output);
    assert.equal(countReplies(session, "451 you have sent too much"), 2, session.output);
    assert.doesNotMatch(session.output, /invalid "condition" value/);
  });

  // RFC 5322's obsolete local part, quoted in part, which Exim accepts and keeps as it is: its mail was
  // deferred for ever ("expected one token", or with an "=" "unknown stage"), never counted.
  for (const sender of ['x."y z"@example.org', 'x.y=z."a b"@example.org']) {
    it(`counts ${sender}, whose local part is quoted in part, instead of deferring its mail`, () => {
      const rcpts = ["r1", "r2", "r3", "r4"].map((r) => `RCPT TO:<${r}@remote.example>`);
      const session = eximBh(exim, "192.0.2.21", [
        "HELO lan.example",
        `MAIL FROM:<${sender}>`,
        ...rcpts,
        "QUIT",
      ]);
      assert.equal(countReplies(session, "250 Accepted"), 2, session.output);
      assert.equal(countReplies(session, "451 you have sent too much"), 2, session.output);
      assert.doesNotMatch(session.output, /invalid "condition" value/);
    });
  }
});
