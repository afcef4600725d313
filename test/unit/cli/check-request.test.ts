import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkRequestLine } from "../../../src/cli/check-request.ts";
import { parseReadsocketRequest } from "../../../src/protocols/readsocket.ts";

describe("checkRequestLine", () => {
  it("quotes each value as Exim's ${quote:} does, so the daemon reads back what was typed", () => {
    const words = [
      "DATA",
      "sender=a@example.org",
      "subject=two words",
      'client_name=say "hi" \\o/',
      "size=12",
    ];
    const { line } = checkRequestLine(words) as { line: string };
    assert.equal(
      line,
      'data sender="a@example.org" subject="two words" client_name="say \\"hi\\" \\\\o/" size=12',
    );
    const parsed = parseReadsocketRequest(new TextEncoder().encode(line));
    assert.equal(parsed.kind, "attributes");
    if (parsed.kind !== "attributes") return;
    assert.deepEqual(parsed.attributes, {
      sender: "a@example.org",
      subject: "two words",
      client_name: 'say "hi" \\o/',
      size: "12",
    });
  });

  it("sends an empty value (the bounce sender) as \"\" and an '=' in a value as part of it", () => {
    assert.deepEqual(checkRequestLine(["rcpt", "sender=", "subject=a=b"]), {
      line: 'rcpt sender="" subject="a=b"',
    });
  });

  it("sends one token as it is (the one-token form)", () => {
    assert.deepEqual(checkRequestLine(["alice@example.org"]), { line: "alice@example.org" });
  });

  it("refuses what is not a stage and NAME=VALUE pairs, saying what it expected", () => {
    assert.match(
      (checkRequestLine(["rcpt", "words"]) as { error: string }).error,
      /^'words' is not NAME=VALUE/,
    );
    assert.match((checkRequestLine(["rcpt", "=x"]) as { error: string }).error, /^'=x' is not NAME=VALUE/);
    assert.match(
      (checkRequestLine(["send", "sender=a@b"]) as { error: string }).error,
      /^a request is one token, or a stage \(connect, helo, mail, rcpt, data, local\)/,
    );
  });
});
