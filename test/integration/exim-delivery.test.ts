// Real delivery: an Exim daemon on a loopback port (exim -bd) with the plain snippet, mail sent with
// swaks, delivered to a maildir. A `warn` limit adds its header to the delivered message; a `defer`
// limit makes swaks see the 451 at RCPT.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { waitFor } from "../helpers/daemon-process.ts";
import { type MaildirExim, startMaildirExim } from "../helpers/exim-maildir.ts";
import { swaks } from "../helpers/exim.ts";

describe("delivery through a real Exim daemon (exim -bd, swaks, maildir)", () => {
  let setup: MaildirExim;

  before(async () => {
    setup = await startMaildirExim(() =>
      `[limit watch]\nkey = sender\nstage = data\ncount = 1\ntime = 1h\naction = warn\nmessage = {key} is sending a lot ({count})\n` +
      `[limit stop]\nkey = sender\ncount = 3\ntime = 1h\n`
    );
  });
  after(async () => await setup?.stop());

  it("delivers the first message untouched and adds the warn header to the second", async () => {
    assert.equal(swaks(setup.exim.port, "busy@example.org", "user@example.net", "first").status, 0);
    assert.equal(swaks(setup.exim.port, "busy@example.org", "user@example.net", "second").status, 0);
    await waitFor(() => setup.messages().length >= 2, 15_000, "two deliveries");
    const messages = setup.messages();
    const first = messages.find((text) => /^Subject: first$/m.test(text))!;
    const second = messages.find((text) => /^Subject: second$/m.test(text))!;
    assert.doesNotMatch(first, /X-Mailpolicyd-Warning/);
    assert.match(second, /^X-Mailpolicyd-Warning: busy@example\.org is sending a lot \(2\)$/m);
  });

  it("makes the SMTP client see the deferral at RCPT", () => {
    const third = swaks(setup.exim.port, "busy@example.org", "user@example.net", "third");
    assert.equal(third.status, 0);
    const fourth = swaks(setup.exim.port, "busy@example.org", "user@example.net", "fourth");
    assert.equal(fourth.status, 24, "swaks exits 24 when the recipient is refused");
    assert.match(fourth.output, /<\*\* 451 busy@example\.org over limit: 3 messages in 1h \(limit 3\)/);
  });
});
