// The snippets' wrappers run the site's own RCPT and DATA ACLs first. Whatever those decide must stay
// decided as they say: a discard (a spamtrap, a blackholed sender, spam over a score at DATA) stays a
// discard, a deny a deny with its message, a defer a defer; only what they accept goes on to mailpolicyd.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { DaemonProcess } from "../helpers/daemon-process.ts";
import { countReplies, eximBh, message, startDaemonForExim, writeEximConfig } from "../helpers/exim.ts";
import type { TempDir } from "../helpers/temp-dir.ts";

describe("the site's own ACL verdicts through the snippet's wrappers, in a real Exim", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;
  let exim: string;

  before(async () => {
    ({ dir, daemon } = await startDaemonForExim(
      `[limit stop]\nkey = sender\ncount = 1\ntime = 1h\nmessage = {key} over limit\n`,
    ));
    exim = writeEximConfig(dir, {
      address: daemon.eximAddress,
      siteRcptAcl: `  discard senders = trap@example.org
  drop    senders = dropme@example.org
          message = go away
  defer   senders = later@example.org
          message = site says later
  accept  hosts = +relay_from_hosts
  accept  domains = +local_domains
  deny    message = relay not permitted
`,
      siteDataAcl: `  discard condition = \${if match{$h_subject:}{SPAM}}
  accept
`,
    });
  });
  after(async () => {
    await daemon.stopCleanly();
    dir.remove();
  });

  it("keeps a discard in the site's RCPT ACL a discard, not a 451", () => {
    const session = eximBh(exim, "198.51.100.1", [
      "HELO client.example",
      ...message("trap@example.org", ["user@example.net"]),
      "QUIT",
    ]);
    assert.equal(countReplies(session, "451"), 0, session.output);
    assert.equal(countReplies(session, "250 Accepted"), 1, session.output);
    assert.equal(countReplies(session, "250 OK id="), 1, session.output);
  });

  it("keeps a discard in the site's DATA ACL a discard, not a 451", () => {
    const session = eximBh(exim, "198.51.100.2", [
      "HELO client.example",
      ...message("spammy@example.org", ["user@example.net"], ["Subject: SPAM SPAM"]),
      "QUIT",
    ]);
    assert.equal(countReplies(session, "451"), 0, session.output);
    assert.equal(countReplies(session, "250 OK id="), 1, session.output);
  });

  it("keeps the site's deny and defer with their messages, and asks mailpolicyd for what it accepts", () => {
    const session = eximBh(exim, "198.51.100.3", [
      "HELO client.example",
      "MAIL FROM:<stranger@example.org>",
      "RCPT TO:<someone@remote.example>",
      "RSET",
      "MAIL FROM:<later@example.org>",
      "RCPT TO:<user@example.net>",
      "RSET",
      ...message("busy@example.org", ["a@example.net"]),
      "MAIL FROM:<busy@example.org>",
      "RCPT TO:<b@example.net>",
      "QUIT",
    ]);
    assert.equal(countReplies(session, "550 relay not permitted"), 1, session.output);
    assert.ok(
      session.log.some((line) => /rejected RCPT <someone@remote\.example>: relay not permitted$/.test(line)),
    );
    assert.equal(countReplies(session, "451 site says later"), 1, session.output);
    assert.equal(countReplies(session, "250 OK id="), 1, session.output);
    assert.equal(countReplies(session, "451 busy@example.org over limit"), 1, session.output);
  });

  it("keeps the site's drop a drop: refused, and the connection closed", () => {
    const session = eximBh(exim, "198.51.100.4", [
      "HELO client.example",
      ...message("dropme@example.org", ["user@example.net"]),
      "QUIT",
    ]);
    assert.equal(countReplies(session, "550 go away"), 1, session.output);
    assert.equal(countReplies(session, "221"), 0, "the connection is dropped before QUIT");
  });
});
