// What a limit counted at RCPT (the default stage) does with messages that never arrive, in a real Exim
// (exim -bh), as docs/configuration.md (`per`) and docs/exim.md say: a message the client gives up after
// RCPT (RSET) and one the site's DATA ACL refuses were counted at their first accepted recipient; a limit
// counted at DATA counts neither. The instance is new after RSET: the next message counts on its own.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { DaemonProcess } from "../helpers/daemon-process.ts";
import { countReplies, eximBh, message, startDaemonForExim, writeEximConfig } from "../helpers/exim.ts";
import type { TempDir } from "../helpers/temp-dir.ts";

describe("messages given up or refused at DATA, counted at RCPT, in a real Exim", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;
  let exim: string;

  before(async () => {
    ({ dir, daemon } = await startDaemonForExim(
      `[limit at_rcpt]\nkey = sender\ncount = 3\ntime = 1h\n` +
        `[limit at_data]\nkey = sender\nstage = data\ncount = 1\ntime = 1h\naction = warn\n`,
    ));
    exim = writeEximConfig(dir, {
      address: daemon.eximAddress,
      siteDataAcl:
        `  deny condition = \${if match{$h_subject:}{REFUSE}}\n       message = refused here\n  accept\n`,
    });
  });
  after(async () => {
    await daemon.stopCleanly();
    dir.remove();
  });

  it("counts the given-up and the refused message at RCPT, not at DATA", () => {
    const session = eximBh(exim, "192.0.2.10", [
      "EHLO client.example",
      "MAIL FROM:<Carol@Example.ORG>",
      "RCPT TO:<a@remote.example>",
      "RCPT TO:<b@remote.example>",
      "RSET",
      ...message("carol@example.org", ["c@remote.example"], ["Subject: REFUSE"]),
      ...message("carol@example.org", ["d@remote.example", "e@remote.example"], ["Subject: kept"]),
      "MAIL FROM:<carol@example.org>",
      "RCPT TO:<f@remote.example>",
      "QUIT",
    ]);
    assert.equal(countReplies(session, "250 Accepted"), 5, session.output);
    assert.equal(countReplies(session, "550 refused here"), 1, session.output);
    assert.equal(countReplies(session, "250 OK id="), 1, session.output);
    assert.deepEqual(session.replies.filter((reply) => reply.startsWith("451")), [
      "451 carol@example.org over limit: 3 messages in 1h (limit 3)",
    ]);
    // at_data (count 1, warn) was asked about the delivered message only: within its count, no warning.
    assert.ok(!session.log.some((line) => /\(limit 1\)/.test(line)), session.log.join("\n"));
  });
});
