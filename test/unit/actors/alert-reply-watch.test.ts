// The reply watch's account of a failed attempt, fed the session as nodemailer logs it: after the message went
// out whole, a failure with no reply to its end says the relay may have taken it (the retry may be a second
// copy); a reply to it, or a failure before it, is told as it is.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ReplyWatch } from "../../../src/actors/alert-reply-watch.ts";

const MAY_HAVE_TAKEN =
  "the message had gone out whole: the relay may have taken it, and the alert may arrive twice";

/** A watch that has seen the session up to DATA's 354, and the message's dot when `sent`. */
function watchedSession(sent: boolean): ReplyWatch {
  const watch = new ReplyWatch("127.0.0.1:25", { commandMs: 60_000, messageEndMs: 600_000 });
  for (const command of ["EHLO host", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>", "DATA"]) {
    watch.logger.debug({ tnx: "client" }, command);
    watch.logger.debug({ tnx: "server" }, "250 ok");
  }
  if (sent) watch.logger.info({ tnx: "message", outByteCount: 420 });
  return watch;
}

const failureText = (watch: ReplyWatch, error: Error) => {
  try {
    return String((watch.failure(error) as Error).message);
  } finally {
    watch.stop();
  }
};

describe("ReplyWatch.failure", () => {
  it("says the relay may have taken a message whose end it never answered", () => {
    const closed = Object.assign(new Error("Connection closed unexpectedly"), { code: "ECONNECTION" });
    assert.equal(
      failureText(watchedSession(true), closed),
      `Connection closed unexpectedly; ${MAY_HAVE_TAKEN}`,
    );
    const reset = Object.assign(new Error("read ECONNRESET"), {
      code: "ESOCKET",
      originalCode: "ECONNRESET",
    });
    const watch = watchedSession(true);
    const failure = watch.failure(reset) as Error & { code?: string; originalCode?: string };
    watch.stop();
    assert.equal(failure.message, `read ECONNRESET; ${MAY_HAVE_TAKEN}`);
    assert.deepEqual(
      [failure.code, failure.originalCode],
      ["ESOCKET", "ECONNRESET"],
      "nodemailer's fields stay",
    );
  });

  it("tells a reply to the message's end as it is", () => {
    const deferred = Object.assign(new Error("Message failed: 452 later"), { responseCode: 452 });
    assert.equal(failureText(watchedSession(true), deferred), "Message failed: 452 later");
  });

  it("tells a failure before the message went out as it is", () => {
    const closed = Object.assign(new Error("Connection closed unexpectedly"), { code: "ECONNECTION" });
    assert.equal(failureText(watchedSession(false), closed), "Connection closed unexpectedly");
  });
});
