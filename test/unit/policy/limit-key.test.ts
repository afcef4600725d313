import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  isExempt,
  limitKey,
  MAX_KEY_PART_LENGTH,
  requestCost,
  TOO_LONG_KEY,
} from "../../../src/policy/limit-key.ts";
import { type Cidr, parseCidr } from "../../../src/model/ip.ts";
import type { PolicyRequest } from "../../../src/policy/request.ts";
import { type KeyPart, type LimitConfig, noExemptions } from "../../../src/model/limit.ts";
import type { Attributes, Stage } from "../../../src/protocols/attributes.ts";
import { limitConfig } from "../../helpers/limit-config.ts";

const limit = limitConfig;

const keyed = (...key: KeyPart[]) => limit({ key });
const legacy = (key: string): PolicyRequest => ({ form: "legacy", key });
const at = (stage: Stage, attributes: Attributes): PolicyRequest => ({
  form: "attributes",
  stage,
  attributes,
});
const rcpt = (attributes: Attributes) => at("rcpt", attributes);

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(`bad CIDR ${text}`);
  return parsed;
}

describe("limitKey: which requests a limit applies to", () => {
  it("a legacy one-token request is counted only by the legacy limit, under its token", () => {
    assert.equal(limitKey(limit({ legacy: true }), legacy("bob@example.org")), "bob@example.org");
    assert.equal(limitKey(limit({ legacy: false }), legacy("bob@example.org")), undefined);
  });

  it("the legacy limit counts the token whatever the limit's key kind", () => {
    const byIp = limit({ legacy: true, key: [{ kind: "client_address", v4Prefix: 24, v6Prefix: 64 }] });
    assert.equal(limitKey(byIp, legacy("192.0.2.77")), "192.0.2.77");
  });

  it("an attribute request is counted only by limits of its stage", () => {
    const request = at("mail", { sender: "bob@example.org" });
    assert.equal(limitKey(limit({ stage: "mail" }), request), "bob@example.org");
    for (const stage of ["connect", "helo", "rcpt", "data"] as const) {
      assert.equal(limitKey(limit({ stage }), request), undefined, stage);
    }
  });

  it("anyStage gives the key of a request of another stage (DATA's subject for RCPT limits)", () => {
    const request = at("data", { sender: "Bob@Example.org", subject: "hi" });
    assert.equal(limitKey(limit({ stage: "rcpt" }), request), undefined);
    assert.equal(limitKey(limit({ stage: "rcpt" }), request, true), "bob@example.org");
    assert.equal(
      limitKey(keyed({ kind: "sasl_username" }), request, true),
      undefined,
      "still needs the attribute",
    );
    assert.equal(limitKey(limit({ legacy: false }), legacy("bob@example.org"), true), undefined);
  });

  it("a local submission is counted once by the limits of a message's SMTP steps", () => {
    const request = at("local", { sender: "www@example.org", recipient_count: "3" });
    for (const stage of ["mail", "rcpt", "data", "local"] as const) {
      assert.equal(limitKey(limit({ stage }), request), "www@example.org", stage);
    }
    for (const stage of ["connect", "helo"] as const) {
      assert.equal(limitKey(limit({ stage }), request), undefined, stage);
    }
    assert.equal(limitKey(keyed({ kind: "recipient" }), request), undefined, "no one recipient");
    assert.equal(
      limitKey(keyed({ kind: "client_address", v4Prefix: 32, v6Prefix: 128 }), request),
      undefined,
      "no client",
    );
    assert.equal(limitKey(limit({ stage: "local" }), rcpt({ sender: "a@x" })), undefined, "only local");
  });

  it("the legacy flag does not make a limit count attribute requests of another stage", () => {
    assert.equal(limitKey(limit({ legacy: true, stage: "rcpt" }), at("data", { sender: "a@x" })), undefined);
  });
});

