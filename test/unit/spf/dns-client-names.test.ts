// checkHost through the real caching DNS client (over a fake transport): targets that macros expand from
// the sender are checked in octets, as the client checks them, so a name no query can carry is a
// non-match (docs/spf.md, "Choices where the RFC leaves room"), never a DNS failure.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { decode } from "dns-packet";
import { CachingResolver } from "../../../src/dns/resolver.ts";
import { checkHost } from "../../../src/spf/check-host.ts";
import { fakeTransport, replyTo } from "../dns/fake-dns.ts";

const RECORDS: Record<string, string> = {
  "example.org": "v=spf1 exists:%{l}.users.%{d} -all",
  "long.example.org": "v=spf1 exists:%{l}.%{l}.%{l}.%{l}.%{l}.users.%{d} -all",
};

function resolver() {
  const transport = fakeTransport((query) => {
    const question = decode(Buffer.from(query)).questions![0];
    const txt = question.type === "TXT" ? RECORDS[question.name] : undefined;
    return [
      txt === undefined
        ? replyTo(query, { rcode: 3 })
        : replyTo(query, { answers: [{ type: "TXT", name: question.name, ttl: 60, data: txt }] }),
    ];
  });
  return { resolver: new CachingResolver({ servers: ["127.0.0.1"], transport }), sent: transport.sent };
}

describe("checkHost names in octets (non-ASCII senders)", () => {
  it("does not match an exists: label over 63 octets but not 63 characters: fail, not temperror", async () => {
    const { resolver: dns } = resolver();
    const local = "é".repeat(40); // 40 characters, 80 octets in UTF-8
    const check = await checkHost("192.0.2.1", `${local}@example.org`, "mx.example.net", { resolver: dns });
    assert.equal(check.result, "fail", check.problem);
  });

  it("cuts a target over 253 octets (not characters) from the left, and queries what is left", async () => {
    const { resolver: dns, sent } = resolver();
    const local = "é".repeat(30); // 60 octets a label, five labels: 300 octets, 150 + dots characters
    const check = await checkHost("192.0.2.1", `${local}@long.example.org`, "mx.example.net", {
      resolver: dns,
    });
    assert.equal(check.result, "fail", check.problem);
    const asked = sent.find((query) => query.type === "A");
    assert.ok(asked !== undefined, "the exists: target was queried");
    assert.ok(Buffer.byteLength(asked.name) <= 253, asked.name);
  });
});
