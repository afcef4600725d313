// evaluateRules over facts made by hand: the answer's score, symbols, tags, action and message.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { evaluateRules, type MessageFacts } from "../../../src/content/rules.ts";
import { contentPolicy } from "../../helpers/content-policy.ts";
import { windowsExecutable } from "../../helpers/content-corpus.ts";

const policy = contentPolicy(`[content]
[rule trusted]
recipients = @partner.example
score = -5
[rule exe]
attachments = executable
action = reject
[rule archive]
attachments = .rar, .7z
score = 2.25
action = warn
message = archives we cannot open are unusual
[rule late]
subject_prefix = late
score = 1
action = defer
`);
const facts = (extra: Partial<MessageFacts>): MessageFacts => ({ recipients: ["a@example.net"], ...extra });
const file = (name: string, head: Uint8Array = new Uint8Array(0)) => ({ name, head, where: "attachment" });
const content = (...files: ReturnType<typeof file>[]) => ({ files, corruptZips: [], skipped: [] });

describe("evaluateRules", () => {
  it("nothing matched: accept, score 0, one shared answer", () => {
    const answer = evaluateRules(facts({ subject: "hello", content: content(file("a.txt")) }), policy);
    assert.deepEqual(answer, { action: "accept", score: 0 });
    assert.equal(evaluateRules(facts({}), policy), answer);
    assert.ok(Object.isFrozen(answer));
  });

  it("a reject rule with score 0 rejects on its own; its default message says why", () => {
    const answer = evaluateRules(facts({ content: content(file("x.bin", windowsExecutable())) }), policy);
    assert.equal(answer.action, "reject");
    assert.equal(answer.score, 0);
    assert.equal(
      answer.message,
      "refused by content rule exe: executable x.bin (attachment): content is a Windows executable (MZ)",
    );
    assert.deepEqual(answer.fields, [["rule", "exe"]]);
    assert.equal(answer.flagged, true);
  });

  it("scores add up, negative ones too; the strictest action's rule gives the message", () => {
    const answer = evaluateRules(
      facts({
        subject: "Late payment",
        recipients: ["x@PARTNER.example"],
        content: content(file("pack.RAR")),
      }),
      policy,
    );
    assert.deepEqual(answer.symbols!.map((s) => [s.name, s.score]), [["TRUSTED", -5], ["ARCHIVE", 2.25], [
      "LATE",
      1,
    ]]);
    assert.equal(answer.score, -1.75);
    assert.equal(answer.action, "defer");
    assert.equal(answer.message, 'refused by content rule late: Subject "Late payment" starts with "late"');
    assert.deepEqual(answer.tags, ["content:TRUSTED", "content:ARCHIVE", "content:LATE"]);
    const warned = evaluateRules(facts({ content: content(file("pack.7z")) }), policy);
    assert.equal(warned.action, "warn");
    assert.equal(warned.message, "archives we cannot open are unusual");
  });

  it("not scanned: attachment rules cannot match, the note says why", () => {
    const answer = evaluateRules(facts({ notScanned: "message of 5 bytes over max_scan_size (1)" }), policy);
    assert.deepEqual(answer.symbols, [
      { name: "CONTENT_NOT_SCANNED", score: 0, description: "message of 5 bytes over max_scan_size (1)" },
    ]);
    assert.equal(answer.action, "accept");
    assert.equal(answer.flagged, false);
  });

  it("names from a message are made harmless in reports: quotes, controls, length", () => {
    const name = `a"b\r\nc${"x".repeat(200)}.rar`;
    const answer = evaluateRules(facts({ content: content(file(name)) }), policy);
    const description = answer.symbols![0].description!;
    assert.ok(!/["\r\n]/.test(description), description);
    assert.ok(description.length < 130, description);
  });
});
