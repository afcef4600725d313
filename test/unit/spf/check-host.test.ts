import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkHost } from "../../../src/spf/check-host.ts";
import type { CheckHostOptions, SpfResolver } from "../../../src/spf/types.ts";
import type { YamlValue } from "./suite-yaml.ts";
import { zoneResolver } from "./zone-resolver.ts";

type Zone = { [name: string]: YamlValue };

function check(
  zone: Zone,
  ip: string,
  sender: string,
  helo = "mx.example.org",
  options = {},
  synchronous = false,
) {
  const resolver = zoneResolver(zone, synchronous);
  const run = checkHost(ip, sender, helo, { resolver, ...options } as CheckHostOptions);
  return run.then((result) => ({ ...result, queries: resolver.queries }));
}

/** A resolver whose every query waits `ms` (forever when undefined) before asking `inner`. */
function slowResolver(inner: SpfResolver, ms?: number): SpfResolver & { asked: number } {
  const state = { asked: 0 };
  const delay = <T>(answer: () => Promise<T>) => {
    state.asked++;
    if (ms === undefined) return new Promise<T>(() => {});
    return new Promise<void>((resolve) => setTimeout(resolve, ms)).then(answer);
  };
  return {
    get asked() {
      return state.asked;
    },
    resolveTxt: (name) => delay(() => inner.resolveTxt(name)),
    resolve4: (name) => delay(() => inner.resolve4(name)),
    resolve6: (name) => delay(() => inner.resolve6(name)),
    resolveMx: (name) => delay(() => inner.resolveMx(name)),
    resolvePtr: (name) => delay(() => inner.resolvePtr(name)),
  };
}

describe("checkHost results", () => {
  const zone: Zone = {
    "example.com": [
      { TXT: "v=spf1 include:_spf.example.com ip4:192.0.2.0/24 -all exp=why.example.com" },
      { TXT: "some-site-verification=1" },
    ],
    "_spf.example.com": [{ TXT: "v=spf1 ip6:2001:db8::/32 ~all" }],
    "why.example.com": [{ TXT: "%{i} may not send for %{d} (%{s})" }],
  };

  it("passes a listed client and names the mechanism that matched", async () => {
    const result = await check(zone, "192.0.2.77", "alice@example.com");
    assert.equal(result.result, "pass");
    assert.equal(result.mechanism, "ip4:192.0.2.0/24");
    assert.equal(result.domain, "example.com");
    assert.equal(result.identity, "mailfrom");
    assert.equal(result.lookups, 1);
  });

  it("passes through an include, naming the include", async () => {
    const result = await check(zone, "2001:db8::25", "alice@example.com");
    assert.equal(result.result, "pass");
    assert.equal(result.mechanism, "include:_spf.example.com");
  });

  it("fails an unlisted client with the exp= text, expanded against the record's domain", async () => {
    const result = await check(zone, "198.51.100.9", "bob@Example.COM");
    assert.equal(result.result, "fail");
    assert.equal(result.mechanism, "-all");
    assert.equal(result.explanation, "198.51.100.9 may not send for Example.COM (bob@Example.COM)");
  });

  it("asks for the explanation only for fail, once", async () => {
    const failed = await check(zone, "198.51.100.9", "bob@example.com");
    assert.equal(failed.queries.filter((q) => q === "TXT why.example.com").length, 1);
    const passed = await check(zone, "192.0.2.77", "bob@example.com");
    assert.equal(passed.queries.includes("TXT why.example.com"), false);
  });

  it("gives none for a domain without a record, a non-existent one, or one that is no domain", async () => {
    assert.equal((await check(zone, "192.0.2.1", "a@_spf2.example.com")).result, "none");
    assert.equal((await check(zone, "192.0.2.1", "a@[192.0.2.1]")).result, "none");
    const single = await check(zone, "192.0.2.1", "a@localhost");
    assert.equal(single.result, "none");
    assert.deepEqual(single.queries, []);
  });

  it("expands %{d} in an include to the include's domain, not the sender's", async () => {
    const nested: Zone = {
      "example.com": [{ TXT: "v=spf1 include:inner.example.net -all" }],
      "inner.example.net": [{ TXT: "v=spf1 exists:%{d}.allow.example.org -all" }],
      "inner.example.net.allow.example.org": [{ A: "127.0.0.2" }],
    };
    assert.equal((await check(nested, "192.0.2.1", "a@example.com")).result, "pass");
  });

  it("cuts an include's or redirect's expanded target from the left to 253 octets, as a's (§7.3)", async () => {
    // "foobar." + 8 × the 29-octet sender domain and a dot + "example.com": 258 octets; 251 without "foobar.".
    const sender = "test@somewhat.long.exp.example.com";
    const long = `foobar.${"%{o}.".repeat(8)}example.com`;
    const cut = `${"somewhat.long.exp.example.com.".repeat(8)}example.com`;
    const zone = (record: string): Zone => ({
      "somewhat.long.exp.example.com": [{ TXT: record }],
      [cut]: [{ TXT: "v=spf1 ip4:192.0.2.1 -all" }],
    });
    const included = await check(zone(`v=spf1 include:${long} -all`), "192.0.2.1", sender);
    assert.deepEqual([included.result, included.problem], ["pass", undefined]);
    assert.ok(included.queries.includes(`TXT ${cut}`));
    const redirected = await check(zone(`v=spf1 redirect=${long}`), "192.0.2.2", sender);
    assert.deepEqual([redirected.result, redirected.mechanism], ["fail", "-all"]);
  });

  it("rejects a client address that is not one (the caller validates)", async () => {
    await assert.rejects(check(zone, "not-an-ip", "a@example.com"), TypeError);
  });
});

