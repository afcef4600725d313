// The SpamAssassin concern's "too big" decision (engine/spamassassin-concern.ts, spamd/answer.ts): max_size
// bounds the message, not the envelope lines of Exim's mbox copy; what goes to the actor (and so to spamd)
// is the whole copy, as Exim sends it to spamd itself.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { AnyActorSystem } from "../../../src/actors/actor.ts";
import type { SpamAssassinEvent } from "../../../src/actors/spamassassin.ts";
import type { SpamAssassinConfig } from "../../../src/config/types.ts";
import { createSpamdMetrics } from "../../../src/control/spamd-metrics.ts";
import { spamAssassinConcern } from "../../../src/engine/spamassassin-concern.ts";
import type { ConcernAnswer } from "../../../src/model/answer.ts";

/** An actor system whose live "spamassassin" actor keeps what it is sent. */
function systemKeeping(sent: SpamAssassinEvent[]): AnyActorSystem {
  const actor = {
    getSnapshot: () => ({ status: "active" }),
    send: (event: SpamAssassinEvent) => sent.push(event),
  };
  return { get: (id: string) => id === "spamassassin" ? actor : undefined } as unknown as AnyActorSystem;
}

const MAX_SIZE = 1024;

/** Asks the concern about `text` as the spamd front hands it over; what it answered at once, if anything. */
function ask(text: string, sent: SpamAssassinEvent[]): ConcernAnswer | undefined {
  const concern = spamAssassinConcern(
    () => systemKeeping(sent),
    () => ({ maxSize: MAX_SIZE } as SpamAssassinConfig),
    createSpamdMetrics(),
  );
  const message = new TextEncoder().encode(text);
  let answered: ConcernAnswer | undefined;
  concern.decide(
    {
      form: "message",
      envelope: { sender: "", recipients: [] },
      message,
      size: message.length,
      truncated: false,
    },
    (answer) => answered = answer,
  );
  return answered;
}

describe("spamAssassinConcern: max_size", () => {
  // X-Envelope-To lists every recipient: 3 000 of about 35 characters take 110 KB.
  const recipients = Array.from({ length: 3000 }, (_, i) => `someone.with.a.name.${i}@example.net`);
  const envelope = "From alice@example.org Sun Dec  6 16:00:00 2026\nX-Envelope-From: <alice@example.org>\n" +
    `X-Envelope-To: ${recipients.join(", ")}\n`;

  it("sends a small message to thousands to spamd, its mbox copy whole", () => {
    const mbox = envelope + "Subject: hello\n\nshort\n";
    assert.ok(mbox.length > 100 * MAX_SIZE);
    const sent: SpamAssassinEvent[] = [];
    assert.equal(ask(mbox, sent), undefined, "not answered without spamd");
    assert.equal(sent.length, 1);
    const scan = sent[0] as Extract<SpamAssassinEvent, { type: "scan" }>;
    assert.equal(scan.type, "scan");
    assert.equal(new TextDecoder().decode(scan.request.message), mbox, "the envelope lines go too");
  });

  it("a message of its own over max_size is not sent, its own size said", () => {
    const own = "Subject: big\n\n" + "a".repeat(MAX_SIZE) + "\n";
    const sent: SpamAssassinEvent[] = [];
    const answer = ask(envelope + own, sent);
    assert.equal(sent.length, 0);
    assert.equal(
      answer?.symbols?.[0].description,
      `message of ${own.length} bytes over max_size ${MAX_SIZE}: not sent to spamd`,
    );
  });
});
