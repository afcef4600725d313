// The Received-SPF: header (RFC 7208 §9.1): result, comment, key=value pairs, values cleaned and quoted.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  pairValue,
  receivedSpf,
  receivedSpfHeaderInFull,
  type ReceivedSpfInput,
} from "../../../src/spf/received-spf.ts";
import { quoteValue } from "../../../src/protocols/attributes.ts";
import { SPF_RESULTS } from "../../../src/model/spf.ts";

const receivedSpfHeader = (input: ReceivedSpfInput) => receivedSpf(input).text;

const base = { ip: "192.0.2.1", sender: "alice@example.org", helo: "mx.example.org", receiver: "mx.test" };

describe("Received-SPF header", () => {
  it("pass: comment and pairs as RFC 7208 §9.1 shows them", () => {
    const header = receivedSpfHeader({
      ...base,
      check: {
        result: "pass",
        domain: "example.org",
        identity: "mailfrom",
        mechanism: "include:_spf.example.org",
      },
    });
    assert.equal(
      header,
      "Received-SPF: pass (mx.test: domain of alice@example.org designates 192.0.2.1 as permitted sender) " +
        'client-ip=192.0.2.1; envelope-from="alice@example.org"; helo=mx.example.org; receiver=mx.test; ' +
        'identity=mailfrom; mechanism="include:_spf.example.org";',
    );
  });

  it("says what each result means, with the problem for errors", () => {
    const said = (result: "fail" | "softfail" | "neutral" | "none" | "permerror" | "temperror") =>
      receivedSpfHeader({
        ...base,
        check: { result, domain: "example.org", identity: "mailfrom", problem: "why" },
      });
    assert.match(
      said("fail"),
      /^Received-SPF: fail \(mx.test: domain of alice@example.org does not designate /,
    );
    assert.match(said("softfail"), /\(mx.test: transitioning domain of alice@example.org does not designate/);
    assert.match(said("neutral"), /192.0.2.1 is neither permitted nor denied by domain of alice@example.org/);
    assert.match(said("none"), /does not provide an SPF record/);
    assert.match(
      said("permerror"),
      /permanent error in processing domain of alice@example.org: why\) .* problem=why;$/,
    );
    assert.match(said("temperror"), /temporary error in processing/);
  });

  it("the HELO identity names the host; the null sender is <>", () => {
    const header = receivedSpfHeader({
      ...base,
      sender: "",
      check: { result: "pass", domain: "mx.example.org", identity: "helo" },
    });
    assert.match(header, /\(mx.test: mx.example.org designates 192.0.2.1/);
    assert.match(header, /envelope-from="<>"; .* identity=helo;/);
  });

  it("cleans what the network sent: no control characters, comments and quotes escaped, values cut", () => {
    const header = receivedSpfHeader({
      ...base,
      sender: 'a"b(c)\r\nX-Evil: 1@example.org',
      helo: "x".repeat(500),
      check: { result: "fail", domain: "example.org", identity: "mailfrom" },
    });
    assert.ok(!/[\r\n]/.test(header), header);
    assert.match(header, /domain of a"b\\\(c\\\)\?\?X-Evil: 1@example.org does not/);
    assert.match(header, /envelope-from="a\\"b\(c\)\?\?X-Evil: 1@example.org";/);
    assert.ok(header.length < 998, String(header.length));
    assert.equal(pairValue("mx.example.org"), "mx.example.org");
    assert.equal(pairValue("a b"), '"a b"');
    assert.equal(pairValue('a\\b"c'), '"a\\\\b\\"c"', "backslash and quote escaped");
    assert.equal(pairValue("a\tb c"), '"a?b c"', "a control character is replaced");
    assert.equal(pairValue("x".repeat(200)), `"${"x".repeat(160)}..."`, "cut, then no longer a dot-atom");
  });

  it("stays one well-formed line under 998 characters when the values are all escapes", () => {
    // Exim takes a quoted local part of backslashes or quotes (MAIL FROM:<"\\\\…"@x>), a Postfix HELO
    // name may hold them, and the sender's own SPF record writes the problem ("unknown mechanism …"). Cut
    // before being escaped, each such value came out twice as long: 1028 characters with Exim's inputs.
    const pair = String.raw`[a-z-]+=(?:[A-Za-z0-9!#$%&'*+/=?^_\`{|}~.-]+|"(?:[^"\\]|\\.)*");`;
    const wellFormed = new RegExp(String.raw`^Received-SPF: [a-z]+ \((?:[^()\\]|\\.)*\)(?: ${pair})+$`);
    const escapes = ["\\", '"', '\\"', "(", ")"];
    for (const chars of escapes) {
      const sender = `"${chars.repeat(200)}"@long.spf.test`;
      const checks = [
        { result: "permerror" as const, problem: `unknown mechanism "${chars.repeat(200)}"` },
        { result: "fail" as const, mechanism: `-include:${chars.repeat(200)}` },
      ];
      for (const extra of checks) {
        const check = { domain: "long.spf.test", identity: "mailfrom" as const, ...extra };
        for (const helo of ["client.example", chars.repeat(200)]) {
          const input = {
            check,
            ip: "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
            sender,
            helo,
            receiver: "mx.test.example",
          };
          const { text, quoted } = receivedSpf(input);
          assert.ok(text.length <= 998, `${text.length}: ${text}`);
          assert.match(text, wellFormed);
          assert.equal(text, receivedSpfHeaderInFull(input));
          assert.equal(`"${quoted}"`, quoteValue(text));
        }
      }
    }
  });

  it("the template per check gives the text of the full path, and its quoted form is quoteValue's", () => {
    const senders = [
      "alice@example.org",
      "",
      'a"b@example.org',
      "back\\slash@example.org",
      "(paren)@example.org",
      "tab\there@example.org",
      "x".repeat(120) + "@example.org",
      "x".repeat(140) + "@example.org",
      "ünïcode@例え.jp",
    ];
    const helos = ["mx.example.org", "", 'he"lo', "a b", "h".repeat(300)];
    let compared = 0;
    for (const result of SPF_RESULTS) {
      for (const identity of ["mailfrom", "helo"] as const) {
        for (const problem of [undefined, "why (not)", 'a "quoted" \\ problem']) {
          // One check object across senders and HELO names, as the result cache hands it out.
          const check = { result, domain: "example.org", identity, mechanism: "include:x.example", problem };
          for (const receiver of ["mx.test", "mx(test)"]) {
            for (const sender of senders) {
              for (const helo of helos) {
                const input = { check, ip: "192.0.2.1", sender, helo, receiver };
                const header = receivedSpf(input);
                assert.equal(header.text, receivedSpfHeaderInFull(input), JSON.stringify(input));
                assert.equal(`"${header.quoted}"`, quoteValue(header.text), JSON.stringify(input));
                compared++;
              }
            }
          }
        }
      }
    }
    assert.equal(compared, SPF_RESULTS.length * 2 * 3 * 2 * senders.length * helos.length);
  });

  it("a check asked from another client address gets its own template", () => {
    const check = { result: "pass" as const, domain: "example.org", identity: "mailfrom" as const };
    assert.match(receivedSpfHeader({ ...base, check }), /designates 192\.0\.2\.1 .* client-ip=192\.0\.2\.1;/);
    assert.match(
      receivedSpfHeader({ ...base, ip: "2001:db8::1", check }),
      /designates 2001:db8::1 .* client-ip="2001:db8::1";/,
    );
  });
});
