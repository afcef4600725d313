import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, it } from "node:test";
import { decode } from "dns-packet";
import { CachingResolver, type ResolverOptions, TtlCollector } from "../../../src/dns/resolver.ts";
import { SERVER_HOLD_MS } from "../../../src/dns/server-order.ts";
import { fakeClock, fakeTransport, type Handler, type ReplySpec, replyTo, soa } from "./fake-dns.ts";
import { codeOf } from "../../helpers/error-code.ts";

const A = (name: string, ttl: number, ...addresses: string[]): ReplySpec => ({
  answers: addresses.map((data) => ({ type: "A", name, ttl, data })),
});

/** A handler answering from `zone` ("TYPE name" → reply), NXDOMAIN with a 30 s negative TTL otherwise. */
function zoneHandler(zone: Record<string, ReplySpec>): Handler {
  return (query) => {
    const question = decode(Buffer.from(query)).questions![0];
    const spec = zone[`${question.type} ${question.name}`] ?? { rcode: 3, authorities: [soa(600, 30)] };
    return [replyTo(query, spec)];
  };
}

function setup(handler: Handler, options: ResolverOptions = {}) {
  const clock = fakeClock();
  const transport = fakeTransport(handler);
  const resolver = new CachingResolver({
    servers: ["192.0.2.53", "192.0.2.54:5353", "[2001:db8::53]:53"],
    now: clock.now,
    transport,
    ...options,
  });
  return { clock, transport, resolver };
}