describe("checkHost identities", () => {
  const zone: Zone = {
    "mx.example.org": [{ TXT: "v=spf1 a -all exp=helo-why.example.org" }, { A: "192.0.2.10" }],
    "helo-why.example.org": [{ TXT: "%{l} at %{o} (%{h})" }],
  };

  it("checks postmaster@helo for the null sender (§2.4)", async () => {
    const result = await check(zone, "192.0.2.99", "", "mx.example.org");
    assert.equal(result.identity, "helo");
    assert.equal(result.domain, "mx.example.org");
    assert.equal(result.result, "fail");
    assert.equal(result.explanation, "postmaster at mx.example.org (mx.example.org)");
  });

  it("checks the HELO identity on request, whatever the sender (§2.3)", async () => {
    const result = await check(zone, "192.0.2.10", "alice@elsewhere.example", "mx.example.org", {
      identity: "helo",
    });
    assert.equal(result.identity, "helo");
    assert.equal(result.result, "pass");
  });

  it("gives none for a HELO that is an address literal or a single label", async () => {
    assert.equal((await check(zone, "192.0.2.10", "", "[192.0.2.10]")).result, "none");
    assert.equal((await check(zone, "192.0.2.10", "", "OEMCOMPUTER")).result, "none");
  });
});

describe("checkHost processing limits (§4.6.4)", () => {
  const chain = (terms: string): Zone => ({
    "example.com": [{ TXT: `v=spf1 ${terms} -all` }],
    "host.example.com": [{ A: "192.0.2.1" }],
  });

  it("allows 10 DNS-querying terms and refuses the 11th", async () => {
    const ten = await check(
      chain(`${"a:host.example.com ".repeat(10)}ip4:198.51.100.1`),
      "198.51.100.1",
      "a@example.com",
    );
    assert.equal(ten.result, "pass");
    assert.equal(ten.lookups, 10);
    const eleven = await check(chain("a:host.example.com ".repeat(11)), "198.51.100.1", "a@example.com");
    assert.equal(eleven.result, "permerror");
    assert.match(eleven.problem!, /more than 10 DNS-querying terms/);
  });

  it("counts across includes and stops an include loop", async () => {
    const loop: Zone = {
      "example.com": [{ TXT: "v=spf1 include:other.example.com -all" }],
      "other.example.com": [{ TXT: "v=spf1 include:example.com -all" }],
    };
    const result = await check(loop, "192.0.2.1", "a@example.com");
    assert.equal(result.result, "permerror");
    assert.equal(result.lookups, 11);
  });

  it("allows two void lookups and refuses the third", async () => {
    const two = await check(chain("a:no1.example.com a:no2.example.com"), "192.0.2.1", "a@example.com");
    assert.equal(two.result, "fail");
    assert.equal(two.voidLookups, 2);
    const three = await check(
      chain("a:no1.example.com a:no2.example.com a:no3.example.com"),
      "192.0.2.1",
      "a@example.com",
    );
    assert.equal(three.result, "permerror");
    assert.match(three.problem!, /more than 2 void lookups/);
  });

  it("makes the limits configurable", async () => {
    const record = chain("a:no1.example.com a:no2.example.com a:no3.example.com");
    const result = await check(record, "192.0.2.1", "a@example.com", "mx.example.org", {
      voidLookupLimit: 3,
    });
    assert.equal(result.result, "fail");
    const lookups = await check(record, "192.0.2.1", "a@example.com", "mx.example.org", { lookupLimit: 2 });
    assert.equal(lookups.result, "permerror");
  });

  it("does not count an IPv6 client's AAAA NODATA on an IPv4-only host as void", async () => {
    const zone = chain("a:host.example.com mx:host.example.com a:host.example.com a:host.example.com");
    zone["host.example.com"] = [{ A: "192.0.2.1" }, { MX: [10, "host.example.com"] }];
    const result = await check(zone, "2001:db8::1", "a@example.com");
    assert.equal(result.result, "fail");
    assert.equal(result.voidLookups, 0);
  });

  for (
    const [how, synchronous] of [["through promises", false], ["from a resolver's cache", true]] as const
  ) {
    it(`tells a name that does not exist from one without AAAA records, ${how}`, async () => {
      const zone = chain("a:no1.example.com a:host.example.com a:no2.example.com a:no3.example.com");
      zone["host.example.com"] = [{ A: "192.0.2.1" }];
      const v6 = await check(zone, "2001:db8::1", "a@example.com", "h", {}, synchronous);
      assert.equal(v6.result, "permerror", "three names that do not exist are three void lookups");
      assert.equal(v6.voidLookups, 3);
      const twoMissing = chain("a:no1.example.com a:host.example.com a:no2.example.com");
      twoMissing["host.example.com"] = [{ A: "192.0.2.1" }];
      const fine = await check(twoMissing, "2001:db8::1", "a@example.com", "h", {}, synchronous);
      assert.equal(fine.result, "fail", "host.example.com's missing AAAA is not a void lookup");
      assert.equal(fine.voidLookups, 2);
    });
  }

  it("refuses an mx term with more than 10 MX names", async () => {
    const zone = chain("mx");
    zone["example.com"] = [
      { TXT: "v=spf1 mx -all" },
      ...Array.from({ length: 11 }, (_, i) => ({ MX: [i, "host.example.com"] })),
    ];
    const result = await check(zone, "192.0.2.1", "a@example.com");
    assert.equal(result.result, "permerror");
    assert.match(result.problem!, /more than 10 MX names/);
  });

  it("looks at only the first 10 PTR names", async () => {
    const names = Array.from({ length: 11 }, (_, i) => ({ PTR: `h${i}.example.com` }));
    const zone: Zone = {
      "example.com": [{ TXT: "v=spf1 ptr -all" }],
      "1.2.0.192.in-addr.arpa": names,
      "h10.example.com": [{ A: "192.0.2.1" }],
      "h9.example.com": [{ A: "192.0.2.1" }],
    };
    assert.equal((await check(zone, "192.0.2.1", "a@example.com")).result, "pass");
    delete zone["h9.example.com"];
    const result = await check(zone, "192.0.2.1", "a@example.com");
    assert.equal(result.result, "fail");
    assert.equal(result.queries.includes("A h10.example.com"), false);
  });
});

