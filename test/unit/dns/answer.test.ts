import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, it } from "node:test";
import { type Answer, decode } from "dns-packet";
import { outcomeOf } from "../../../src/dns/answer.ts";
import type { QueryType } from "../../../src/dns/types.ts";
import { encodeQuery } from "../../../src/dns/wire.ts";
import { type ReplySpec, replyTo, soa } from "./fake-dns.ts";

const outcome = (name: string, type: QueryType, spec: ReplySpec) =>
  outcomeOf(decode(Buffer.from(replyTo(encodeQuery(1, name, type), spec))), name, type);

const rr = (name: string, type: string, ttl: number, data: unknown) => ({ name, type, ttl, data }) as Answer;

describe("reading an answer", () => {
  it("returns each type in the runtime resolver's shape, TTL the lowest", () => {
    assert.deepEqual(
      outcome("h.example.test", "A", {
        answers: [rr("h.example.test", "A", 300, "192.0.2.1"), rr("h.example.test", "A", 60, "192.0.2.2")],
      }),
      { kind: "answer", records: ["192.0.2.1", "192.0.2.2"], ttl: 60 },
    );
    assert.deepEqual(
      outcome("example.test", "MX", {
        answers: [rr("example.test", "MX", 9, { preference: 10, exchange: "mx.example.test" })],
      }),
      { kind: "answer", records: [{ exchange: "mx.example.test", priority: 10 }], ttl: 9 },
    );
    assert.deepEqual(
      outcome("x.example.test", "TXT", { answers: [rr("x.example.test", "TXT", 5, ["v=spf1 ", "-all"])] }),
      { kind: "answer", records: [["v=spf1 ", "-all"]], ttl: 5 },
    );
  });

  it("reads TXT octets as latin1 and keeps a record with no strings as []", () => {
    const answers = [
      rr("x.example.test", "TXT", 5, [Buffer.from([0x76, 0xe9])]),
      rr("x.example.test", "TXT", 5, []),
    ];
    const result = outcome("x.example.test", "TXT", { answers });
    assert.deepEqual(result, { kind: "answer", records: [["v\u00e9"], []], ttl: 5 });
  });

  it("follows a CNAME chain inside the answer, TTL the lowest along it, and ignores unrelated records", () => {
    const answers = [
      rr("Alias.example.test", "CNAME", 30, "mid.example.test"),
      rr("mid.example.test", "CNAME", 600, "host.example.test"),
      rr("host.example.test", "A", 300, "192.0.2.9"),
      rr("other.example.test", "A", 1, "192.0.2.66"),
    ];
    assert.deepEqual(outcome("alias.example.test.", "A", { answers }), {
      kind: "answer",
      records: ["192.0.2.9"],
      ttl: 30,
    });
  });

  it("survives a CNAME loop as NODATA", () => {
    const answers = [
      rr("a.example.test", "CNAME", 30, "b.example.test"),
      rr("b.example.test", "CNAME", 30, "a.example.test"),
    ];
    assert.equal(outcome("a.example.test", "A", { answers }).kind, "nodata");
  });

  it("gives NXDOMAIN and NODATA the SOA's negative TTL, min(SOA TTL, MINIMUM) (RFC 2308)", () => {
    assert.deepEqual(outcome("no.example.test", "A", { rcode: 3, authorities: [soa(3600, 120)] }), {
      kind: "nxdomain",
      ttl: 120,
    });
    assert.deepEqual(outcome("h.example.test", "TXT", { authorities: [soa(45, 900)] }), {
      kind: "nodata",
      ttl: 45,
    });
    assert.deepEqual(outcome("h.example.test", "TXT", {}), { kind: "nodata", ttl: 0 }, "no SOA: not cached");
  });

  it("reads a TTL with the top bit set as 0 (RFC 2181 §8), not as 68 years clamped to a day", () => {
    const top = 2 ** 31;
    const a = (ttl: number) => ({ answers: [rr("h.example.test", "A", ttl, "192.0.2.1")] });
    assert.equal(outcome("h.example.test", "A", a(top - 1)).ttl, top - 1);
    for (const ttl of [top, 2 ** 32 - 1]) {
      assert.equal(outcome("h.example.test", "A", a(ttl)).ttl, 0, `TTL ${ttl}`);
      assert.equal(outcome("no.example.test", "A", { rcode: 3, authorities: [soa(ttl, 120)] }).ttl, 0);
      assert.equal(outcome("no.example.test", "A", { rcode: 3, authorities: [soa(120, ttl)] }).ttl, 0);
    }
    const chain = [
      rr("a.example.test", "CNAME", top, "h.example.test"),
      rr("h.example.test", "A", 60, "192.0.2.1"),
    ];
    assert.equal(outcome("a.example.test", "A", { answers: chain }).ttl, 0);
  });

  it("throws the runtime resolver's code for a failure rcode", () => {
    for (
      const [rcode, code] of [[2, "ESERVFAIL"], [5, "EREFUSED"], [1, "EFORMERR"], [4, "ENOTIMP"], [
        9,
        "EBADRESP",
      ]] as const
    ) {
      assert.throws(() => outcome("h.example.test", "A", { rcode }), {
        code,
        syscall: "queryA",
        hostname: "h.example.test",
      });
    }
  });
});
