// The engine's decision in Postfix's words (src/protocols/postfix-reply.ts): the configured vocabulary,
// one action per reply (what wins), and no PREPEND after the message.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { Decision } from "../../../src/model/answer.ts";
import type { PostfixVocabulary } from "../../../src/model/postfix.ts";
import {
  headerToPrepend,
  mayPrependAt,
  postfixAction,
  postfixReplyFormatter,
  refusalTextBound,
} from "../../../src/protocols/postfix-reply.ts";
import type { PolicyRequest } from "../../../src/policy/request.ts";

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
/** What the listener says: the action, with the header headerToPrepend picks. */
const say = (decision: Decision, mayPrepend: boolean, vocabulary: PostfixVocabulary) =>
  postfixAction(decision, headerToPrepend(decision, mayPrepend, vocabulary), vocabulary);
const SPF_HEADER =
  "Received-SPF: pass (mx: domain of a@example.org designates 192.0.2.1) client-ip=192.0.2.1";

describe("postfixAction", () => {
  it("says each action in the default words", () => {
    assert.equal(say({ action: "accept" }, true, DEFAULTS), "DUNNO");
    assert.equal(
      say({ action: "defer", message: "a@example.org sent 20 in 1h" }, true, DEFAULTS),
      "DEFER_IF_PERMIT a@example.org sent 20 in 1h",
    );
    assert.equal(say({ action: "reject", message: "forged" }, true, DEFAULTS), "REJECT forged");
    assert.equal(
      say({ action: "warn", message: "near the limit" }, true, DEFAULTS),
      "WARN near the limit",
    );
  });

  it("says each action in the other configured words", () => {
    assert.equal(say({ action: "accept" }, true, NUMERIC), "OK");
    assert.equal(say({ action: "defer", message: "wait" }, true, NUMERIC), "451 4.7.1 wait");
    assert.equal(say({ action: "reject", message: "no" }, true, NUMERIC), "550 5.7.1 no");
    assert.equal(say({ action: "warn", message: "near" }, true, NUMERIC), "DUNNO");
    assert.equal(say({ action: "accept", headers: [SPF_HEADER] }, true, NUMERIC), "OK");
  });

  it("gives a refusal without a message a text, and keeps every text on one line", () => {
    assert.equal(say({ action: "reject" }, true, NUMERIC), "550 5.7.1 mail policy: refused");
    assert.equal(
      say({ action: "defer", message: " " }, true, DEFAULTS),
      "DEFER_IF_PERMIT mail policy: try again later",
    );
    assert.equal(say({ action: "reject", message: "a\r\nb\x00c" }, true, DEFAULTS), "REJECT a b c");
    assert.equal(
      say({ action: "reject", message: "x".repeat(1000) }, true, DEFAULTS).length,
      7 + 400,
    );
  });

  it("one action per reply: a refusal wins over headers, headers over a warning", () => {
    const headers = [SPF_HEADER, "X-Second: dropped"];
    assert.equal(
      say({ action: "defer", message: "wait", headers }, true, DEFAULTS),
      "DEFER_IF_PERMIT wait",
    );
    assert.equal(say({ action: "reject", message: "no", headers }, true, DEFAULTS), "REJECT no");
    assert.equal(
      say({ action: "warn", message: "near", headers }, true, DEFAULTS),
      `PREPEND ${SPF_HEADER}`,
    );
    assert.equal(say({ action: "accept", headers }, true, DEFAULTS), `PREPEND ${SPF_HEADER}`);
  });

  it("prepends nothing at END-OF-MESSAGE, where Postfix refuses PREPEND", () => {
    assert.equal(mayPrependAt("END-OF-MESSAGE"), false);
    assert.equal(mayPrependAt("RCPT"), true);
    assert.equal(mayPrependAt("DATA"), true);
    assert.equal(mayPrependAt("MAIL"), true);
    assert.equal(mayPrependAt("BDAT"), true);
    assert.equal(say({ action: "accept", headers: [SPF_HEADER] }, false, DEFAULTS), "DUNNO");
    assert.equal(
      say({ action: "warn", message: "near", headers: [SPF_HEADER] }, false, DEFAULTS),
      "WARN near",
    );
  });

  it("prepends nothing at CONNECT, EHLO or HELO, where Postfix skips PREPEND: a warning says WARN", () => {
    // smtpd_check.c skips PREPEND before MAIL FROM ("always skipped in client or helo restrictions"); the
    // states come only with smtpd_delay_reject = no. A warning said as PREPEND there would be lost.
    for (const state of ["CONNECT", "EHLO", "HELO"]) assert.equal(mayPrependAt(state), false, state);
    const format = postfixReplyFormatter(DEFAULTS, mayPrependAt("HELO"));
    const request = { form: "attributes", stage: "helo", attributes: { instance: "h1" } } as PolicyRequest;
    assert.equal(
      format({ action: "warn", message: "near", headers: ["X-Mailpolicyd-Warning: near"] }, request),
      "action=WARN near\n\n",
    );
  });

  it("unfolds a folded header, and drops one that is not Name: value", () => {
    assert.equal(
      say({ action: "accept", headers: ["X-A: one\r\n two"] }, true, DEFAULTS),
      "PREPEND X-A: one two",
    );
    assert.equal(say({ action: "accept", headers: ["no colon here"] }, true, DEFAULTS), "DUNNO");
  });

  it("keeps a header longer than a reply's text whole, up to RFC 5322's 998-octet line", () => {
    // A header goes into the message: a real Postfix 3.7 prepended a 670-character one whole. Cut at the
    // reply text's 400, a Received-SPF naming a long (SRS, VERP) sender twice lost its last pairs.
    const sender = `SRS0=ab12=XY=${"bounces-".repeat(10)}list@lists.example.org`;
    const header = `Received-SPF: pass (mx.example.net: domain of ${sender} designates 2001:db8::25 as ` +
      `permitted sender) client-ip=2001:db8::25; envelope-from=${sender}; helo=mail.example.org; ` +
      `receiver=mx.example.net; identity=mailfrom;`;
    assert.ok(header.length > 400, String(header.length));
    assert.equal(say({ action: "accept", headers: [header] }, true, DEFAULTS), `PREPEND ${header}`);
    const long = `X-Long: ${"x".repeat(2000)}`;
    assert.equal(say({ action: "accept", headers: [long] }, true, DEFAULTS), `PREPEND ${long.slice(0, 998)}`);
  });

  it("bounds texts and headers in octets of UTF-8, cut between characters", () => {
    const octets = (text: string) => Buffer.byteLength(text, "utf8");
    // 8 + 2 × 600 octets, 608 characters: within 998 characters, not octets.
    const header = say({ action: "accept", headers: [`X-Long: ${"ü".repeat(600)}`] }, true, DEFAULTS);
    assert.equal(header, `PREPEND X-Long: ${"ü".repeat(495)}`);
    // A character of four octets (a surrogate pair) is kept whole or left out, never halved.
    const emoji = say({ action: "accept", headers: [`X-Emoji: ${"😀".repeat(300)}`] }, true, DEFAULTS);
    assert.equal(emoji, `PREPEND X-Emoji: ${"😀".repeat(247)}`);
    assert.ok(!emoji.includes("\uFFFD"));
    // A refusal's text is ASCII (ascii-reply-text.ts): 57 escapes of 7 octets, none cut in half.
    const deferred = say({ action: "defer", message: "ж".repeat(300) }, true, DEFAULTS);
    assert.equal(deferred, `DEFER_IF_PERMIT ${"\\x{436}".repeat(57)}`);
    assert.equal(octets(deferred.slice("DEFER_IF_PERMIT ".length)), 399);
  });
});

