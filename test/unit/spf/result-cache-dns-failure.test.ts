// A check that went on past a DNS failure (§5.5: a failed PTR query makes ptr not match; a failed exp=
// lookup drops the text) must not be kept in the result cache for the other answers' TTL: failures are
// never cached (docs/spf.md, "Failure behaviour"), so the next request asks DNS again.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { decode } from "dns-packet";
import { CachingResolver } from "../../../src/dns/resolver.ts";
import { checkRequest, type SpfChecker } from "../../../src/spf/request-check.ts";
import { SpfResultCache } from "../../../src/spf/result-cache.ts";
import { fakeTransport, replyTo } from "../dns/fake-dns.ts";
import { POLICY } from "./spf-policy.ts";

const REVERSE = "9.2.0.192.in-addr.arpa";

function setup() {
  const state = { ptrFails: true };
  const transport = fakeTransport((query) => {
    const { name, type } = decode(Buffer.from(query)).questions![0];
    if (type === "TXT" && name === "example.org") {
      return [replyTo(query, { answers: [{ type: "TXT", name, ttl: 3600, data: "v=spf1 ptr -all" }] })];
    }
    if (type === "PTR" && name === REVERSE) {
      if (state.ptrFails) return [replyTo(query, { rcode: 2 })]; // SERVFAIL
      return [replyTo(query, { answers: [{ type: "PTR", name, ttl: 3600, data: "mail.example.org" }] })];
    }
    if (type === "A" && name === "mail.example.org") {
      return [replyTo(query, { answers: [{ type: "A", name, ttl: 3600, data: "192.0.2.9" }] })];
    }
    return [replyTo(query, { rcode: 3 })];
  });
  const checker: SpfChecker = {
    dns: new CachingResolver({ servers: ["192.0.2.53"], tries: 1, transport }),
    cache: new SpfResultCache({ maxEntries: 100, maxTtl: 3600 }),
    inFlight: new Map(),
    budgetMs: 1000,
    receiver: "mx.test",
  };
  return { checker, state };
}

const subject = { ip: "192.0.2.9", sender: "alice@example.org", helo: "" };
const off = { ...POLICY, heloCheck: "off" as const };

describe("SPF result cache and DNS failures", () => {
  it("does not keep a fail that a SERVFAIL on the PTR query caused", async () => {
    const { checker, state } = setup();
    const first = await checkRequest(checker, off, subject);
    assert.deepEqual(first.fields, [["spf", "fail"]], "ptr did not match: the PTR query failed");
    state.ptrFails = false;
    const second = await checkRequest(checker, off, subject);
    assert.deepEqual(second.fields, [["spf", "pass"]], "asked again once the reverse zone answers");
  });
});