describe("checkHost time budget", () => {
  const zone: Zone = { "example.com": [{ TXT: "v=spf1 a:a.example.com a:b.example.com -all" }] };

  it("ends in temperror when the resolver never answers", async () => {
    const resolver = slowResolver(zoneResolver(zone));
    const started = Date.now();
    const result = await checkHost("192.0.2.1", "a@example.com", "mx", { resolver, timeoutMs: 50 });
    const elapsed = Date.now() - started;
    assert.equal(result.result, "temperror");
    assert.match(result.problem!, /time budget of 50 ms/);
    assert.ok(elapsed >= 45 && elapsed < 2000, `took ${elapsed} ms`);
    assert.equal(resolver.asked, 1);
  });

  it("counts the budget for the whole check, not per query", async () => {
    const resolver = slowResolver(zoneResolver(zone), 40);
    const result = await checkHost("192.0.2.1", "a@example.com", "mx", { resolver, timeoutMs: 100 });
    // Each query is within the budget, the three together are not: TXT, A a.example.com, A b.example.com
    // (cut short). On a loaded machine the timers run late and the budget ends after the second query.
    assert.equal(result.result, "temperror");
    assert.ok(resolver.asked >= 2 && resolver.asked <= 3, `${resolver.asked} queries`);
  });

  it("lets a check that fits its budget finish", async () => {
    const resolver = slowResolver(zoneResolver(zone), 5);
    const result = await checkHost("192.0.2.1", "a@example.com", "mx", { resolver, timeoutMs: 5_000 });
    assert.equal(result.result, "fail");
    assert.equal(result.voidLookups, 2);
    assert.equal(resolver.asked, 3);
  });

  it("does not let a spent budget pass for a skipped PTR name", async () => {
    const ptrZone: Zone = {
      "example.com": [{ TXT: "v=spf1 ptr +all" }],
      "1.2.0.192.in-addr.arpa": [{ PTR: "h.example.com" }],
    };
    const resolver = slowResolver(zoneResolver(ptrZone), 40);
    const result = await checkHost("192.0.2.1", "a@example.com", "mx", { resolver, timeoutMs: 60 });
    assert.equal(result.result, "temperror");
  });

  it("notices a budget spent between queries answered at once", async () => {
    const inner = zoneResolver(zone);
    // Each A query busies the thread for 30 ms and then answers at once, so the budget's timer never
    // gets to fire: only the clock can tell.
    const busy: SpfResolver = {
      ...inner,
      resolve4(name) {
        const until = Date.now() + 30;
        while (Date.now() < until) { /* busy */ }
        return inner.resolve4(name);
      },
    };
    const result = await checkHost("192.0.2.1", "a@example.com", "mx", { resolver: busy, timeoutMs: 20 });
    assert.equal(result.result, "temperror");
    assert.equal(result.voidLookups, 1); // a:a.example.com was answered; a:b.example.com never asked
  });
});

