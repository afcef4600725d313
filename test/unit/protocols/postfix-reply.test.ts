// The engine's decision in Postfix's words (src/protocols/postfix-reply.ts): the configured vocabulary,
// one action per reply (what wins), and no PREPEND after the message.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Decision } from "../../../src/model/answer.ts";
import type { PostfixVocabulary } from "../../../src/model/postfix.ts";
import { mayPrependAt, postfixAction, postfixReplyFormatter } from "../../../src/protocols/postfix-reply.ts";

const DEFAULTS: PostfixVocabulary = {
  accept: "DUNNO",
  defer: "DEFER_IF_PERMIT",
  reject: "REJECT",
  warn: "WARN",
  headers: "PREPEND",
};
const NUMERIC: PostfixVocabulary = {
  accept: "OK",
  defer: "451 4.7.1",
  reject: "550 5.7.1",
  warn: "DUNNO",
  headers: "NONE",
};
const SPF_HEADER =
  "Received-SPF: pass (mx: domain of a@example.org designates 192.0.2.1) client-ip=192.0.2.1";

describe("postfixAction", () => {
  it("says each action in the default words", () => {
    assert.equal(postfixAction({ action: "accept" }, true, DEFAULTS), "DUNNO");
    assert.equal(
      postfixAction({ action: "defer", message: "a@example.org sent 20 in 1h" }, true, DEFAULTS),
      "DEFER_IF_PERMIT a@example.org sent 20 in 1h",
    );
    assert.equal(postfixAction({ action: "reject", message: "forged" }, true, DEFAULTS), "REJECT forged");
    assert.equal(
      postfixAction({ action: "warn", message: "near the limit" }, true, DEFAULTS),
      "WARN near the limit",
    );
  });

  it("says each action in the other configured words", () => {
    assert.equal(postfixAction({ action: "accept" }, true, NUMERIC), "OK");
    assert.equal(postfixAction({ action: "defer", message: "wait" }, true, NUMERIC), "451 4.7.1 wait");
    assert.equal(postfixAction({ action: "reject", message: "no" }, true, NUMERIC), "550 5.7.1 no");
    assert.equal(postfixAction({ action: "warn", message: "near" }, true, NUMERIC), "DUNNO");
    assert.equal(postfixAction({ action: "accept", headers: [SPF_HEADER] }, true, NUMERIC), "OK");
  });

  it("gives a refusal without a message a text, and keeps every text on one line", () => {
    assert.equal(postfixAction({ action: "reject" }, true, NUMERIC), "550 5.7.1 mail policy: refused");
    assert.equal(
      postfixAction({ action: "defer", message: " " }, true, DEFAULTS),
      "DEFER_IF_PERMIT mail policy: try again later",
    );
    assert.equal(postfixAction({ action: "reject", message: "a\r\nb\x00c" }, true, DEFAULTS), "REJECT a b c");
    assert.equal(
      postfixAction({ action: "reject", message: "x".repeat(1000) }, true, DEFAULTS).length,
      7 + 400,
    );
  });

  it("one action per reply: a refusal wins over headers, headers over a warning", () => {
    const headers = [SPF_HEADER, "X-Second: dropped"];
    assert.equal(
      postfixAction({ action: "defer", message: "wait", headers }, true, DEFAULTS),
      "DEFER_IF_PERMIT wait",
    );
    assert.equal(postfixAction({ action: "reject", message: "no", headers }, true, DEFAULTS), "REJECT no");
    assert.equal(
      postfixAction({ action: "warn", message: "near", headers }, true, DEFAULTS),
      `PREPEND ${SPF_HEADER}`,
    );
    assert.equal(postfixAction({ action: "accept", headers }, true, DEFAULTS), `PREPEND ${SPF_HEADER}`);
  });

  it("prepends nothing at END-OF-MESSAGE, where Postfix refuses PREPEND", () => {
    assert.equal(mayPrependAt("END-OF-MESSAGE"), false);
    assert.equal(mayPrependAt("RCPT"), true);
    assert.equal(mayPrependAt("DATA"), true);
    assert.equal(postfixAction({ action: "accept", headers: [SPF_HEADER] }, false, DEFAULTS), "DUNNO");
    assert.equal(
      postfixAction({ action: "warn", message: "near", headers: [SPF_HEADER] }, false, DEFAULTS),
      "WARN near",
    );
  });

  it("unfolds a folded header, and drops one that is not Name: value", () => {
    assert.equal(
      postfixAction({ action: "accept", headers: ["X-A: one\r\n two"] }, true, DEFAULTS),
      "PREPEND X-A: one two",
    );
    assert.equal(postfixAction({ action: "accept", headers: ["no colon here"] }, true, DEFAULTS), "DUNNO");
  });
});

describe("postfixReplyFormatter", () => {
  it("writes action=… and the empty line; the plain accept is the same string each time", () => {
    const format = postfixReplyFormatter(DEFAULTS, true);
    const accept: Decision = { action: "accept" };
    assert.equal(format(accept), "action=DUNNO\n\n");
    assert.equal(format({ action: "defer", message: "wait" }), "action=DEFER_IF_PERMIT wait\n\n");
    assert.equal(format({ action: "accept", headers: ["X-A: b"] }), "action=PREPEND X-A: b\n\n");
  });
});
