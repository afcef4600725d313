import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  MEMO_MAX_CHARS,
  parsedRecordMemo,
  parsedSpfRecord,
  parseSpfRecord,
  selectSpfRecord,
} from "../../../src/spf/record.ts";
import { checkableDomain, hasValidDomainEnd, queryableName } from "../../../src/spf/domain-name.ts";
import { SpfError } from "../../../src/spf/spf-error.ts";

function permErrorOf(text: string): string {
  try {
    parseSpfRecord(text);
  } catch (error) {
    assert.ok(error instanceof SpfError, String(error));
    assert.equal(error.result, "permerror");
    return error.message;
  }
  return assert.fail(`"${text}" parsed without error`);
}

describe("selectSpfRecord", () => {
  it("joins a record's strings without a separator and takes v=spf1 in any case", () => {
    assert.equal(selectSpfRecord([["v=spf1 ip4:", "192.0.2.5 -all"]]), "v=spf1 ip4:192.0.2.5 -all");
    assert.equal(selectSpfRecord([["V=SpF1 ~all"]]), "V=SpF1 ~all");
    assert.equal(selectSpfRecord([["v=spf1"]]), "v=spf1");
  });

  it("ignores other TXT records, versions that are not exactly spf1, and empty records", () => {
    assert.equal(selectSpfRecord([["google-site-verification=x"], ["v=spf10"], ["v=spf1mx"], []]), undefined);
    assert.equal(selectSpfRecord([["\u0096"], ["v=spf1 -all"]]), "v=spf1 -all");
  });

  it("makes several v=spf1 records a permerror, identical ones too", () => {
    assert.throws(() => selectSpfRecord([["v=spf1 -all"], ["v=spf1 -all"]]), /more than one/);
    assert.throws(() => selectSpfRecord([["v=spf1 -all"], ["V=sPf1 +all"]]), /more than one/);
  });
});

describe("parseSpfRecord", () => {
  it("reads qualifiers, targets and dual CIDR lengths", () => {
    const record = parseSpfRecord(
      "v=spf1 a/24//64 -mx:mail.%{d2}//48 ~ptr ?exists:%{ir}.bl.example.org " +
        "include:_spf.example.net ip4:192.0.2.0/24 ip6:2001:db8::/32 +all",
    );
    assert.deepEqual(
      record.mechanisms.map((m) => [m.qualifier, m.kind, m.cidr4, m.cidr6, m.domain !== undefined]),
      [
        ["+", "a", 24, 64, false],
        ["-", "mx", 32, 48, true],
        ["~", "ptr", 32, 128, false],
        ["?", "exists", 32, 128, true],
        ["+", "include", 32, 128, true],
        ["+", "ip4", 24, 24, false],
        ["+", "ip6", 32, 32, false],
        ["+", "all", 32, 128, false],
      ],
    );
    assert.equal(record.mechanisms[1].term, "-mx:mail.%{d2}//48");
  });

  it("reads redirect= and exp=, and ignores unknown modifiers", () => {
    const record = parseSpfRecord(
      "v=spf1 moo.cow-far_out=man:dog/cat redirect=_spf.example.com exp=why.%{d}",
    );
    assert.equal(record.mechanisms.length, 0);
    assert.equal(record.redirect?.term, "redirect=_spf.example.com");
    assert.ok(record.exp);
  });

  it("accepts several spaces between terms and a trailing space", () => {
    assert.equal(parseSpfRecord("v=spf1 a  -all ").mechanisms.length, 2);
  });

  it("finds an error anywhere, even after a mechanism that would match", () => {
    assert.match(permErrorOf("v=spf1 ip4:1.2.3.4 -all moo"), /unknown mechanism "moo"/);
  });

  const errors: [string, RegExp][] = [
    ["v=spf1 -all.", /unknown mechanism/],
    ["v=spf1 -all:foobar", /invalid term/],
    ["v=spf1 -all/8", /invalid term/],
    ["v=spf1 ptr/0 -all", /invalid term/],
    ["v=spf1 a:foo-bar -all", /invalid domain "foo-bar"/],
    ["v=spf1 a:museum.", /invalid domain/],
    ["v=spf1 a:111.222.33.44", /invalid domain/],
    ["v=spf1 a:example.com:8080", /invalid domain/],
    ["v=spf1 a:example.-com", /invalid domain/],
    ["v=spf1 include:ip5.example.com/24", /invalid domain/],
    ["v=spf1 a:", /empty domain-spec/],
    ["v=spf1 exists", /needs a domain/],
    ["v=spf1 a/33", /over 32/],
    ["v=spf1 a//129", /over 128/],
    ["v=spf1 a/24/64", /invalid term/],
    ["v=spf1 ip4:1.2.3.4/032", /invalid address/],
    ["v=spf1 ip4:1.2.3.4//32", /invalid address/],
    ["v=spf1 ip4:1.2.3", /invalid address/],
    ["v=spf1 ip4", /needs an address/],
    ["v=spf1 -all ip6", /needs an address/],
    ["v=spf1 ip6::CAFE::BABE", /invalid address/],
    ["v=spf1 redirect:t2.example.com", /unknown mechanism/],
    ["v=spf1 1up=foo", /unknown mechanism/],
    ["v=spf1 =all", /unknown mechanism/],
    ["v=spf1 moo.cow/far_out=man:dog/cat", /unknown mechanism/],
    ["v=spf1 exp= -all", /empty domain-spec/],
    ["v=spf1 exp=-all", /invalid domain/],
    ["v=spf1 redirect=a.example.com redirect=b.example.com", /redirect= appears twice/],
    ["v=spf1 exp=a.example.com exp=b.example.com", /exp= appears twice/],
    ["v=spf1 -all foo=%abc", /must be followed/],
    ["v=spf1 a:%{a}.example.com", /invalid macro/],
    ["v=spf1 -all exp=%{r}.example.com", /invalid macro/],
    ["v=spf1 a:ctrl.example.com\rptr -all", /invalid character 0xd/],
    ["v=spf1 a:example.net \u0096all", /invalid character 0x96/],
  ];
  for (const [record, pattern] of errors) {
    it(`refuses ${JSON.stringify(record)}`, () => assert.match(permErrorOf(record), pattern));
  }
});

