// Files inside containers a mail reader opens, through a real Exim (exim -bd, delivering into a maildir) whose
// DATA ACL asks the daemon's spamd front (the shipped snippet) and through it the content rules: a message
// in a multipart/digest whose part has no Content-Type (an attached message by default, RFC 2046 5.1.5, as
// mutt and Thunderbird show it) carrying a program is refused at DATA; a digest of plain messages is
// delivered. The messages go in with swaks --data, as a mailer sends them.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { multipart, part, windowsExecutable } from "../helpers/content-corpus.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { type ContentExim, mailText, startContentExim } from "../helpers/exim-content.ts";

const SLOW = { timeout: 120_000 };
const TEXT = part({ type: "text/plain; charset=utf-8", body: "See the attachment.\r\n", encoding: "7bit" });

const mail = (subject: string, body: string) => mailText(subject, `MIME-Version: 1.0\r\n${body}`);

/** A multipart/digest whose parts are the messages, each without header lines of its own. */
function digest(messages: string[]): string {
  return multipart("digest", messages.map((message) => `\r\n${message}`));
}

describe("files in containers through Exim's spam = and the content rules", () => {
  let exim: ContentExim;
  before(async () => {
    exim = await startContentExim();
  }, SLOW);
  after(async () => {
    await exim?.stop();
  });

  it("a program in a message of a digest, the part without a Content-Type", SLOW, async () => {
    const program = part({
      type: "application/octet-stream",
      name: "invoice.exe",
      body: windowsExecutable(3000),
    });
    const inner = mail("inner", multipart("mixed", [TEXT, program]));
    await exim.refused("digest-program", mail("digest-program", digest([mail("first", TEXT), inner])));
  });

  it("a digest of plain messages: delivered", SLOW, async () => {
    const text = mail("digest-plain", digest([mail("first", TEXT), mail("second", TEXT)]));
    const sent = await exim.send("digest-plain", text);
    assert.equal(sent.status, 0, sent.output);
    await waitFor(() => exim.delivered("digest-plain").length === 1, 20_000, "delivery");
  });
});