const rcpt = (instance?: string): PolicyRequest => ({
  form: "attributes",
  stage: "rcpt",
  attributes: { sender: "a@example.org", instance },
});

describe("postfixReplyFormatter", () => {
  it("writes action=… and the empty line", () => {
    const format = postfixReplyFormatter(DEFAULTS, true);
    assert.equal(format({ action: "accept" }, rcpt()), "action=DUNNO\n\n");
    assert.equal(format({ action: "defer", message: "wait" }, rcpt()), "action=DEFER_IF_PERMIT wait\n\n");
    assert.equal(format({ action: "accept", headers: ["X-A: b"] }, rcpt()), "action=PREPEND X-A: b\n\n");
  });

  it("prepends a header once per message (instance): Postfix would add every RCPT's", () => {
    const format = postfixReplyFormatter(DEFAULTS, true);
    const withHeader: Decision = { action: "accept", headers: [SPF_HEADER] };
    const deferred: Decision = { action: "defer", message: "wait", headers: [SPF_HEADER] };
    // A deferred recipient does not use the header up: the next accepted one still carries it.
    assert.equal(format(deferred, rcpt("m1")), "action=DEFER_IF_PERMIT wait\n\n");
    assert.equal(format(withHeader, rcpt("m1")), `action=PREPEND ${SPF_HEADER}\n\n`);
    assert.equal(format(withHeader, rcpt("m1")), "action=DUNNO\n\n");
    assert.equal(
      format({ action: "accept", headers: ["X-Other: 1"] }, rcpt("m1")),
      "action=PREPEND X-Other: 1\n\n",
    );
    assert.equal(format(withHeader, rcpt("m2")), `action=PREPEND ${SPF_HEADER}\n\n`);
    // Without an instance every request is its own message.
    assert.equal(format(withHeader, rcpt()), `action=PREPEND ${SPF_HEADER}\n\n`);
    assert.equal(format(withHeader, rcpt("")), `action=PREPEND ${SPF_HEADER}\n\n`);
  });

  it("says a message's next header at its next RCPT when the first was said already", () => {
    // Limits answer before SPF: a client over a warn limit with an SPF pass carries the warning's header
    // first. Postfix takes one PREPEND per reply; the second RCPT adds Received-SPF, the third warns.
    const format = postfixReplyFormatter(DEFAULTS, true);
    const warning = "X-Mailpolicyd-Warning: near";
    const decision: Decision = { action: "warn", message: "near", headers: [warning, SPF_HEADER] };
    assert.equal(format(decision, rcpt("w1")), `action=PREPEND ${warning}\n\n`);
    assert.equal(format(decision, rcpt("w1")), `action=PREPEND ${SPF_HEADER}\n\n`);
    assert.equal(format(decision, rcpt("w1")), "action=WARN near\n\n");
    // A line that is not a header is passed over for the next one.
    assert.equal(
      format({ action: "accept", headers: ["no colon", "X-Next: 1"] }, rcpt("w2")),
      "action=PREPEND X-Next: 1\n\n",
    );
  });
});

