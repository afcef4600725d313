// What the SpamAssassin concern answers (spamd/answer.ts): spamd's verdict, or a message not sent.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  NOT_SCANNED_SYMBOL,
  notScannedAnswer,
  notScannedReason,
  spamdAnswer,
} from "../../../src/spamd/answer.ts";

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
    assert.equal(notScannedReason({ length: 500, size: 500, truncated: false }, 500), undefined);
  });

  it("not sent: over max_size, or cut short by the listener (even if the MTA announced no size)", () => {
    assert.equal(
      notScannedReason({ length: 501, size: 501, truncated: false }, 500),
      "message of 501 bytes over max_size 500",
    );
    assert.equal(
      notScannedReason({ length: 100, size: 900, truncated: true }, 5000),
      "message cut short by the listener at 100 of 900 bytes",
    );
    assert.match(notScannedReason({ length: 100, size: 100, truncated: true }, 5000)!, /cut short/);
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
