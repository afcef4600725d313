// The caching DNS client (src/dns/) against a real authoritative server, Debian's nsd, on a loopback port
// with zones this test writes; then the SPF evaluator driven through it (issue 18 item 3).
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { after, before, describe, it } from "node:test";
import { CachingResolver, type ResolverOptions, TtlCollector } from "../../src/dns/resolver.ts";
import { checkHost } from "../../src/spf/check-host.ts";
import { type Nsd, startNsd } from "../helpers/nsd.ts";
import { codeOf } from "../helpers/error-code.ts";

const strings = (letter: string, count: number) =>
  Array.from({ length: count }, (_, i) => `"${String.fromCharCode(letter.charCodeAt(0) + i).repeat(250)}"`)
    .join(" ");

// SOA: TTL 300, MINIMUM 30, so negative answers are cached for 30 s (RFC 2308: the lower of the two).
const ZONE = `$ORIGIN example.test.
$TTL 300
@       IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 30
@       NS   ns
ns      A    127.0.0.1
host    A    192.0.2.10
host    AAAA 2001:db8::10
host    TXT  "hello" "world"
@       MX   10 mx1
@       MX   20 mx2
mx1     A    192.0.2.21
mx2     A    192.0.2.22
short 1 A    192.0.2.30
medium  TXT  ${strings("a", 3)}
long    TXT  ${strings("k", 8)}
alias   CNAME host
pass    TXT  "v=spf1 include:inc.example.test -all"
inc     TXT  "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"
fail    TXT  "v=spf1 mx -all exp=why.%{d}"
fail    MX   10 mx1
why.fail TXT "%{i} is not one of %{d}'s designated mail servers"
delegated NS ns.other.test.
`;

// The delegated zone, held by another server: what the referral above points to.
const DELEGATED = `$ORIGIN delegated.example.test.
$TTL 300
@       IN SOA ns.other.test. hostmaster.example.test. 1 3600 600 86400 30
@       NS   ns.other.test.
@       TXT  "v=spf1 ip4:192.0.2.0/24 -all"
`;

const REVERSE = `$ORIGIN 2.0.192.in-addr.arpa.
$TTL 300
@   IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 30
@   NS ns.example.test.
10  PTR host.example.test.
`;

