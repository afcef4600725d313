// An Exim delivering into a maildir whose DATA ACL asks the daemon's spamd front (the shipped snippet), the
// daemon with one content rule refusing executables; swaks sends whole message texts as a mailer would.
// For the tests that show a file refused at DATA through a real Exim.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { spamdAddressSpec } from "../../src/exim/spamd-snippet.ts";
import { waitFor } from "./daemon-process.ts";
import { swaksWith } from "./exim.ts";
import { type MaildirExim, startMaildirExim } from "./exim-maildir.ts";
import { freePort } from "./smtp-receiver.ts";

const REFUSED = /<\*\* 550 /;

/** A message from alice@example.org to user@example.net: its first header lines, then `rest` as it is. */
export function mailText(subject: string, rest: string): string {
  return `From: alice@example.org\r\nTo: user@example.net\r\nSubject: ${subject}\r\n` +
    `Date: Sun, 06 Dec 2026 10:00:00 +0000\r\nMessage-Id: <${subject}@example.org>\r\n${rest}`;
}

export interface ContentExim {
  setup: MaildirExim;
  /** Writes `text` (a whole message, Subject: `subject`) to a file and sends it with swaks --data. */
  send(subject: string, text: string): Promise<{ status: number | null; output: string }>;
  /** The delivered messages whose Subject is `subject`. */
  delivered(subject: string): string[];
  /** Sends it and asserts Exim refused it with 550, nothing was delivered and the rule said why. */
  refused(subject: string, text: string): Promise<void>;
  /** Sends it and waits until it is delivered, once. */
  accepted(subject: string, text: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `markThreshold`: the front's mark_threshold; at 0 every scanned message is "add header", so the snippet
 * writes the report (X-Spam-Report) into every message delivered, as SpamAssassin's `add_header all Report`.
 */
export async function startContentExim({ markThreshold = 5 } = {}): Promise<ContentExim> {
  const front = await freePort();
  const setup = await startMaildirExim(
    () =>
      `[spamd]\nlisten = 127.0.0.1:${front}\nmark_threshold = ${markThreshold}\nreject_threshold = 10\n` +
      `[content]\n[rule executable]\nattachments = executable\nscore = 10\naction = reject\n` +
      `message = executable attachments are refused\n`,
    { spamd: spamdAddressSpec({ hostname: "127.0.0.1", port: front }) },
  );
  const send = (subject: string, text: string) => {
    const path = setup.dir.file(`${subject}.eml`);
    writeFileSync(path, text, "latin1");
    return swaksWith([
      ...["--server", "127.0.0.1", "--port", String(setup.exim.port), "--helo", "client.example"],
      ...["--from", "alice@example.org", "--to", "user@example.net", "--data", `@${path}`],
    ]);
  };
  const delivered = (subject: string) =>
    setup.messages().filter((mail) => mail.includes(`\nSubject: ${subject}\n`));
  const executableVerdicts = () => setup.daemon.logs().match(/symbols=[^ ]*EXECUTABLE/g)?.length ?? 0;
  return {
    setup,
    send,
    delivered,
    async refused(subject, text) {
      const before = executableVerdicts();
      const sent = await send(subject, text);
      assert.notEqual(sent.status, 0, sent.output);
      assert.match(sent.output, REFUSED);
      assert.equal(delivered(subject).length, 0);
      await waitFor(() => executableVerdicts() > before, 10_000, `the rule's verdict on ${subject}`);
    },
    async accepted(subject, text) {
      const sent = await send(subject, text);
      assert.equal(sent.status, 0, sent.output);
      await waitFor(() => delivered(subject).length === 1, 20_000, `delivery of ${subject}`);
    },
    stop: () => setup.stop(),
  };
}
