import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import {
  exemptionList,
  keyExpression,
  parseExemptions,
  parseKeyExpression,
} from "../../../src/config/limit-values.ts";
import { type Exemptions, noExemptions } from "../../../src/model/limit.ts";
import { parseCidr } from "../../../src/model/ip.ts";

const KNOWN =
  "sender, sender_domain, sasl_username, client_address, recipient, recipient_domain, helo_name, local_user";

const NOT_AN_ITEM =
  "is not an address, a domain, a network nor a login (local_user:NAME, sasl_username:NAME)";

function exemptions(text: string): Exemptions {
  const result = parseExemptions(text);
  if (typeof result === "string") throw new Error(`rejected ${JSON.stringify(text)}: ${result}`);
  return result;
}

describe("parseKeyExpression", () => {
  it("reads every single key kind", () => {
    for (
      const kind of [
        "sender",
        "sender_domain",
        "sasl_username",
        "client_address",
        "recipient",
        "recipient_domain",
        "helo_name",
      ] as const
    ) {
      assert.deepEqual(parseKeyExpression(kind), [{ kind }]);
    }
  });

  it("is case-insensitive and ignores blanks around the parts", () => {
    assert.deepEqual(parseKeyExpression(" Sender "), [{ kind: "sender" }]);
    assert.deepEqual(parseKeyExpression("SASL_USERNAME + Client_Address/24"), [
      { kind: "sasl_username" },
      { kind: "client_address", v4Prefix: 24, v6Prefix: 64 },
    ]);
  });

  it("client_address/N: an IPv4 prefix, with /64 for IPv6", () => {
    assert.deepEqual(parseKeyExpression("client_address/24"), [{
      kind: "client_address",
      v4Prefix: 24,
      v6Prefix: 64,
    }]);
    assert.deepEqual(parseKeyExpression("client_address/32"), [{
      kind: "client_address",
      v4Prefix: 32,
      v6Prefix: 64,
    }]);
    assert.deepEqual(parseKeyExpression("client_address/0"), [{
      kind: "client_address",
      v4Prefix: 0,
      v6Prefix: 64,
    }]);
  });

  it("client_address/N with N over 32: an IPv6 prefix, IPv4 addresses counted whole", () => {
    assert.deepEqual(parseKeyExpression("client_address/48"), [{
      kind: "client_address",
      v4Prefix: 32,
      v6Prefix: 48,
    }]);
    assert.deepEqual(parseKeyExpression("client_address/128"), [
      { kind: "client_address", v4Prefix: 32, v6Prefix: 128 },
    ]);
  });

  it("client_address/V4/V6: both prefixes", () => {
    assert.deepEqual(parseKeyExpression("client_address/24/64"), [
      { kind: "client_address", v4Prefix: 24, v6Prefix: 64 },
    ]);
    assert.deepEqual(parseKeyExpression("client_address/16/48"), [
      { kind: "client_address", v4Prefix: 16, v6Prefix: 48 },
    ]);
  });

  it("joins several kinds with +, in the order written", () => {
    assert.deepEqual(parseKeyExpression("client_address/24+sender+helo_name"), [
      { kind: "client_address", v4Prefix: 24, v6Prefix: 64 },
      { kind: "sender" },
      { kind: "helo_name" },
    ]);
  });

  it("rejects an unknown kind, naming it and the known ones", () => {
    assert.equal(parseKeyExpression("ip"), `unknown key 'ip' (known: ${KNOWN}; join several with +)`);
    assert.equal(
      parseKeyExpression("sender+Bogus"),
      `unknown key 'bogus' (known: ${KNOWN}; join several with +)`,
    );
    assert.equal(parseKeyExpression(""), `unknown key '' (known: ${KNOWN}; join several with +)`);
    assert.equal(parseKeyExpression("sender+"), `unknown key '' (known: ${KNOWN}; join several with +)`);
    assert.equal(
      parseKeyExpression("sender,recipient"),
      `unknown key 'sender,recipient' (known: ${KNOWN}; join several with +)`,
    );
  });

  it("rejects a prefix on anything but client_address", () => {
    assert.equal(parseKeyExpression("sender/24"), "only client_address takes a /prefix");
    assert.equal(parseKeyExpression("sasl_username+sender_domain/16"), "only client_address takes a /prefix");
  });

  it("rejects prefixes that are not one or two whole numbers", () => {
    const expected =
      "expected client_address/N (N up to 32: IPv4 prefix; 33-128: IPv6 prefix) or client_address/V4/V6";
    for (
      const text of [
        "client_address/",
        "client_address/x",
        "client_address/24/",
        "client_address/-1",
        "client_address/24/64/8",
        "client_address/2.5",
      ]
    ) {
      assert.equal(parseKeyExpression(text), expected, text);
    }
  });

  it("rejects prefixes longer than the address", () => {
    for (const text of ["client_address/33/64", "client_address/24/129", "client_address/129"]) {
      assert.equal(parseKeyExpression(text), "prefix too long", text);
    }
  });

  it("rejects a kind given twice", () => {
    assert.equal(parseKeyExpression("sender+sender"), "key 'sender' given twice");
    assert.equal(
      parseKeyExpression("client_address/24+client_address/16"),
      "key 'client_address' given twice",
    );
  });

  it("as a config value: parts on success, the problem as the message on failure", () => {
    assert.deepEqual(v.parse(keyExpression, "sender_domain"), [{ kind: "sender_domain" }]);
    const result = v.safeParse(keyExpression, "sender/8");
    assert.equal(result.success, false);
    assert.equal(result.issues?.[0].message, "only client_address takes a /prefix");
  });
});

