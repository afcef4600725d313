// The [spf] section (config/schema.ts SPF_SECTION, config/spf-values.ts): no section, no SPF concern;
// a bare section has the schema's defaults; every value is checked.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../../src/config/load.ts";
import { parseCidr } from "../../../src/model/ip.ts";

const load = (text: string) => parseConfig(text, "t.conf", "/tmp");

describe("[spf]", () => {
  it("absent: no SPF concern, and the concern settings still have their defaults", () => {
    const result = load("[limit out]\ncount = 5\ntime = 1h\n");
    assert.ok(result.ok);
    assert.equal(result.config.spf, undefined);
    assert.deepEqual(result.config.concerns.spf, { timeoutMs: 1500, failMode: "open" });
  });

  it("a bare section: the schema's defaults", () => {
    const result = load("[spf]\n");
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.config.spf, {
      stage: "rcpt",
      actions: {
        pass: "accept",
        fail: "reject",
        softfail: "accept",
        neutral: "accept",
        none: "accept",
        permerror: "accept",
        temperror: "defer",
      },
      exempt: { authenticated: true, cidrs: [parseCidr("127.0.0.0/8"), parseCidr("::1")] },
      exemptDomains: [],
      heloCheck: "log",
      receivedSpf: true,
      timeBudgetMs: 20_000,
      dns: {
        servers: undefined,
        timeoutMs: 500,
        tries: 3,
        cacheMinTtl: 0,
        cacheMaxTtl: 86_400,
        cacheMaxEntries: 10_000,
        resultCacheEntries: 10_000,
      },
    });
  });

  it("reads every key; enabled = no turns the concern off", () => {
    const result = load(
      "[daemon]\nfail_mode = closed\n[spf]\ntimeout = 800ms\nstage = mail\nfail = defer\nsoftfail = warn\n" +
        "exempt = 192.0.2.0/24\nexempt_domains = @lists.example.org, example.net\n" +
        "dns_servers = 127.0.0.1:5353, [::1]:53\ndns_timeout = 1s\ndns_tries = 2\ncache_min_ttl = 30\n" +
        "cache_max_ttl = 1h\nhelo_check = enforce\ntime_budget = 5s\nreceived_spf = no\n",
    );
    assert.ok(result.ok, JSON.stringify(result));
    const spf = result.config.spf!;
    assert.deepEqual(result.config.concerns.spf, { timeoutMs: 800, failMode: "closed" });
    assert.deepEqual([spf.stage, spf.actions.fail, spf.actions.softfail, spf.heloCheck], [
      "mail",
      "defer",
      "warn",
      "enforce",
    ]);
    assert.deepEqual(spf.exempt, { authenticated: false, cidrs: [parseCidr("192.0.2.0/24")] });
    assert.deepEqual(spf.exemptDomains, ["lists.example.org", "example.net"]);
    assert.deepEqual(spf.dns.servers, ["127.0.0.1:5353", "[::1]:53"]);
    assert.deepEqual([spf.dns.timeoutMs, spf.dns.tries, spf.dns.cacheMinTtl, spf.dns.cacheMaxTtl], [
      1000,
      2,
      30,
      3600,
    ]);
    assert.deepEqual([spf.timeBudgetMs, spf.receivedSpf], [5000, false]);
    const off = load("[spf]\nenabled = no\n");
    assert.ok(off.ok);
    assert.equal(off.config.spf, undefined);
  });

  it("refuses bad values, each with its line", () => {
    const result = load(
      "[spf]\nfail = bounce\nexempt = nobody\nexempt_domains = -bad-\ndns_servers = dns.example\n" +
        "helo_check = maybe\nstage = connect\ndns_tries = 0\n",
    );
    assert.ok(!result.ok);
    assert.equal(result.errors.length, 7, result.errors.join("\n"));
    assert.match(result.errors[0], /^t.conf:2: spf.fail: expected one of: accept, warn, defer, reject$/);
    assert.match(result.errors[1], /spf.exempt: 'nobody' is not "authenticated", an address or a network/);
    assert.match(result.errors[3], /spf.dns_servers: 'dns.example' is not HOST, HOST:PORT/);
  });

  it("refuses cache_min_ttl above cache_max_ttl, at the one written", () => {
    // The DNS cache then kept every answer for cache_min_ttl, past the most cache_max_ttl said.
    const errors = (text: string) => {
      const result = load(text);
      return result.ok ? [] : result.errors;
    };
    assert.deepEqual(errors("[spf]\ncache_max_ttl = 1s\ncache_min_ttl = 1m\n"), [
      "t.conf:3: spf.cache_min_ttl: cache_min_ttl is above cache_max_ttl",
    ]);
    assert.deepEqual(errors("[spf]\ncache_min_ttl = 1h\n\ncache_max_ttl = 59m\n"), [
      "t.conf:2: spf.cache_min_ttl: cache_min_ttl is above cache_max_ttl",
    ]);
    assert.deepEqual(errors("[spf]\ncache_min_ttl = 1h\ncache_max_ttl = 1h\n"), []);
  });
});
