// The spamd client codec against replies recorded from Debian's spamd 4.0.1 (test/fixtures/spamd/), and
// against what a broken or foreign server could send instead.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  isPong,
  parseSpamdReply,
  type SpamdCommand,
  spamdExitName,
  spamdRequestHead,
} from "../../../src/protocols/spamd-client.ts";

const fixture = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../../fixtures/spamd/${name}`, import.meta.url)));
const text = (value: string) => new TextEncoder().encode(value);

function answer(bytes: Uint8Array, command: SpamdCommand) {
  const reply = parseSpamdReply(bytes, command);
  if (!reply.ok) throw new Error(`refused: ${reply.error}`);
  return reply;
}

function failure(bytes: Uint8Array, command: SpamdCommand = "report") {
  const reply = parseSpamdReply(bytes, command);
  if (reply.ok) throw new Error(`accepted as ${JSON.stringify(reply)}`);
  return reply;
}

describe("spamd request head", () => {
  it("names the command, the protocol 1.5, the length and the user", () => {
    assert.equal(
      spamdRequestHead("report", 408, "nobody"),
      "REPORT SPAMC/1.5\r\nContent-length: 408\r\nUser: nobody\r\n\r\n",
    );
    assert.equal(spamdRequestHead("check", 0), "CHECK SPAMC/1.5\r\nContent-length: 0\r\n\r\n");
    assert.equal(
      spamdRequestHead("symbols", 5, "mail.user@example.org").split("\r\n")[0],
      "SYMBOLS SPAMC/1.5",
    );
  });

  it("leaves out a user spamd would refuse or misread (controls, spaces, empty)", () => {
    for (const user of ["", "a b", "x\r\nContent-length: 1", "root\0", "-dash", "x".repeat(65)]) {
      assert.doesNotMatch(spamdRequestHead("check", 1, user), /User:/, JSON.stringify(user));
    }
  });
});

describe("spamd replies recorded from spamd 4.0.1", () => {
  it("GTUBE, CHECK: spam, 1000 of 5, no symbols", () => {
    assert.deepEqual(answer(fixture("gtube-check.reply"), "check"), {
      ok: true,
      isSpam: true,
      score: 1000,
      threshold: 5,
      symbols: [],
    });
  });

  it("GTUBE, SYMBOLS: the names without scores", () => {
    const reply = answer(fixture("gtube-symbols.reply"), "symbols");
    assert.deepEqual(reply.symbols, [{ name: "GTUBE" }, { name: "NO_RECEIVED" }, { name: "NO_RELAYS" }]);
    assert.equal(reply.score, 1000);
  });

  it("GTUBE, REPORT: every row of the table with its score and description", () => {
    const reply = answer(fixture("gtube-report.reply"), "report");
    assert.equal(reply.isSpam, true);
    assert.deepEqual(reply.symbols, [
      { name: "NO_RECEIVED", score: 0, description: "Informational: message has no Received headers" },
      { name: "NO_RELAYS", score: 0, description: "Informational: message was not relayed via SMTP" },
      { name: "GTUBE", score: 1000, description: "BODY: Generic Test for Unsolicited Bulk Email" },
    ]);
  });

  it("a clean message: not spam, -0.0", () => {
    const check = answer(fixture("clean-check.reply"), "check");
    assert.equal(check.isSpam, false);
    assert.equal(check.score, 0);
    assert.deepEqual(answer(fixture("clean-report.reply"), "report").symbols.map((s) => s.name), [
      "NO_RECEIVED",
      "NO_RELAYS",
    ]);
  });

  it("REPORT with wrapped descriptions and a rule name wider than its column", () => {
    const reply = answer(fixture("spammy-report.reply"), "report");
    assert.equal(reply.score, 14.8);
    assert.equal(reply.symbols.length, 18);
    const byName = new Map(reply.symbols.map((symbol) => [symbol.name, symbol]));
    assert.deepEqual(byName.get("NORMAL_HTTP_TO_IP"), {
      name: "NORMAL_HTTP_TO_IP",
      score: 0.2,
      description: "URI: URI host has a public dotted-decimal IPv4 address",
    });
    assert.equal(byName.get("ADVANCE_FEE_3_NEW_MONEY")?.score, 1);
    assert.equal(
      byName.get("MIME_HEADER_CTYPE_ONLY")?.description,
      "'Content-Type' found without required MIME headers",
    );
    // Each row is rounded to one decimal: the rows add up to the total only within that rounding.
    const sum = reply.symbols.reduce((total, symbol) => total + symbol.score!, 0);
    assert.ok(Math.abs(sum - 14.8) <= 0.05 * reply.symbols.length, `${sum}`);
  });

  it("PING's answer is a PONG; a scan's answer is not", () => {
    assert.equal(isPong(fixture("ping.reply")), true);
    assert.equal(isPong(fixture("gtube-check.reply")), false);
    assert.equal(isPong(text("")), false);
  });

  it("spamd's own errors: the exit code and its text", () => {
    const bad = failure(fixture("bad-header.reply"));
    assert.equal(bad.code, 76);
    assert.equal(bad.error, "spamd: EX_PROTOCOL: Bad header line: (header not in 'Name: value' format)");
    assert.match(failure(fixture("length-mismatch.reply")).error, /Content-Length mismatch/);
  });
});

describe("spamd replies that are not answers", () => {
  const cases: [string, string, RegExp][] = [
    ["nothing", "", /empty reply/],
    ["HTTP", "HTTP/1.1 400 Bad Request\r\n\r\n", /not a spamd reply: HTTP/],
    [
      "unavailable",
      "SPAMD/1.0 69 Service Unavailable: Error fetching user preferences via SQL\r\n",
      /EX_UNAVAILABLE/,
    ],
    ["timeout", "SPAMD/1.0 79 Timeout: (300 second timeout while trying to CHECK)\r\n", /EX_TIMEOUT/],
    ["cut in the headers", "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 3", /ends inside its headers/],
    ["no Spam header", "SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n\r\n", /no valid Spam/],
    ["score not a number", "SPAMD/1.1 0 EX_OK\r\nSpam: True ; lots / 5.0\r\n\r\n", /no valid Spam/],
    [
      "short body",
      "SPAMD/1.1 0 EX_OK\r\nContent-length: 50\r\nSpam: False ; 1.0 / 5.0\r\n\r\nabc",
      /cut short: 3 of 50/,
    ],
    [
      "bad length",
      "SPAMD/1.1 0 EX_OK\r\nContent-length: -1\r\nSpam: False ; 1.0 / 5.0\r\n\r\n",
      /bad Content-length/,
    ],
  ];
  for (const [name, reply, error] of cases) {
    it(name, () => assert.match(failure(text(reply)).error, error));
  }

  it("an unknown exit code is named by its number; controls in the text are not passed on", () => {
    assert.equal(spamdExitName(99), "99");
    const reply = failure(text("SPAMD/1.0 99 weird\x1b[31m text\r\n"));
    assert.equal(reply.error, "spamd: 99: weird?[31m text");
  });

  it("unknown headers are ignored, names in any case, the first Spam header counts", () => {
    const reply = answer(
      text("SPAMD/1.1 0 EX_OK\r\nX-Thing: 1\r\nspam: yes;7.5/5.0\r\nSpam: False ; 0 / 5\r\n\r\n"),
      "check",
    );
    assert.deepEqual([reply.isSpam, reply.score, reply.threshold], [true, 7.5, 5]);
  });

  it("a report without the table: the score, no symbols", () => {
    const reply = answer(
      text("SPAMD/1.1 0 EX_OK\r\nContent-length: 5\r\nSpam: True ; 6.1 / 5.0\r\n\r\nhello"),
      "report",
    );
    assert.deepEqual(reply.symbols, []);
    assert.equal(reply.score, 6.1);
  });

  it("random bytes never throw", () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const prefixes = [
      "",
      "SPAMD/1.1 0 EX_OK\r\n",
      "SPAMD/1.1 0 EX_OK\r\nContent-length: 9\r\nSpam: True ; 1 / 5\r\n\r\n",
    ];
    for (let i = 0; i < 3000; i++) {
      const noise = Array.from({ length: Math.floor(random() * 80) }, () => Math.floor(random() * 256));
      const bytes = new Uint8Array([...text(prefixes[i % 3]), ...noise]);
      for (const command of ["check", "symbols", "report"] as const) {
        const reply = parseSpamdReply(bytes, command);
        assert.equal(typeof reply.ok, "boolean");
      }
    }
  });
});
