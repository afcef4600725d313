// The conformance test is only as good as its resolver: these pin down how it reads a suite zone.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { zoneResolver } from "./zone-resolver.ts";
import { parseYamlDocuments } from "./suite-yaml.ts";

const codeOf = async (answer: Promise<unknown>) => {
  try {
    await answer;
  } catch (error) {
    return (error as { code: string }).code;
  }
  return "answered";
};

describe("zoneResolver", () => {
  const resolver = zoneResolver({
    "spfonly.example.net": [{ SPF: "v=spf1 -all" }, { TXT: "NONE" }],
    "copied.example.net": [{ SPF: ["v=spf1 ", "-all"] }, { A: "192.0.2.1" }],
    "spftimeout.example.net": [{ TXT: "v=spf1 -all" }, "TIMEOUT"],
    "all.example.net": ["TIMEOUT"],
    "Mixed.Example.NET": [{ MX: [0, "mail.example.net"] }, { AAAA: "2001:db8::1" }, {
      PTR: "x.example.net.",
    }],
    "alias.example.net": [{ CNAME: "copied.example.net." }],
    "loop1.example.net": [{ CNAME: "loop2.example.net" }],
    "loop2.example.net": [{ CNAME: "LOOP1.example.net." }],
  });

  it('copies SPF data into TXT unless the name has TXT entries ("TXT: NONE" included)', async () => {
    assert.deepEqual(await resolver.resolveTxt("copied.example.net"), [["v=spf1 ", "-all"]]);
    assert.equal(await codeOf(resolver.resolveTxt("spfonly.example.net")), "ENODATA");
  });

  it("answers ENOTFOUND for an absent name and ENODATA for an absent type", async () => {
    assert.equal(await codeOf(resolver.resolve4("nowhere.example.net")), "ENOTFOUND");
    assert.equal(await codeOf(resolver.resolve6("copied.example.net")), "ENODATA");
  });

  it("times out only the types with no record before TIMEOUT", async () => {
    assert.deepEqual(await resolver.resolveTxt("spftimeout.example.net"), [["v=spf1 -all"]]);
    assert.equal(await codeOf(resolver.resolve4("spftimeout.example.net")), "ETIMEOUT");
    assert.equal(await codeOf(resolver.resolveTxt("all.example.net")), "ETIMEOUT");
  });

  it("answers in node's shapes, ignoring the case of names", async () => {
    assert.deepEqual(await resolver.resolveMx("mixed.example.net."), [{
      priority: 0,
      exchange: "mail.example.net",
    }]);
    assert.deepEqual(await resolver.resolve6("MIXED.example.net"), ["2001:db8::1"]);
    assert.deepEqual(await resolver.resolvePtr("mixed.example.net"), ["x.example.net."]);
  });

  it("follows CNAMEs and fails a CNAME loop as a server failure", async () => {
    assert.deepEqual(await resolver.resolve4("alias.example.net"), ["192.0.2.1"]);
    assert.equal(await codeOf(resolver.resolve4("loop1.example.net")), "ESERVFAIL");
  });

  it("logs every query", () => {
    assert.ok(resolver.queries.includes("TXT copied.example.net"));
    assert.ok(resolver.queries.includes("A loop1.example.net"));
  });
});

describe("parseYamlDocuments", () => {
  it("reads the suite's constructs", () => {
    const text = [
      "# comment",
      "---",
      "description: Two",
      "  lines",
      "tests:",
      "  t1:",
      "    comment: >-",
      "      folded",
      "      text",
      "    result: [fail, permerror]",
      "    mailfrom: ''",
      "zonedata:",
      '  "a%b  c.example.com":',
      '    - SPF: "v=spf1 \\x96 -all"',
      '    - MX: [0, ""]',
      "    - TIMEOUT",
      "  foo:bar/baz.example.com:",
      "    - TXT: ['v=spf1', 'mx']",
      "---",
      "description: x",
    ].join("\n");
    assert.deepEqual(parseYamlDocuments(text), [
      {
        description: "Two lines",
        tests: { t1: { comment: "folded text", result: ["fail", "permerror"], mailfrom: "" } },
        zonedata: {
          "a%b  c.example.com": [{ SPF: "v=spf1 \u0096 -all" }, { MX: [0, ""] }, "TIMEOUT"],
          "foo:bar/baz.example.com": [{ TXT: ["v=spf1", "mx"] }],
        },
      },
      { description: "x" },
    ]);
  });

  it("throws on what it does not know, with the line", () => {
    assert.throws(() => parseYamlDocuments("a: 'open"), /line 1: unterminated/);
    assert.throws(() => parseYamlDocuments("a:\n    b: 1\n  c: 2"), /line 3/);
  });
});
