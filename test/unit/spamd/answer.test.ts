// What the SpamAssassin concern answers (spamd/answer.ts): spamd's verdict, or a message not sent.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  NOT_SCANNED_SYMBOL,
  notScannedAnswer,
  notScannedReason,
  spamdAnswer,
} from "../../../src/spamd/answer.ts";

const bytes = (length: number) => new Uint8Array(length).fill(0x61);

describe("SpamAssassin answers", () => {
  it("accept with spamd's total score and its tests; SYMBOLS' names count 0", () => {
    const answer = spamdAnswer({
      isSpam: true,
      score: 1000,
      symbols: [{ name: "GTUBE", score: 1000, description: "BODY: Generic Test" }, { name: "NO_RELAYS" }],
    });
    assert.deepEqual(answer, {
      action: "accept",
      score: 1000,
      symbols: [{ name: "GTUBE", score: 1000, description: "BODY: Generic Test" }, {
        name: "NO_RELAYS",
        score: 0,
      }],
      tags: ["spamassassin:spam"],
    });
    assert.deepEqual(spamdAnswer({ isSpam: false, score: 0.4, symbols: [] }).tags, ["spamassassin:ham"]);
  });

  it("a message is sent when whole and at most max_size", () => {
    assert.equal(notScannedReason({ message: bytes(500), size: 500, truncated: false }, 500), undefined);
  });

  it("not sent: over max_size, or cut short by the listener (even if the MTA announced no size)", () => {
    assert.equal(
      notScannedReason({ message: bytes(501), size: 501, truncated: false }, 500),
      "message of 501 bytes over max_size 500",
    );
    assert.equal(
      notScannedReason({ message: bytes(100), size: 900, truncated: true }, 5000),
      "message cut short by the listener at 100 of 900 bytes",
    );
    assert.match(notScannedReason({ message: bytes(100), size: 100, truncated: true }, 5000)!, /cut short/);
  });

  it("max_size bounds the message, not the envelope lines of Exim's mbox copy", () => {
    // X-Envelope-To lists every recipient: 3 000 of 35 characters take 110 KB before a message of 200 bytes.
    const recipients = Array.from({ length: 3000 }, (_, i) => `someone.with.a.name.${i}@example.net`);
    const envelope =
      "From alice@example.org Sun Dec  6 16:00:00 2026\nX-Envelope-From: <alice@example.org>\n" +
      `X-Envelope-To: ${recipients.join(", ")}\n`;
    const own = "Subject: hello\n\n" + "a".repeat(183) + "\n";
    assert.equal(own.length, 200);
    const mbox = new TextEncoder().encode(envelope + own);
    assert.ok(mbox.length > 100 * 1024);
    const at = (maxSize: number, size = mbox.length) =>
      notScannedReason({ message: mbox, size, truncated: false }, maxSize);
    assert.equal(at(1024), undefined);
    assert.equal(at(200), undefined);
    assert.equal(at(199), "message of 200 bytes over max_size 199");
    // The MTA announced more than the listener holds: cut short, as before.
    assert.match(at(1024, mbox.length + 1)!, /cut short by the listener/);
    // The null sender (no X-Envelope-From) and a message without an envelope (spamc): counted alike.
    const bounce = new TextEncoder().encode(envelope.replace(/^X-Envelope-From: .*\n/m, "") + own);
    assert.equal(
      notScannedReason({ message: bounce, size: bounce.length, truncated: false }, 200),
      undefined,
    );
    const plain = new TextEncoder().encode(own);
    assert.equal(
      notScannedReason({ message: plain, size: plain.length, truncated: false }, 199),
      "message of 200 bytes over max_size 199",
    );
  });

  it("a message not sent: accept, score 0, one symbol saying why", () => {
    assert.deepEqual(notScannedAnswer("message of 9 bytes over max_size 5"), {
      action: "accept",
      score: 0,
      symbols: [{
        name: NOT_SCANNED_SYMBOL,
        score: 0,
        description: "message of 9 bytes over max_size 5: not sent to spamd",
      }],
      tags: ["spamassassin:not-scanned"],
    });
  });
});