describe("refusalTextBound", () => {
  const attributes = (recipient: string) => ({
    sender: "a@example.org",
    recipient,
    client_address: "192.0.2.1",
    instance: "i1",
  });
  const request = (recipient: string): PolicyRequest => ({
    form: "attributes",
    stage: "rcpt",
    attributes: attributes(recipient),
  });
  it("leaves 400 octets beside a short name, and less beside a long one, by the longest name", () => {
    assert.equal(refusalTextBound(attributes("b@example.net")), 400);
    const long = `${"r".repeat(64)}@${"d".repeat(179)}`; // 244 octets
    assert.equal(refusalTextBound(attributes(long)), 512 - 44 - 244);
    assert.equal(refusalTextBound(attributes(`${"ü".repeat(100)}@x.example`)), 512 - 44 - 210);
    assert.equal(refusalTextBound(attributes("r".repeat(2000))), 60);
  });
  it("cuts a refusal's text so that Postfix's line stays within 512 octets, for each recipient anew", () => {
    const format = postfixReplyFormatter(DEFAULTS, true);
    const refusal: Decision = { action: "defer", message: "ü".repeat(300) };
    const long = `${"r".repeat(64)}@${"d".repeat(179)}`;
    for (const recipient of ["b@example.net", long, "c@example.net"]) {
      const reply = format(refusal, request(recipient)) as string;
      const text = reply.slice("action=DEFER_IF_PERMIT ".length, -2);
      // Postfix's line: "450 4.7.1 <recipient>: Recipient address rejected: " and the text, and CRLF.
      const line = `450 4.7.1 <${recipient}>: Recipient address rejected: ${text}\r\n`;
      assert.ok(Buffer.byteLength(line) <= 512, `${Buffer.byteLength(line)} octets`);
      // Whole escapes of 6 octets (`\x{FC}`: the text is ASCII) up to the bound.
      assert.match(text, /^(\\x\{FC\})+$/);
      assert.ok(text.length > (recipient === long ? 224 : 400) - 6, `${text.length}`);
    }
  });
});