describe("limitKey: key kinds", () => {
  it("local_user: the login that handed a local message over; only local requests carry it", () => {
    const byLogin = keyed({ kind: "local_user" });
    const local = at("local", { sender: "random1@spam.example", local_user: "Site1" });
    assert.equal(limitKey(byLogin, local), "site1");
    assert.equal(limitKey(byLogin, at("local", { sender: "a@x", local_user: " " })), undefined);
    assert.equal(limitKey(byLogin, rcpt({ sender: "a@x" })), undefined, "an SMTP request has none");
  });

  it("sender: lower-cased and trimmed", () => {
    assert.equal(
      limitKey(keyed({ kind: "sender" }), rcpt({ sender: " Bob@Example.ORG " })),
      "bob@example.org",
    );
  });

  it("sender: a local part quoted for nothing is the unquoted mailbox; one the quotes change stays quoted", () => {
    // Exim keeps the quotes of MAIL FROM:<"alice"@x> in $sender_address, Postfix drops them: each quoting
    // was a key of its own, a per-sender allowance multiplied by quoting the address again.
    const key = (sender: string) => limitKey(keyed({ kind: "sender" }), rcpt({ sender }));
    assert.equal(key('"alice"@example.org'), "alice@example.org");
    assert.equal(key('"Al\\ice"@Example.org'), "alice@example.org");
    assert.equal(key('"a.b+tag"@example.org'), "a.b+tag@example.org");
    assert.equal(key('"jörg"@example.org'), "jörg@example.org");
    for (
      const kept of ['"john doe"@example.org', '"a..b"@example.org', '".a"@example.org', '"a@b"@example.org']
    ) {
      assert.equal(key(kept), kept);
    }
    assert.equal(key('""@example.org'), '""@example.org');
  });

  it("sender: already canonical addresses are kept, any upper case, blank or non-ASCII is normalised", () => {
    const key = (sender: string) => limitKey(keyed({ kind: "sender" }), rcpt({ sender }));
    assert.equal(key("bob@example.org"), "bob@example.org");
    assert.equal(key("boB@example.org"), "bob@example.org");
    assert.equal(key("bob@example.org\t"), "bob@example.org");
    assert.equal(key("\u00a0bob@example.org"), "bob@example.org", "a no-break space is trimmed too");
    assert.equal(key("BÖB@EXÄMPLE.ORG"), "böb@exämple.org");
    assert.equal(key("   "), "<>");
  });

  it("sender: the empty sender of a bounce is <>", () => {
    assert.equal(limitKey(keyed({ kind: "sender" }), rcpt({ sender: "" })), "<>");
    assert.equal(limitKey(keyed({ kind: "sender" }), rcpt({ sender: "  " })), "<>");
  });

  it("sender_domain: the part after the last @, lower-cased", () => {
    const byDomain = keyed({ kind: "sender_domain" });
    assert.equal(limitKey(byDomain, rcpt({ sender: "Bob@Mail.Example.ORG" })), "mail.example.org");
    assert.equal(limitKey(byDomain, rcpt({ sender: '"a@b"@example.net' })), "example.net");
  });

  it("sender_domain: a bounce or an address without a domain has none, so the limit does not apply", () => {
    const byDomain = keyed({ kind: "sender_domain" });
    for (const sender of ["", "<>", "postmaster", "bob@", "@example.org"]) {
      assert.equal(limitKey(byDomain, rcpt({ sender })), undefined, JSON.stringify(sender));
    }
  });

  it("sasl_username, recipient, helo_name: lower-cased and trimmed; empty counts as missing", () => {
    assert.equal(limitKey(keyed({ kind: "sasl_username" }), rcpt({ sasl_username: " Alice " })), "alice");
    assert.equal(limitKey(keyed({ kind: "sasl_username" }), rcpt({ sasl_username: "" })), undefined);
    assert.equal(
      limitKey(keyed({ kind: "recipient" }), rcpt({ recipient: "Carol@Example.net" })),
      "carol@example.net",
    );
    assert.equal(limitKey(keyed({ kind: "recipient" }), rcpt({ recipient: " " })), undefined);
    assert.equal(
      limitKey(keyed({ kind: "helo_name" }), rcpt({ helo_name: "MX.Example.com" })),
      "mx.example.com",
    );
    assert.equal(limitKey(keyed({ kind: "helo_name" }), rcpt({ helo_name: "" })), undefined);
  });

  it("recipient_domain: the recipient's domain", () => {
    const byDomain = keyed({ kind: "recipient_domain" });
    assert.equal(limitKey(byDomain, rcpt({ recipient: "Carol@Example.NET" })), "example.net");
    assert.equal(limitKey(byDomain, rcpt({ recipient: "carol" })), undefined);
  });

  it("client_address without a prefix: the address itself, one spelling per address", () => {
    const byIp = keyed({ kind: "client_address" });
    assert.equal(limitKey(byIp, rcpt({ client_address: "192.0.2.77" })), "192.0.2.77");
    assert.equal(limitKey(byIp, rcpt({ client_address: "::ffff:192.0.2.77" })), "192.0.2.77");
    const v6 = limitKey(byIp, rcpt({ client_address: "2001:db8::1" }));
    assert.ok(v6 !== undefined && !v6.includes("/"), `no prefix length in ${v6}`);
    assert.equal(limitKey(byIp, rcpt({ client_address: "2001:DB8:0:0::1" })), v6);
    assert.notEqual(limitKey(byIp, rcpt({ client_address: "2001:db8::2" })), v6);
  });

  it("client_address/24: the IPv4 network; IPv6 uses the /64 that goes with it", () => {
    const byNet = keyed({ kind: "client_address", v4Prefix: 24, v6Prefix: 64 });
    assert.equal(limitKey(byNet, rcpt({ client_address: "192.0.2.77" })), "192.0.2.0/24");
    assert.equal(limitKey(byNet, rcpt({ client_address: "192.0.2.1" })), "192.0.2.0/24");
    assert.equal(limitKey(byNet, rcpt({ client_address: "[192.0.2.1]" })), "192.0.2.0/24");
    assert.equal(limitKey(byNet, rcpt({ client_address: "::ffff:192.0.2.200" })), "192.0.2.0/24");
    const net = limitKey(byNet, rcpt({ client_address: "2001:db8:1:2::1" }));
    assert.equal(net, "2001:db8:1:2:0:0:0:0/64");
    assert.equal(limitKey(byNet, rcpt({ client_address: "2001:db8:1:2:aaaa::5" })), net);
  });

  it("client_address/16/48: each version its own prefix", () => {
    const byNet = keyed({ kind: "client_address", v4Prefix: 16, v6Prefix: 48 });
    assert.equal(limitKey(byNet, rcpt({ client_address: "198.51.100.7" })), "198.51.0.0/16");
    assert.equal(limitKey(byNet, rcpt({ client_address: "2001:db8:1:2::1" })), "2001:db8:1:0:0:0:0:0/48");
  });

  it("client_address: missing or not an IP address means the limit does not apply", () => {
    const byIp = keyed({ kind: "client_address", v4Prefix: 24, v6Prefix: 64 });
    for (const client_address of [undefined, "", "unknown", "192.0.2", "mx.example.org"]) {
      assert.equal(limitKey(byIp, rcpt({ client_address })), undefined, String(client_address));
    }
  });

  it("every kind: a missing attribute means the limit does not apply", () => {
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
      assert.equal(limitKey(keyed({ kind }), rcpt({ subject: "hi", size: "100" })), undefined, kind);
    }
  });
});

