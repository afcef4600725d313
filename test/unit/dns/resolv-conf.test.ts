import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatServer, parseResolvConf, parseServer, systemServers } from "../../../src/dns/resolv-conf.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";
import { writeFileSync } from "node:fs";

describe("resolv.conf parsing", () => {
  it("reads nameservers in order, with comments, options and unknown lines", () => {
    const conf = parseResolvConf(
      "# generated\nsearch example.org\nnameserver 192.0.2.1 # primary\n; old\n" +
        "nameserver   2001:db8::53\noptions ndots:2 timeout:3 attempts:4 rotate\nsortlist 10.0.0.0\n",
    );
    assert.deepEqual(conf, {
      nameservers: [{ host: "192.0.2.1", port: 53 }, { host: "2001:db8::53", port: 53 }],
      timeoutMs: 3000,
      attempts: 4,
    });
  });

  it("keeps the first three nameservers, as glibc does, and skips what is not an address", () => {
    const text = ["nameserver dns.example", "nameserver fe80::1%eth0", "nameserver", "#nameserver 192.0.2.9"]
      .concat(["1", "2", "3", "4"].map((n) => `nameserver 192.0.2.${n}`)).join("\n");
    assert.deepEqual(parseResolvConf(text).nameservers.map((s) => s.host), [
      "192.0.2.1",
      "192.0.2.2",
      "192.0.2.3",
    ]);
  });

  it("caps timeout at 30 s and attempts at 5, and ignores zero", () => {
    assert.deepEqual(parseResolvConf("options timeout:99 attempts:9"), {
      nameservers: [],
      timeoutMs: 30_000,
      attempts: 5,
    });
    assert.deepEqual(parseResolvConf("options timeout:0 attempts:0"), { nameservers: [] });
  });

  it("falls back to 127.0.0.1:53 when the file is missing or names no server", () => {
    const dir = makeTempDir();
    try {
      writeFileSync(dir.file("resolv.conf"), "search example.org\noptions attempts:2\n");
      assert.deepEqual(systemServers(dir.file("resolv.conf")), {
        nameservers: [{ host: "127.0.0.1", port: 53 }],
        attempts: 2,
      });
      assert.deepEqual(systemServers(dir.file("none")).nameservers, [{ host: "127.0.0.1", port: 53 }]);
    } finally {
      dir.remove();
    }
  });
});

describe("server addresses", () => {
  it("parses IPv4 and IPv6, with and without a port", () => {
    assert.deepEqual(parseServer("192.0.2.53"), { host: "192.0.2.53", port: 53 });
    assert.deepEqual(parseServer("127.0.0.1:5353"), { host: "127.0.0.1", port: 5353 });
    assert.deepEqual(parseServer("::1"), { host: "::1", port: 53 });
    assert.deepEqual(parseServer("2001:db8::1"), { host: "2001:db8::1", port: 53 });
    assert.deepEqual(parseServer("[::1]:5353"), { host: "::1", port: 5353 });
  });

  it("refuses names, bad ports and junk", () => {
    for (
      const text of ["dns.example", "dns.example:53", "127.0.0.1:0", "127.0.0.1:65536", "[::1]:x", "", ":53"]
    ) {
      assert.throws(() => parseServer(text), TypeError, text);
    }
  });

  it("formats IPv6 in brackets", () => {
    assert.equal(formatServer({ host: "::1", port: 53 }), "[::1]:53");
    assert.equal(formatServer({ host: "192.0.2.1", port: 5353 }), "192.0.2.1:5353");
  });
});
