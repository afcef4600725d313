import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { AwaitedReplies, commandStep, MESSAGE_END_STEP } from "../../../src/policy/alert-smtp-replies.ts";

describe("commandStep", () => {
  it("names a command by its words, never by its arguments (credentials, addresses)", () => {
    assert.equal(commandStep("EHLO mx.example.org", undefined), "EHLO");
    assert.equal(commandStep("AUTH PLAIN AHUALyogc2VjcmV0ICov", undefined), "AUTH PLAIN");
    assert.equal(commandStep("auth login", undefined), "AUTH LOGIN");
    assert.equal(commandStep("MAIL FROM:<postmaster@example.org> BODY=8BITMIME", undefined), "MAIL FROM");
    assert.equal(commandStep("RCPT TO:<boss@example.org>", undefined), "RCPT TO");
    assert.equal(commandStep("STARTTLS", undefined), "STARTTLS");
    assert.equal(commandStep("DATA", undefined), "DATA");
    assert.equal(commandStep("AUTH x/y", undefined), "AUTH", "no mechanism name: not shown");
  });

  it("takes a line that is no command for the answer to the AUTH exchange under way", () => {
    assert.equal(commandStep("dXNlckBleGFtcGxlLm9yZw==", "AUTH LOGIN"), "AUTH LOGIN");
    assert.equal(commandStep("dXNlckBleGFtcGxlLm9yZw==", undefined), "a command");
  });
});

describe("AwaitedReplies", () => {
  it("awaits nothing before a command: the greeting answers nothing here", () => {
    const replies = new AwaitedReplies();
    replies.replied();
    assert.equal(replies.next, undefined);
    replies.sent("EHLO mx.example.org");
    assert.deepEqual(replies.next, { step: "EHLO", messageEnd: false });
  });

  it("follows pipelined commands' replies in order, then the message's end", () => {
    const replies = new AwaitedReplies();
    for (const line of ["MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>", "DATA"]) replies.sent(line);
    const steps: (string | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      steps.push(replies.next?.step);
      replies.replied();
    }
    assert.deepEqual(steps, ["MAIL FROM", "RCPT TO", "DATA"]);
    assert.equal(replies.next, undefined);
    replies.messageSent();
    assert.deepEqual(replies.next, { step: MESSAGE_END_STEP, messageEnd: true });
    replies.replied();
    assert.equal(replies.next, undefined);
  });

  it("names each line of an AUTH LOGIN exchange after it, and what follows by its own command", () => {
    const replies = new AwaitedReplies();
    const steps: (string | undefined)[] = [];
    for (const line of ["AUTH LOGIN", "dXNlcg==", "/* secret */", "MAIL FROM:<a@example.org>", "Zm9v"]) {
      replies.sent(line);
      steps.push(replies.next?.step);
      replies.replied();
    }
    assert.deepEqual(steps, ["AUTH LOGIN", "AUTH LOGIN", "AUTH LOGIN", "MAIL FROM", "a command"]);
  });
});