describe("parseExemptions", () => {
  it("is empty for an empty value", () => {
    for (const text of ["", "  ", " , ,"]) {
      assert.deepEqual(
        parseExemptions(text),
        noExemptions(),
        JSON.stringify(text),
      );
    }
  });

  it("sorts addresses, domains and networks, separated by commas and/or blanks", () => {
    const exempt = exemptions("boss@example.org, @example.net example.com,192.0.2.0/24 , 2001:db8::/32");
    assert.deepEqual(exempt.senders, new Set(["boss@example.org"]));
    assert.deepEqual(exempt.domains, ["example.net", "example.com"]);
    assert.deepEqual(exempt.cidrs, [parseCidr("192.0.2.0/24"), parseCidr("2001:db8::/32")]);
  });

  it("lower-cases addresses and domains", () => {
    const exempt = exemptions("Boss@Example.ORG @Example.NET Mail.Example.COM");
    assert.deepEqual(exempt.senders, new Set(["boss@example.org"]));
    assert.deepEqual(exempt.domains, ["example.net", "mail.example.com"]);
  });

  it("a bare IP address is a network of one", () => {
    const exempt = exemptions("192.0.2.7 2001:db8::25 ::1");
    assert.deepEqual(exempt.cidrs.map((cidr) => [cidr.version, cidr.prefix]), [[4, 32], [6, 128], [6, 128]]);
    assert.deepEqual(exempt.domains, []);
  });

  it("takes single-label and hyphenated domains and unusual local parts", () => {
    const exempt = exemptions("localhost my-host.example first.last+tag@sub.example.org");
    assert.deepEqual(exempt.domains, ["localhost", "my-host.example"]);
    assert.deepEqual(exempt.senders, new Set(["first.last+tag@sub.example.org"]));
  });

  it("rejects what is not an address, a domain, a network nor a login, naming the item", () => {
    for (
      const item of [
        "192.0.2.0/33",
        "2001:db8::/129",
        "999.1.1.1",
        "192.0.2",
        "@",
        "bob@",
        "bob@-bad.example",
        "@bad_domain.example",
        "exa_mple.com",
        "*.example.org",
        "-example.org",
        "example..org",
        "local_user:",
        "local_usr:app",
      ]
    ) {
      const text = `ok@example.org, ${item}`;
      assert.equal(parseExemptions(text), `'${item}' ${NOT_AN_ITEM}`, item);
    }
  });

  it("reads logins as local_user:NAME and sasl_username:NAME, in lower case", () => {
    const exempt = exemptions("local_user:App, sasl_username:Alice@Example.org local_user:web@site.test");
    assert.deepEqual(exempt.localUsers, new Set(["app", "web@site.test"]));
    assert.deepEqual(exempt.saslUsernames, new Set(["alice@example.org"]));
    assert.deepEqual(exempt.senders, new Set());
    assert.deepEqual(exempt.domains, []);
  });

  it("an IPv6 network that reads like a login is a network; a colon in a local part stays an address", () => {
    const exempt = exemptions("face:b00c::/32, dead:beef::1, a:b@example.org");
    assert.deepEqual(exempt.cidrs, [parseCidr("face:b00c::/32"), parseCidr("dead:beef::1")]);
    assert.deepEqual(exempt.senders, new Set(["a:b@example.org"]));
    assert.deepEqual(exempt.localUsers, new Set());
  });

  it("names the item in lower case, as it was read", () => {
    assert.equal(parseExemptions("Bad_Name"), `'bad_name' ${NOT_AN_ITEM}`);
  });

  it("as a config value: exemptions on success, the problem as the message on failure", () => {
    assert.deepEqual(v.parse(exemptionList, "@example.org").domains, ["example.org"]);
    const result = v.safeParse(exemptionList, "192.0.2.0/40");
    assert.equal(result.success, false);
    assert.equal(result.issues?.[0].message, `'192.0.2.0/40' ${NOT_AN_ITEM}`);
  });
});