describe("caching resolver", () => {
  it("answers a repeated lookup from the cache until its TTL runs out", async () => {
    const { clock, transport, resolver } = setup(
      zoneHandler({ "A h.example.test": A("h.example.test", 60, "192.0.2.1") }),
    );
    assert.deepEqual(await resolver.resolve4("h.example.test"), ["192.0.2.1"]);
    clock.advance(59);
    assert.deepEqual(await resolver.resolve4("H.Example.Test."), ["192.0.2.1"], "same key: case, final dot");
    assert.equal(transport.sent.length, 1);
    clock.advance(1);
    await resolver.resolve4("h.example.test");
    assert.equal(transport.sent.length, 2, "expired: asked again");
    const stats = resolver.stats();
    assert.deepEqual([stats.hits, stats.misses, stats.queriesSent, stats.entries], [1, 2, 2, 1]);
  });

  it("caches NXDOMAIN and NODATA for the SOA minimum, with the runtime's codes", async () => {
    const zone = {
      "A h.example.test": A("h.example.test", 60, "192.0.2.1"),
      "TXT h.example.test": { authorities: [soa(10, 600)] },
    };
    const { clock, transport, resolver } = setup(zoneHandler(zone));
    assert.equal(await codeOf(resolver.resolveTxt("none.example.test")), "ENOTFOUND");
    assert.equal(await codeOf(resolver.resolveTxt("h.example.test")), "ENODATA");
    clock.advance(9);
    assert.equal(await codeOf(resolver.resolveTxt("none.example.test")), "ENOTFOUND");
    assert.equal(await codeOf(resolver.resolveTxt("h.example.test")), "ENODATA");
    assert.equal(transport.sent.length, 2);
    clock.advance(1);
    assert.equal(await codeOf(resolver.resolveTxt("h.example.test")), "ENODATA");
    assert.equal(transport.sent.length, 3, "NODATA's 10 s are over");
    clock.advance(19);
    await codeOf(resolver.resolveTxt("none.example.test"));
    assert.equal(transport.sent.length, 3, "NXDOMAIN's 30 s are not");
  });

  it("says synchronously what it holds (`cached`), with the runtime's codes, noting TTLs and hits", async () => {
    const zone = {
      "A h.example.test": A("h.example.test", 60, "192.0.2.1"),
      "TXT h.example.test": { authorities: [soa(10, 600)] },
    };
    const { clock, transport, resolver } = setup(zoneHandler(zone));
    assert.equal(resolver.cached("A", "h.example.test"), undefined, "nothing asked yet");
    await resolver.resolve4("h.example.test");
    await codeOf(resolver.resolveTxt("h.example.test"));
    await codeOf(resolver.resolveTxt("none.example.test"));
    clock.advance(5);
    const ttl = new TtlCollector();
    const warm = resolver.withTtl(ttl);
    assert.deepEqual(warm.cached("A", "H.example.test."), { records: ["192.0.2.1"] });
    assert.deepEqual(warm.cached("TXT", "h.example.test"), { records: [], missing: "ENODATA" });
    assert.deepEqual(warm.cached("TXT", "none.example.test"), { records: [], missing: "ENOTFOUND" });
    assert.equal(ttl.min, 5, "NODATA's 10 s, 5 of them left");
    assert.equal(resolver.stats().hits, 3);
    assert.equal(transport.sent.length, 3, "no packet for what is cached");
    clock.advance(5);
    assert.equal(resolver.cached("TXT", "h.example.test"), undefined, "expired");
  });

  it("sends one packet for concurrent identical lookups, and shares a failure without caching it", async () => {
    let release = () => {};
    const gate = new Promise<void>((done) => release = done);
    let fail = true;
    const zone = zoneHandler({
      "TXT s.example.test": {
        answers: [{ type: "TXT", name: "s.example.test", ttl: 60, data: "v=spf1 -all" }],
      },
    });
    const { transport, resolver } = setup(async (query, via, server) => {
      await gate;
      return fail ? [replyTo(query, { rcode: 2 })] : zone(query, via, server);
    }, { tries: 1 });
    const failing = Array.from({ length: 10 }, () => codeOf(resolver.resolveTxt("s.example.test")));
    release();
    assert.deepEqual(await Promise.all(failing), Array(10).fill("ESERVFAIL"));
    assert.equal(transport.sent.length, 1);
    fail = false;
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => resolver.resolveTxt("s.example.test")),
    );
    assert.deepEqual(answers, Array(10).fill([["v=spf1 -all"]]));
    assert.equal(transport.sent.length, 2, "one more packet: the failure was not cached");
    const stats = resolver.stats();
    assert.deepEqual([stats.coalesced, stats.failures, stats.inFlight], [18, 1, 0]);
  });

  it("rotates servers on a timeout or a SERVFAIL and stops at the first answer", async () => {
    const { transport, resolver } = setup((query, _via, server) => {
      if (server.host === "192.0.2.53") return "drop";
      if (server.port === 5353) return [replyTo(query, { rcode: 2 })];
      return [replyTo(query, A("h.example.test", 60, "192.0.2.7"))];
    }, { tries: 5 });
    assert.deepEqual(await resolver.resolve4("h.example.test"), ["192.0.2.7"]);
    assert.deepEqual(transport.sent.map((s) => s.server), [
      "192.0.2.53:53",
      "192.0.2.54:5353",
      "2001:db8::53:53",
    ]);
    assert.equal(resolver.stats().timeouts, 1);
  });

  it("asks a server that just gave no answer after the others, for a while, then first again", async () => {
    // A dead first nameserver cost every query a whole try (dns_timeout) before the second one was asked,
    // for ever: with [spf]'s defaults, 500 ms of a 1.35 s budget a query.
    const { clock, transport, resolver } = setup((query, _via, server) => {
      if (server.host === "192.0.2.53") return "drop";
      const name = decode(Buffer.from(query)).questions![0].name;
      return [replyTo(query, A(name, 60, "192.0.2.7"))];
    });
    const asked = () => transport.sent.splice(0).map((s) => s.server);
    await resolver.resolve4("a.example.test");
    assert.deepEqual(asked(), ["192.0.2.53:53", "192.0.2.54:5353"]);
    await resolver.resolve4("b.example.test");
    await resolver.resolve4("c.example.test");
    assert.deepEqual(asked(), ["192.0.2.54:5353", "192.0.2.54:5353"], "the dead server is not asked first");
    clock.advance(SERVER_HOLD_MS / 1000);
    await resolver.resolve4("d.example.test");
    assert.deepEqual(
      asked(),
      ["192.0.2.53:53", "192.0.2.54:5353"],
      "asked first again once the hold is over",
    );
    await resolver.resolve4("e.example.test");
    assert.deepEqual(asked(), ["192.0.2.54:5353"]);
  });

  it("says a server held back once per hold, and nothing of a server alone", async () => {
    const held: string[] = [];
    const onServerHeld = (server: string, error: string) => held.push(`${server} ${error}`);
    const dropFirst: Handler = (query, _via, server) => {
      if (server.host === "192.0.2.53") return "drop";
      return [replyTo(query, A(decode(Buffer.from(query)).questions![0].name, 60, "192.0.2.7"))];
    };
    const { clock, resolver } = setup(dropFirst, { onServerHeld });
    await Promise.all(["a", "b", "c"].map((n) => resolver.resolve4(`${n}.example.test`)));
    assert.deepEqual(held, ["192.0.2.53:53 ETIMEOUT"], "three queries at once: said once");
    await resolver.resolve4("d.example.test");
    clock.advance(SERVER_HOLD_MS / 1000);
    await resolver.resolve4("e.example.test");
    assert.deepEqual(held.length, 2, "still dead after the hold: said again");
    const alone = setup(() => "drop", { servers: ["192.0.2.53"], tries: 2, onServerHeld });
    await codeOf(alone.resolver.resolve4("f.example.test"));
    assert.equal(held.length, 2);
  });

  it("keeps the servers' order after a SERVFAIL: an answer about one domain, not a dead server", async () => {
    const { transport, resolver } = setup((query, _via, server) => {
      const name = decode(Buffer.from(query)).questions![0].name;
      if (server.host === "192.0.2.53" && name === "lame.example.test") return [replyTo(query, { rcode: 2 })];
      return [replyTo(query, A(name, 60, "192.0.2.7"))];
    });
    await resolver.resolve4("lame.example.test");
    await resolver.resolve4("b.example.test");
    assert.deepEqual(transport.sent.map((s) => s.server), [
      "192.0.2.53:53",
      "192.0.2.54:5353",
      "192.0.2.53:53",
    ]);
  });

  it("gives ETIMEOUT after `tries` tries, round the servers again, and nothing is cached", async () => {
    const { transport, resolver } = setup(() => "drop", { tries: 4 });
    assert.equal(await codeOf(resolver.resolve4("h.example.test")), "ETIMEOUT");
    assert.deepEqual(transport.sent.map((s) => s.server), [
      "192.0.2.53:53",
      "192.0.2.54:5353",
      "2001:db8::53:53",
      "192.0.2.53:53",
    ]);
    assert.deepEqual([resolver.stats().timeouts, resolver.stats().entries], [4, 0]);
  });

  it("ignores datagrams with another id or question, and times out when only those come", async () => {
    let right = true;
    const { resolver } = setup((query) => {
      const wrong = [
        replyTo(query, {
          ...A("h.example.test", 60, "203.0.113.6"),
          id: (decode(Buffer.from(query)).id! + 1) & 0xffff,
        }),
      ];
      wrong.push(replyTo(query, { ...A("evil.example.test", 60, "203.0.113.6"), name: "evil.example.test" }));
      return right ? [...wrong, replyTo(query, A("h.example.test", 60, "192.0.2.1"))] : wrong;
    }, { tries: 1 });
    assert.deepEqual(await resolver.resolve4("h.example.test"), ["192.0.2.1"]);
    right = false;
    assert.equal(await codeOf(resolver.resolve4("g.example.test")), "ETIMEOUT");
  });

  it("asks again over TCP when the UDP answer is truncated", async () => {
    const long = "v=spf1 " + "ip4:192.0.2.1 ".repeat(60) + "-all";
    const full: ReplySpec = {
      answers: [{ type: "TXT", name: "big.example.test", ttl: 60, data: long.match(/.{1,255}/g)! }],
    };
    const { transport, resolver } = setup((
      query,
      via,
    ) => [replyTo(query, via === "udp" ? { truncated: true } : full)]);
    assert.equal((await resolver.resolveTxt("big.example.test"))[0].join(""), long);
    assert.deepEqual(transport.sent.map((s) => s.via), ["udp", "tcp"]);
    assert.deepEqual([resolver.stats().tcpQueries, resolver.stats().queriesSent], [1, 2]);
  });

  it("asks a server that answers EDNS0 with FORMERR again without it (RFC 6891 §7)", async () => {
    const withOpt: boolean[] = [];
    const { transport, resolver } = setup((query) => {
      const edns = (decode(Buffer.from(query)).additionals ?? []).some((rr) => rr.type === "OPT");
      withOpt.push(edns);
      return [replyTo(query, edns ? { rcode: 1 } : A("h.example.test", 60, "192.0.2.9"))];
    }, { tries: 1 });
    assert.deepEqual(await resolver.resolve4("h.example.test"), ["192.0.2.9"]);
    assert.deepEqual(withOpt, [true, false]);
    assert.deepEqual(
      transport.sent.map((s) => s.server),
      ["192.0.2.53:53", "192.0.2.53:53"],
      "the same server",
    );
  });

  it("gives EFORMERR when the query without EDNS0 is refused so too", async () => {
    const { transport, resolver } = setup((query) => [replyTo(query, { rcode: 1 })], { tries: 2 });
    assert.equal(await codeOf(resolver.resolve4("h.example.test")), "EFORMERR");
    assert.equal(transport.sent.length, 4, "each of the two tries once with EDNS0, once without");
  });

  it("takes a referral (no records, neither recursive nor authoritative) for a failure: the next server", async () => {
    const ns = { type: "NS", name: "example.test", ttl: 3600, data: "ns.example.test" } as const;
    const { transport, resolver } = setup((query, _via, server) =>
      server.host === "192.0.2.53" ? [replyTo(query, { recursive: false, authorities: [ns] })] : [
        replyTo(query, {
          answers: [{ type: "TXT", name: "x.example.test", ttl: 60, data: ["v=spf1 -all"] }],
        }),
      ]
    );
    assert.deepEqual(await resolver.resolveTxt("x.example.test"), [["v=spf1 -all"]]);
    assert.deepEqual(transport.sent.map((s) => s.server), ["192.0.2.53:53", "192.0.2.54:5353"]);
  });

  it("gives ENORECURSION when every server refers, and takes an authoritative server's NODATA", async () => {
    const referral = setup((query) => [replyTo(query, { recursive: false })], { tries: 2 });
    assert.equal(await codeOf(referral.resolver.resolveTxt("x.example.test")), "ENORECURSION");
    assert.equal(referral.resolver.stats().entries, 0, "not cached");
    const authoritative = setup((query) => [
      replyTo(query, { recursive: false, authoritative: true, authorities: [soa(600, 30)] }),
    ]);
    assert.equal(await codeOf(authoritative.resolver.resolveTxt("x.example.test")), "ENODATA");
    assert.equal(authoritative.transport.sent.length, 1);
  });

  it("refuses a TCP answer to another question (EBADRESP) and tries the next server", async () => {
    const { transport, resolver } = setup(
      (query, via) =>
        via === "udp"
          ? [replyTo(query, { truncated: true })]
          : [replyTo(query, { id: 1 + decode(Buffer.from(query)).id! })],
      { tries: 2 },
    );
    assert.equal(await codeOf(resolver.resolveTxt("big.example.test")), "EBADRESP");
    assert.deepEqual(transport.sent.map((s) => `${s.via} ${s.server}`), [
      "udp 192.0.2.53:53",
      "tcp 192.0.2.53:53",
      "udp 192.0.2.54:5353",
      "tcp 192.0.2.54:5353",
    ]);
  });

  it("notes the lowest TTL left of a chain of lookups, negative answers too", async () => {
    const zone = {
      "A a.example.test": A("a.example.test", 300, "192.0.2.1"),
      "A b.example.test": A("b.example.test", 100, "192.0.2.2"),
    };
    const { clock, resolver } = setup(zoneHandler(zone));
    const first = new TtlCollector();
    const view = resolver.withTtl(first);
    await view.resolve4("a.example.test");
    assert.equal(first.min, 300);
    await view.resolve4("b.example.test");
    clock.advance(80);
    const second = new TtlCollector();
    await resolver.withTtl(second).resolve4("a.example.test");
    assert.equal(second.min, 220, "from the cache: what is left");
    await codeOf(resolver.withTtl(second).resolve4("b.example.test"));
    assert.equal(second.min, 20);
    await codeOf(resolver.withTtl(second).resolveMx("gone.example.test"));
    assert.deepEqual([first.min, second.min], [100, 20], "NXDOMAIN's 30 s is not lower");
  });

  it("refuses unsendable names without a packet, and past maxInFlight with EBUSY, said and counted", async () => {
    let release = () => {};
    const gate = new Promise<void>((done) => release = done);
    const zone = zoneHandler({});
    let said = 0;
    const { transport, resolver } = setup(
      async (query, via, server) => (await gate, zone(query, via, server)),
      { maxInFlight: 2, onBusy: () => said++ },
    );
    assert.equal(await codeOf(resolver.resolvePtr("a..example.test")), "EBADNAME");
    const pending = [
      codeOf(resolver.resolve4("a.example.test")),
      codeOf(resolver.resolve6("a.example.test")),
    ];
    assert.equal(await codeOf(resolver.resolve4("b.example.test")), "EBUSY");
    assert.equal(await codeOf(resolver.resolveTxt("c.example.test")), "EBUSY");
    assert.equal(said, 2, "each refusal said");
    assert.equal(resolver.stats().busy, 2);
    assert.equal(resolver.stats().failures, 0, "a refusal is no failure of the servers");
    release();
    assert.deepEqual(await Promise.all(pending), ["ENOTFOUND", "ENOTFOUND"]);
    assert.equal(transport.sent.length, 2);
  });

  it("hands out frozen answers, so one caller cannot change another's", async () => {
    const { resolver } = setup(
      zoneHandler({ "A h.example.test": A("h.example.test", 60, "192.0.2.2", "192.0.2.1") }),
    );
    const records = await resolver.resolve4("h.example.test");
    assert.throws(() => records.sort(), TypeError);
    assert.deepEqual(await resolver.resolve4("h.example.test"), ["192.0.2.2", "192.0.2.1"]);
  });
});