describe("checkHost trace", () => {
  it("records each query, each record and the match, only when asked", async () => {
    const zone: Zone = {
      "example.com": [{ TXT: "v=spf1 redirect=_spf.example.com" }],
      "_spf.example.com": [{ TXT: "v=spf1 mx -all" }, { MX: [10, "mx.example.com"] }],
      "mx.example.com": [{ A: "192.0.2.25" }],
      "other.example.com": "TIMEOUT",
    };
    const result = await check(zone, "192.0.2.25", "a@example.com", "mx", { trace: true });
    assert.equal(result.result, "pass");
    assert.equal(result.mechanism, "mx");
    assert.deepEqual(result.trace, [
      { kind: "dns", type: "TXT", name: "example.com", answer: ["v=spf1 redirect=_spf.example.com"] },
      { kind: "record", domain: "example.com", record: "v=spf1 redirect=_spf.example.com" },
      { kind: "redirect", domain: "example.com", target: "_spf.example.com" },
      { kind: "dns", type: "TXT", name: "_spf.example.com", answer: ["v=spf1 mx -all"] },
      { kind: "record", domain: "_spf.example.com", record: "v=spf1 mx -all" },
      { kind: "dns", type: "MX", name: "_spf.example.com", answer: ["10 mx.example.com"] },
      { kind: "dns", type: "A", name: "mx.example.com", answer: ["192.0.2.25"] },
      { kind: "match", domain: "_spf.example.com", mechanism: "mx", result: "pass" },
    ]);
    const timedOut = await check(zone, "192.0.2.25", "a@other.example.com", "mx", { trace: true });
    assert.equal(timedOut.result, "temperror");
    assert.equal(timedOut.problem, "DNS error ETIMEOUT for TXT other.example.com");
    assert.deepEqual(timedOut.trace?.[0], {
      kind: "dns",
      type: "TXT",
      name: "other.example.com",
      answer: [],
      error: "ETIMEOUT",
    });
    assert.equal((await check(zone, "192.0.2.25", "a@example.com")).trace, undefined);
  });
});