describe("parsedSpfRecord", () => {
  it("parses each text once and hands out the same record, or the same permerror, again", () => {
    const text = "v=spf1 ip4:192.0.2.0/24 include:memo.example.net -all";
    const first = parsedSpfRecord(text);
    assert.deepEqual(first, parseSpfRecord(text));
    assert.equal(parsedSpfRecord(text), first);
    const broken = "v=spf1 memo-not-a-mechanism";
    let thrown: unknown;
    assert.throws(() => parsedSpfRecord(broken), (error) => (thrown = error) instanceof SpfError);
    assert.throws(() => parsedSpfRecord(broken), (error) => error === thrown);
  });

  it("bounds the memo by its records' text, not only their number (64 KiB records over TCP)", () => {
    for (let i = 0; i < 20; i++) {
      const text = `v=spf1 ip4:192.0.2.${i} ${"a ".repeat(32_000)}-all`; // about 64 KiB, 32 000 terms
      assert.equal(parsedSpfRecord(text).mechanisms.length, 32_002);
      const { chars } = parsedRecordMemo();
      assert.ok(chars <= MEMO_MAX_CHARS, `${chars} characters of records kept after ${i + 1} big records`);
    }
  });
});

describe("domain names", () => {
  it("checks the domain-spec's end before expansion only", () => {
    assert.equal(hasValidDomainEnd("foo.example.xn--zckzah"), true);
    assert.equal(hasValidDomainEnd("%{h}"), true);
    assert.equal(hasValidDomainEnd("%{ir}.%{v}.%-"), true);
    assert.equal(hasValidDomainEnd("example.com."), true);
    assert.equal(hasValidDomainEnd("abc.123"), false);
  });

  it("checks an identity's domain: multi-label, labels of 1..63, no literal (§4.3)", () => {
    assert.equal(checkableDomain("Example.COM."), "Example.COM");
    assert.equal(checkableDomain("A2345678"), undefined);
    assert.equal(checkableDomain("[192.0.2.1]"), undefined);
    assert.equal(checkableDomain("a..example.com"), undefined);
    assert.equal(checkableDomain(`${"a".repeat(64)}.example.com`), undefined);
    assert.equal(checkableDomain(`${"a".repeat(63)}.example.com`), `${"a".repeat(63)}.example.com`);
    assert.equal(checkableDomain("JUMPIN' JUPITER"), undefined);
  });

  it("cuts an expanded target from the left to 253 octets, and refuses what no query can carry", () => {
    const long = `${"abcdefghi.".repeat(30)}example.com`;
    const name = queryableName(long)!;
    assert.ok(name.length <= 253 && long.endsWith(name) && name.startsWith("abcdefghi."));
    assert.equal(queryableName("mail.example...com"), undefined);
    assert.equal(queryableName(`${"a".repeat(64)}.example.com`), undefined);
    assert.equal(queryableName("foo:bar/baz.example.com."), "foo:bar/baz.example.com");
  });
});
