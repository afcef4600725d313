// A limit's message as a real Exim (exim -bh, the plain snippet) says it: Exim takes a `message` that starts
// with three digits and a space as the reply's code (smtp_in.c, smtp_message_code). The default message
// starts with the key, and under key = recipient the key is Exim's $local_part, without the quotes of
// RCPT TO:<"550 5.1.1 no such user"@example.net>: the client chose the code of mailpolicyd's answer, and
// with a code of the other class wrote into Exim's panic log at will.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { DaemonProcess } from "../helpers/daemon-process.ts";
import { eximBh, startDaemonForExim, writeEximConfig } from "../helpers/exim.ts";
import type { TempDir } from "../helpers/temp-dir.ts";

describe("a key that looks like a reply code, in a real Exim", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;
  let exim: string;

  before(async () => {
    ({ dir, daemon } = await startDaemonForExim(
      `[limit inbound]\nkey = recipient\ncount = 1\ntime = 1h\naction = defer\n`,
    ));
    exim = writeEximConfig(dir, { address: daemon.eximAddress });
  });
  after(async () => {
    await daemon.stopCleanly();
    dir.remove();
  });

  it("keeps Exim's 451 and the whole text, and writes nothing to Exim's panic log", () => {
    const transaction = (rcpt: string) => ["MAIL FROM:<a@remote.example>", `RCPT TO:<${rcpt}>`, "RSET"];
    const session = eximBh(exim, "198.51.100.7", [
      "HELO client.example",
      ...transaction('"550 5.1.1 no such user"@example.net'),
      ...transaction('"550 5.1.1 no such user"@example.net'),
      ...transaction('"421 4.3.2 closing"@example.net'),
      ...transaction('"421 4.3.2 closing"@example.net'),
      "QUIT",
    ]);
    // Exim folds a long reply into "451-…" lines: each reply as one line of text after its code.
    const refusals = session.replies.join("\n").replace(/^(\d{3})-(.*)\n\1[ -]/gm, "$1 $2 ")
      .split("\n").filter((reply) => /^[45]/.test(reply));
    assert.deepEqual(refusals, [
      "451 mailpolicyd: 550 5.1.1 no such user@example.net over limit: 1 messages in 1h (limit 1)",
      "451 mailpolicyd: 421 4.3.2 closing@example.net over limit: 1 messages in 1h (limit 1)",
    ], session.output);
    assert.doesNotMatch(session.output, /error code starts with incorrect digit/);
  });
});