describe("limitKey: composite keys", () => {
  const userAndNet = keyed(
    { kind: "sasl_username" },
    { kind: "client_address", v4Prefix: 24, v6Prefix: 64 },
  );

  it("joins the parts with | in the order of the key", () => {
    assert.equal(
      limitKey(userAndNet, rcpt({ sasl_username: "Alice", client_address: "192.0.2.9" })),
      "alice|192.0.2.0/24",
    );
    const reversed = keyed({ kind: "client_address" }, { kind: "sender" });
    assert.equal(limitKey(reversed, rcpt({ sender: "", client_address: "192.0.2.9" })), "192.0.2.9|<>");
  });

  it("does not apply when any part is missing", () => {
    assert.equal(limitKey(userAndNet, rcpt({ client_address: "192.0.2.9" })), undefined);
    assert.equal(limitKey(userAndNet, rcpt({ sasl_username: "alice" })), undefined);
    assert.equal(limitKey(userAndNet, rcpt({ sasl_username: "alice", client_address: "nope" })), undefined);
  });
});

describe("isExempt", () => {
  const exempting = (exempt: Partial<LimitConfig["exempt"]>) =>
    limit({ exempt: { ...noExemptions(), ...exempt } });

  it("nothing is exempt from a limit without exemptions", () => {
    assert.equal(isExempt(limit(), rcpt({ sender: "boss@example.org", client_address: "127.0.0.1" })), false);
    assert.equal(isExempt(limit(), legacy("boss@example.org")), false);
  });

  it("an exempt sender address, in any case", () => {
    const boss = exempting({ senders: new Set(["boss@example.org"]) });
    assert.equal(isExempt(boss, rcpt({ sender: "boss@example.org" })), true);
    assert.equal(isExempt(boss, rcpt({ sender: "Boss@Example.ORG" })), true);
    assert.equal(isExempt(boss, legacy("boss@example.org")), true);
    assert.equal(isExempt(boss, rcpt({ sender: "boss2@example.org" })), false);
    assert.equal(isExempt(boss, rcpt({ sender: "" })), false);
    assert.equal(isExempt(boss, rcpt({})), false);
  });

  it("an exempt domain covers its subdomains, but not names that merely end the same", () => {
    const org = exempting({ domains: ["example.org"] });
    assert.equal(isExempt(org, rcpt({ sender: "anyone@example.org" })), true);
    assert.equal(isExempt(org, rcpt({ sender: "anyone@Mail.Example.org" })), true);
    assert.equal(isExempt(org, legacy("anyone@lists.example.org")), true);
    assert.equal(isExempt(org, rcpt({ sender: "anyone@badexample.org" })), false);
    assert.equal(isExempt(org, rcpt({ sender: "anyone@example.org.evil.net" })), false);
    assert.equal(isExempt(org, rcpt({ sender: "example.org" })), false);
  });

  it("the domain exemption looks at the sender only, not the recipient", () => {
    const org = exempting({ domains: ["example.org"] });
    assert.equal(isExempt(org, rcpt({ sender: "x@spam.test", recipient: "y@example.org" })), false);
  });

  it("an exempt network, IPv4 or IPv6, by the client address", () => {
    const nets = exempting({ cidrs: [cidr("192.0.2.0/24"), cidr("2001:db8::/32")] });
    assert.equal(isExempt(nets, rcpt({ sender: "a@x", client_address: "192.0.2.200" })), true);
    assert.equal(isExempt(nets, rcpt({ client_address: "::ffff:192.0.2.1" })), true);
    assert.equal(isExempt(nets, rcpt({ client_address: "2001:db8:ffff::25" })), true);
    assert.equal(isExempt(nets, rcpt({ client_address: "192.0.3.1" })), false);
    assert.equal(isExempt(nets, rcpt({ client_address: "2001:db9::1" })), false);
    assert.equal(isExempt(nets, rcpt({ client_address: "garbage" })), false);
    assert.equal(isExempt(nets, rcpt({ sender: "a@x" })), false);
  });

  it("an exempt login, local_user or sasl_username, each by its own attribute", () => {
    const app = exempting({ localUsers: new Set(["app"]), saslUsernames: new Set(["alice"]) });
    assert.equal(isExempt(app, at("local", { local_user: "app", sender: "x@example.org" })), true);
    assert.equal(isExempt(app, at("local", { local_user: " App " })), true);
    assert.equal(isExempt(app, rcpt({ sasl_username: "Alice", sender: "x@example.org" })), true);
    assert.equal(isExempt(app, at("local", { local_user: "www-data", sender: "app@example.org" })), false);
    assert.equal(isExempt(app, rcpt({ sasl_username: "app" })), false, "a local_user is not an SMTP login");
    assert.equal(isExempt(app, at("local", { local_user: "alice" })), false, "nor the reverse");
    assert.equal(isExempt(app, at("local", { local_user: "" })), false);
    assert.equal(isExempt(app, legacy("app")), false);
  });

  it("a legacy token that is an IP address is checked against the networks", () => {
    const nets = exempting({ cidrs: [cidr("192.0.2.0/24")] });
    assert.equal(isExempt(nets, legacy("192.0.2.5")), true);
    assert.equal(isExempt(nets, legacy("198.51.100.5")), false);
  });
});

