import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  expandMacroString,
  type MacroLetter,
  parseMacroString,
  urlEscape,
  usesLetter,
} from "../../../src/spf/macro.ts";
import { clientAddress, displayAddress, macroAddress } from "../../../src/spf/ip-address.ts";
import { SpfError } from "../../../src/spf/spf-error.ts";

// RFC 7208 §7.4's examples: sender strong-bad@email.example.com, client 192.0.2.3 or 2001:db8::cb01.
function values(ip: string): (letter: MacroLetter) => string {
  const client = clientAddress(ip)!;
  const table: Record<MacroLetter, string> = {
    s: "strong-bad@email.example.com",
    l: "strong-bad",
    o: "email.example.com",
    d: "email.example.com",
    i: macroAddress(client),
    p: "unknown",
    v: client.version === 4 ? "in-addr" : "ip6",
    h: "mx.example.org",
    c: displayAddress(client),
    r: "mx.example.net",
    t: "1700000000",
  };
  return (letter) => table[letter];
}

const expand = (text: string, ip = "192.0.2.3", context: "domain" | "explanation" = "domain") =>
  expandMacroString(parseMacroString(text, context), values(ip));

function assertPermError(action: () => unknown, pattern: RegExp) {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof SpfError);
    assert.equal(error.result, "permerror");
    assert.match(error.message, pattern);
    return true;
  });
}

describe("macro expansion (RFC 7208 §7.4 examples)", () => {
  const examples: [string, string][] = [
    ["%{s}", "strong-bad@email.example.com"],
    ["%{o}", "email.example.com"],
    ["%{d}", "email.example.com"],
    ["%{d4}", "email.example.com"],
    ["%{d3}", "email.example.com"],
    ["%{d2}", "example.com"],
    ["%{d1}", "com"],
    ["%{dr}", "com.example.email"],
    ["%{d2r}", "example.email"],
    ["%{l}", "strong-bad"],
    ["%{l-}", "strong.bad"],
    ["%{lr}", "strong-bad"],
    ["%{lr-}", "bad.strong"],
    ["%{l1r-}", "strong"],
    ["%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"],
    ["%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"],
    ["%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"],
    ["%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"],
    ["%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"],
  ];
  for (const [macro, expected] of examples) {
    it(`${macro} → ${expected}`, () => assert.equal(expand(macro), expected));
  }

  it("expands %{ir} of an IPv6 client to its reversed nibbles (the RFC's example, upper-case hex)", () => {
    const expected = "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com";
    assert.equal(expand("%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01"), expected);
  });

  it("expands %{i} of an IPv6 client to 32 nibbles, most significant first", () => {
    assert.equal(expand("%{i}", "2001:db8::cb01"), "2.0.0.1.0.D.B.8" + ".0".repeat(20) + ".C.B.0.1");
  });

  it("treats an IPv4-mapped IPv6 client as IPv4 (§5)", () => {
    assert.equal(expand("%{ir}.%{v}", "::ffff:192.0.2.3"), "3.2.0.192.in-addr");
  });

  it("gives %{c} as dotted quad or RFC 5952 text (exp only)", () => {
    assert.equal(expand("%{c}", "192.0.2.3", "explanation"), "192.0.2.3");
    assert.equal(expand("%{c}", "2001:DB8:0:0:1:0:0:1", "explanation"), "2001:db8::1:0:0:1");
    assert.equal(expand("%{c}", "2001:db8:1:1:1:1:1:1", "explanation"), "2001:db8:1:1:1:1:1:1");
    assert.equal(expand("%{c}", "::", "explanation"), "::");
  });

  it("splits on every delimiter given and joins with dots", () => {
    assert.equal(
      expandMacroString(parseMacroString("%{l2r+-}", "domain"), () => "foo-bar+zip+quux"),
      "bar.foo",
    );
    assert.equal(expandMacroString(parseMacroString("%{l=,/_}", "domain"), () => "a=b,c/d_e"), "a.b.c.d.e");
  });

  it("URL-escapes upper-case macros: everything outside ALPHA DIGIT - . _ ~", () => {
    const sender = () => "~jack&jill=up-a_b3.c";
    assert.equal(expandMacroString(parseMacroString("%{L}", "domain"), sender), "~jack%26jill%3Dup-a_b3.c");
    assert.equal(urlEscape("a b!'()*é"), "a%20b%21%27%28%29%2A%C3%A9");
  });

  it("expands %%, %_ and %- to a percent, a space and %20", () => {
    assert.equal(expand("a%%b%_c%-d"), "a%b c%20d");
  });

  it("says which strings use a letter, so %{p} is looked up only when needed", () => {
    assert.equal(usesLetter(parseMacroString("%{p}.example.com", "domain"), "p"), true);
    assert.equal(usesLetter(parseMacroString("%{d}.example.com", "domain"), "p"), false);
  });
});

describe("macro syntax errors (permerror)", () => {
  it("refuses a % not followed by {, %, _ or -", () => {
    assertPermError(() => parseMacroString("%(ir).sbl.example.com", "domain"), /must be followed/);
    assertPermError(() => parseMacroString("foo%.sbl.example.com", "domain"), /must be followed/);
    assertPermError(() => parseMacroString("foo%", "domain"), /must be followed/);
    assertPermError(() => parseMacroString("%{d", "domain"), /must be followed/);
  });

  it("refuses unknown letters, and c, r, t outside explanations", () => {
    assertPermError(() => parseMacroString("%{a}.example.com", "domain"), /invalid macro %\{a\}/);
    for (const letter of ["c", "r", "t"]) {
      assertPermError(() => parseMacroString(`%{${letter}}.example.com`, "domain"), /invalid macro/);
      assert.doesNotThrow(() => parseMacroString(`%{${letter}}`, "explanation"));
    }
  });

  it("refuses a zero digit transformer and stray characters in a macro", () => {
    assertPermError(() => parseMacroString("%{d0}", "domain"), /zero parts/);
    assertPermError(() => parseMacroString("%{d2x}", "domain"), /invalid macro/);
    assertPermError(() => parseMacroString("%{}", "domain"), /invalid macro/);
  });

  it("allows spaces in explanations only, and no control or non-ASCII character anywhere", () => {
    assertPermError(() => parseMacroString("a b", "domain"), /invalid character 0x20/);
    assert.equal(expand("Mail from %{c} refused", "192.0.2.3", "explanation"), "Mail from 192.0.2.3 refused");
    assertPermError(() => parseMacroString("caf\u00e9", "explanation"), /invalid character 0xe9/);
    assertPermError(() => parseMacroString("a\tb", "explanation"), /invalid character 0x9/);
  });
});
