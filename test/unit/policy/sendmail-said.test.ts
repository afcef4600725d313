import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SAID_MAX_CHARS, sendmailSaid } from "../../../src/policy/sendmail-said.ts";

describe("sendmailSaid", () => {
  it("joins the non-empty lines, trimmed, with '; '", () => {
    assert.equal(
      sendmailSaid("msmtp: cannot connect\r\n\n  msmtp: could not send mail  \n"),
      "msmtp: cannot connect; msmtp: could not send mail",
    );
  });

  it("is undefined for nothing but white space", () => {
    assert.equal(sendmailSaid(""), undefined);
    assert.equal(sendmailSaid(" \n\r\n\t"), undefined);
  });

  it("keeps SAID_MAX_CHARS characters and says it cut", () => {
    const said = sendmailSaid("a".repeat(SAID_MAX_CHARS + 10))!;
    assert.equal(said, `${"a".repeat(SAID_MAX_CHARS)}…`);
    assert.equal(sendmailSaid("a".repeat(SAID_MAX_CHARS)), "a".repeat(SAID_MAX_CHARS));
  });
});