describe("DNS client against a real nsd", () => {
  let nsd: Nsd;
  const resolverFor = (options: ResolverOptions = {}) =>
    new CachingResolver({ servers: [`127.0.0.1:${nsd.port}`], timeoutMs: 1000, tries: 2, ...options });

  before(async () => {
    nsd = await startNsd({ "example.test": ZONE, "2.0.192.in-addr.arpa": REVERSE }, async (port) => {
      const probe = new CachingResolver({ servers: [`127.0.0.1:${port}`], timeoutMs: 200, tries: 1 });
      return (await codeOf(probe.resolve4("ns.example.test"))) === "no error";
    });
  });
  after(async () => await nsd?.stop());

  it("answers A, AAAA, TXT, MX and PTR in the runtime resolver's shapes", async () => {
    const resolver = resolverFor();
    assert.deepEqual(await resolver.resolve4("host.example.test"), ["192.0.2.10"]);
    assert.deepEqual(await resolver.resolve6("host.example.test"), ["2001:db8::10"]);
    assert.deepEqual(await resolver.resolveTxt("host.example.test"), [["hello", "world"]]);
    const mx = await resolver.resolveMx("example.test");
    assert.deepEqual([...mx].sort((a, b) => a.priority - b.priority), [
      { exchange: "mx1.example.test", priority: 10 },
      { exchange: "mx2.example.test", priority: 20 },
    ]);
    assert.deepEqual(await resolver.resolvePtr("10.2.0.192.in-addr.arpa"), ["host.example.test"]);
    assert.deepEqual(await resolver.resolve4("alias.example.test"), ["192.0.2.10"], "through the CNAME");
  });

  it("takes a 750-byte TXT over UDP with EDNS0, and a 2000-byte one over TCP", async () => {
    const resolver = resolverFor();
    assert.equal((await resolver.resolveTxt("medium.example.test"))[0].join("").length, 750);
    assert.equal(resolver.stats().tcpQueries, 0, "fits the 1232-byte EDNS0 buffer");
    const long = (await resolver.resolveTxt("long.example.test"))[0];
    assert.equal(long.join("").length, 2000);
    assert.equal(long[7], "r".repeat(250));
    assert.deepEqual([resolver.stats().tcpQueries, resolver.stats().queriesSent], [1, 3]);
    const plain = resolverFor({ edns: false });
    assert.equal((await plain.resolveTxt("medium.example.test"))[0].join("").length, 750);
    assert.equal(plain.stats().tcpQueries, 1, "over 512 bytes without EDNS0: truncated, then TCP");
  });

  it("tells NXDOMAIN (ENOTFOUND) from NODATA (ENODATA)", async () => {
    const resolver = resolverFor();
    assert.equal(await codeOf(resolver.resolveTxt("nothing.example.test")), "ENOTFOUND");
    assert.equal(await codeOf(resolver.resolveMx("host.example.test")), "ENODATA");
    assert.equal(await codeOf(resolver.resolve6("mx1.example.test")), "ENODATA");
  });

  it("expires a 1-second TTL from the cache", async () => {
    const resolver = resolverFor();
    const ttl = new TtlCollector();
    assert.deepEqual(await resolver.withTtl(ttl).resolve4("short.example.test"), ["192.0.2.30"]);
    assert.equal(ttl.min, 1);
    await resolver.resolve4("short.example.test");
    assert.equal(resolver.stats().queriesSent, 1, "still cached");
    await new Promise((done) => setTimeout(done, 1100));
    await resolver.resolve4("short.example.test");
    assert.equal(resolver.stats().queriesSent, 2, "expired and asked again");
  });

  it("caches negative answers for the SOA minimum (injected clock)", async () => {
    let now = 0;
    const resolver = resolverFor({ now: () => now });
    const ttl = new TtlCollector();
    assert.equal(await codeOf(resolver.withTtl(ttl).resolveTxt("gone.example.test")), "ENOTFOUND");
    assert.equal(await codeOf(resolver.resolveMx("host.example.test")), "ENODATA");
    assert.equal(ttl.min, 30, "min(SOA TTL 300, MINIMUM 30)");
    now += 29_000;
    assert.equal(await codeOf(resolver.resolveTxt("gone.example.test")), "ENOTFOUND");
    assert.equal(await codeOf(resolver.resolveMx("host.example.test")), "ENODATA");
    assert.equal(resolver.stats().queriesSent, 2);
    now += 1_000;
    await codeOf(resolver.resolveTxt("gone.example.test"));
    await codeOf(resolver.resolveMx("host.example.test"));
    assert.equal(resolver.stats().queriesSent, 4);
  });

  it("sends one query for 20 concurrent identical lookups", async () => {
    const resolver = resolverFor();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => resolver.resolveTxt("pass.example.test")),
    );
    assert.deepEqual(new Set(answers.map((a) => JSON.stringify(a))).size, 1);
    assert.deepEqual([resolver.stats().queriesSent, resolver.stats().coalesced], [1, 19]);
  });

  it("gives ETIMEOUT within timeout × tries from a server that never answers, then recovers", async () => {
    const sink = createSocket("udp4");
    const sinkPort = await new Promise<number>((done) =>
      sink.bind(0, "127.0.0.1", () => done(sink.address().port))
    );
    let dropped = 0;
    sink.on("message", () => dropped++);
    try {
      const dead = new CachingResolver({ servers: [`127.0.0.1:${sinkPort}`], timeoutMs: 200, tries: 3 });
      const started = Date.now();
      assert.equal(await codeOf(dead.resolveTxt("pass.example.test")), "ETIMEOUT");
      const took = Date.now() - started;
      assert.ok(took >= 590 && took < 2000, `${took} ms for 3 tries of 200 ms`);
      assert.deepEqual([dropped, dead.stats().timeouts], [3, 3]);
      const failover = new CachingResolver({
        servers: [`127.0.0.1:${sinkPort}`, `127.0.0.1:${nsd.port}`],
        timeoutMs: 200,
        tries: 2,
      });
      assert.deepEqual(await failover.resolve4("host.example.test"), ["192.0.2.10"]);
      assert.deepEqual([dropped, failover.stats().timeouts], [4, 1]);
      // The dead first server is asked after nsd for a while: later lookups cost no timeout each.
      assert.deepEqual(await failover.resolveTxt("pass.example.test"), [[
        "v=spf1 include:inc.example.test -all",
      ]]);
      assert.deepEqual(await failover.resolve6("host.example.test"), ["2001:db8::10"]);
      assert.deepEqual([dropped, failover.stats().timeouts, failover.stats().queriesSent], [4, 1, 4]);
    } finally {
      sink.close();
    }
  });

  it("takes nsd's referral to a delegated zone for a failure, not for no record", async () => {
    // nsd neither recurses nor holds delegated.example.test: it answers with the NS records only.
    const alone = resolverFor();
    assert.equal(await codeOf(alone.resolveTxt("delegated.example.test")), "ENORECURSION");
    const spf = await checkHost("192.0.2.10", "alice@delegated.example.test", "host.example.test", {
      resolver: alone,
    });
    assert.equal(spf.result, "temperror", "not 'none': the record was never seen");
    const other = await startNsd({ "delegated.example.test": DELEGATED }, async (port) => {
      const probe = new CachingResolver({ servers: [`127.0.0.1:${port}`], timeoutMs: 200, tries: 1 });
      return (await codeOf(probe.resolveTxt("delegated.example.test"))) === "no error";
    });
    try {
      const both = new CachingResolver({
        servers: [`127.0.0.1:${nsd.port}`, `127.0.0.1:${other.port}`],
        timeoutMs: 1000,
        tries: 2,
      });
      const pass = await checkHost("192.0.2.10", "alice@delegated.example.test", "host.example.test", {
        resolver: both,
      });
      assert.equal(pass.result, "pass", "the second server holds the zone");
    } finally {
      await other.stop();
    }
  });

  it("drives checkHost: a pass through an include, and a fail with its exp= text", async () => {
    const resolver = resolverFor();
    const ttl = new TtlCollector();
    const pass = await checkHost("192.0.2.10", "alice@pass.example.test", "host.example.test", {
      resolver: resolver.withTtl(ttl),
    });
    assert.deepEqual([pass.result, pass.mechanism], ["pass", "include:inc.example.test"]);
    assert.equal(ttl.min, 300);
    const fail = await checkHost("198.51.100.7", "bob@fail.example.test", "host.example.test", { resolver });
    assert.deepEqual([fail.result, fail.mechanism], ["fail", "-all"]);
    assert.equal(fail.explanation, "198.51.100.7 is not one of fail.example.test's designated mail servers");
  });
});