describe("requestCost", () => {
  const perRecipient = limit({ per: "recipient", stage: "data" });

  it("is 1 per message", () => {
    assert.equal(requestCost(limit({ stage: "data" }), at("data", { recipient_count: "7" })), 1);
    assert.equal(requestCost(limit(), rcpt({ recipient: "a@x" })), 1);
  });

  it("per recipient at DATA is the message's recipient count", () => {
    assert.equal(requestCost(perRecipient, at("data", { recipient_count: "7" })), 7);
    assert.equal(requestCost(perRecipient, at("data", { recipient_count: "1" })), 1);
  });

  it("per recipient at DATA without a usable recipient count is 1", () => {
    for (const recipient_count of [undefined, "", "0", "-3", "2.5", "many"]) {
      assert.equal(requestCost(perRecipient, at("data", { recipient_count })), 1, String(recipient_count));
    }
  });

  it("per recipient for a local submission is its recipient count, at every limit's stage", () => {
    for (const stage of ["rcpt", "data", "local"] as const) {
      const request = at("local", { recipient_count: "4" });
      assert.equal(requestCost(limit({ per: "recipient", stage }), request), 4, stage);
      assert.equal(requestCost(limit({ stage }), request), 1, `${stage}, per message`);
    }
  });

  it("per recipient at RCPT is 1: each recipient is its own request", () => {
    const atRcpt = limit({ per: "recipient", stage: "rcpt" });
    assert.equal(requestCost(atRcpt, rcpt({ recipient: "a@x", recipient_count: "9" })), 1);
  });

  it("a legacy request is 1", () => {
    assert.equal(requestCost(limit({ per: "recipient", legacy: true }), legacy("a@x")), 1);
  });

  it("counts a value longer than an address can be under one shared key", () => {
    const long = `${"a".repeat(250)}@example.org`;
    const sender = limitConfig();
    const pair = limitConfig({ key: [{ kind: "sender" }, { kind: "client_address" }] });
    const rcpt = (attributes: Record<string, string>) => ({
      form: "attributes" as const,
      stage: "rcpt" as const,
      attributes,
    });
    assert.equal(limitKey(sender, rcpt({ sender: long })), TOO_LONG_KEY);
    assert.equal(limitKey(pair, rcpt({ sender: long, client_address: "192.0.2.1" })), TOO_LONG_KEY);
    assert.equal(limitKey(limitConfig({ legacy: true }), { form: "legacy", key: long }), TOO_LONG_KEY);
    const longest = `${"a".repeat(MAX_KEY_PART_LENGTH - 12)}@example.org`;
    assert.equal(limitKey(sender, rcpt({ sender: longest })), longest);
  });
});
