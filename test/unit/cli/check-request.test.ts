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

  // The SPF trace after the answer printed `mailpolicyd spf`'s usage error for these, and the daemon counted
  // "01.2.3.4" as 1.2.3.4 where inet_aton reads octal.
  it("refuses a client_address that is no IP address, or one with a leading zero, as `spf` does", () => {
    for (const ip of ["01.2.3.4", "192.0.2.010", "::ffff:192.0.02.1"]) {
      assert.equal(
        (checkRequestLine(["rcpt", "sender=a@example.org", `client_address=${ip}`]) as { error: string })
          .error,
        `client_address "${ip}" is not an IP address (a part with a leading zero: decimal or octal?)`,
      );
    }
    assert.equal(
      (checkRequestLine(["rcpt", "client_address=mail.example.org"]) as { error: string }).error,
      'client_address "mail.example.org" is not an IP address',
    );
    // The daemon reads attribute names in any case.
    assert.match(
      (checkRequestLine(["rcpt", "Client_Address=01.2.3.4"]) as { error: string }).error,
      /leading zero/,
    );
    assert.deepEqual(checkRequestLine(["rcpt", "client_address=", "helo_name=01.2.3.4"]), {
      line: 'rcpt client_address="" helo_name=01.2.3.4',
    }, "none (local mail) is sent, and other names are not addresses");
    assert.deepEqual(checkRequestLine(["rcpt", "client_address=2001:db8::0001"]), {
      line: 'rcpt client_address="2001:db8::0001"',
    });
  });
});
