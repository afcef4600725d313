import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { cidrContains, ipPrefix, parseCidr, type ParsedIp, parseIp } from "../../../src/model/ip.ts";

function ip(text: string): ParsedIp {
  const parsed = parseIp(text);
  if (!parsed) throw new Error(`${JSON.stringify(text)} did not parse`);
  return parsed;
}

/** The 16 bytes of an IPv6 address given as eight 16-bit groups. */
function v6(...groups: number[]): number[] {
  return groups.flatMap((group) => [group >> 8, group & 0xff]);
}

const shape = (parsed: ParsedIp | undefined) =>
  parsed && { version: parsed.version, bytes: [...parsed.bytes] };

describe("parseIp: IPv4", () => {
  it("reads dotted quads", () => {
    assert.deepEqual(shape(parseIp("192.0.2.77")), { version: 4, bytes: [192, 0, 2, 77] });
    assert.deepEqual(shape(parseIp("0.0.0.0")), { version: 4, bytes: [0, 0, 0, 0] });
    assert.deepEqual(shape(parseIp("255.255.255.255")), { version: 4, bytes: [255, 255, 255, 255] });
  });

  it("reads up to three digits a number, leading zeros included, as decimal", () => {
    assert.deepEqual(shape(parseIp("010.000.002.007")), { version: 4, bytes: [10, 0, 2, 7] });
  });

  it("accepts surrounding blanks and Exim-style brackets", () => {
    assert.deepEqual(shape(parseIp(" 192.0.2.1 ")), { version: 4, bytes: [192, 0, 2, 1] });
    assert.deepEqual(shape(parseIp("[192.0.2.1]")), { version: 4, bytes: [192, 0, 2, 1] });
  });

  it("rejects what is not four numbers from 0 to 255", () => {
    for (
      const text of [
        "",
        "192.0.2",
        "192.0.2.1.5",
        "256.0.0.1",
        "192.0.2.-1",
        "192.0.2.a",
        "192.0..1",
        "1234.0.0.1",
        "192.0.2.1/24",
        "1e2.0.0.1",
        "localhost",
        "192.0.2.1:25",
        "192.0.2.",
        ".192.0.2",
        "192.0.2.1.",
        "0001.0.0.1",
        "192.0.2.256",
        "192.0.2.1x",
        "192.0.2.1\u0000",
      ]
    ) {
      assert.equal(parseIp(text), undefined, JSON.stringify(text));
    }
  });
});

describe("parseIp: IPv6", () => {
  it("reads the full form, in either case", () => {
    assert.deepEqual(shape(parseIp("2001:0db8:0000:0000:0000:0000:0000:0001")), {
      version: 6,
      bytes: v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
    });
    assert.deepEqual(shape(parseIp("2001:DB8:A:B:C:D:E:F")), {
      version: 6,
      bytes: v6(0x2001, 0xdb8, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf),
    });
  });

  it("expands :: wherever it stands", () => {
    const cases: [string, number[]][] = [
      ["::", v6(0, 0, 0, 0, 0, 0, 0, 0)],
      ["::1", v6(0, 0, 0, 0, 0, 0, 0, 1)],
      ["2001:db8::", v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0)],
      ["2001:db8::1", v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)],
      ["2001:db8::5:0:1", v6(0x2001, 0xdb8, 0, 0, 0, 5, 0, 1)],
      ["1:2:3:4:5:6:7::", v6(1, 2, 3, 4, 5, 6, 7, 0)],
      ["::2:3:4:5:6:7:8", v6(0, 2, 3, 4, 5, 6, 7, 8)],
      ["fe80::abcd", v6(0xfe80, 0, 0, 0, 0, 0, 0, 0xabcd)],
    ];
    for (const [text, bytes] of cases) assert.deepEqual(shape(parseIp(text)), { version: 6, bytes }, text);
  });

  it("spellings of the same address give the same bytes", () => {
    const a = ip("2001:db8::1");
    for (const text of ["2001:DB8:0::1", "2001:db8:0:0:0:0:0:1", "2001:0db8::0001", "[2001:db8::1]"]) {
      assert.deepEqual([...ip(text).bytes], [...a.bytes], text);
    }
  });

  it("reads an embedded IPv4 tail", () => {
    assert.deepEqual(shape(parseIp("64:ff9b::192.0.2.33")), {
      version: 6,
      bytes: v6(0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x0221),
    });
    assert.deepEqual(shape(parseIp("1:2:3:4:5:6:192.0.2.1")), {
      version: 6,
      bytes: v6(1, 2, 3, 4, 5, 6, 0xc000, 0x0201),
    });
    // The deprecated IPv4-compatible form is not IPv4-mapped: it stays IPv6.
    assert.equal(ip("::192.0.2.1").version, 6);
  });

  it("treats IPv4-mapped addresses as the IPv4 address Exim would have written", () => {
    for (const text of ["::ffff:192.0.2.1", "::FFFF:192.0.2.1", "[::ffff:192.0.2.1]", "::ffff:c000:201"]) {
      assert.deepEqual(shape(parseIp(text)), { version: 4, bytes: [192, 0, 2, 1] }, text);
    }
    // Only ::ffff:0:0/96 is mapped.
    assert.equal(ip("::fffe:192.0.2.1").version, 6);
    assert.equal(ip("1::ffff:192.0.2.1").version, 6);
  });

  it("rejects malformed addresses", () => {
    for (
      const text of [
        ":",
        ":::",
        "1::2::3",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7",
        "1:2:3:4:5:6:7:8::",
        "::1:2:3:4:5:6:7:8",
        ":1:2:3:4:5:6:7",
        "1:2:3:4:5:6:7:",
        "12345::1",
        "g::1",
        "2001:db8::1/64",
        "fe80::1%eth0",
        "::ffff:192.0.2",
        "::ffff:192.0.2.256",
        "1:2:3:4:5:6:7:192.0.2.1",
        "192.0.2.1::",
        "::192.0.2.1:1",
      ]
    ) {
      assert.equal(parseIp(text), undefined, JSON.stringify(text));
    }
  });
});

describe("ipPrefix", () => {
  it("masks an IPv4 address to its network, written with the prefix length", () => {
    assert.equal(ipPrefix(ip("192.0.2.77"), 24), "192.0.2.0/24");
    assert.equal(ipPrefix(ip("192.0.2.77"), 16), "192.0.0.0/16");
    assert.equal(ipPrefix(ip("192.0.2.77"), 32), "192.0.2.77/32");
    assert.equal(ipPrefix(ip("192.0.2.77"), 0), "0.0.0.0/0");
  });

  it("masks bits that are not on a byte boundary", () => {
    assert.equal(ipPrefix(ip("198.51.100.200"), 20), "198.51.96.0/20");
    assert.equal(ipPrefix(ip("198.51.100.200"), 25), "198.51.100.128/25");
    assert.equal(ipPrefix(ip("2001:db8:abcd:12ff::1"), 60), "2001:db8:abcd:12f0:0:0:0:0/60");
  });

  it("gives every address of a network the same key, and other networks another", () => {
    assert.equal(ipPrefix(ip("192.0.2.1"), 24), ipPrefix(ip("192.0.2.254"), 24));
    assert.notEqual(ipPrefix(ip("192.0.2.1"), 24), ipPrefix(ip("192.0.3.1"), 24));
    const net = ipPrefix(ip("2001:db8:1:2::1"), 64);
    assert.equal(net, "2001:db8:1:2:0:0:0:0/64");
    assert.equal(ipPrefix(ip("2001:DB8:1:2:ffff:ffff:ffff:ffff"), 64), net);
    assert.notEqual(ipPrefix(ip("2001:db8:1:3::1"), 64), net);
  });

  it("caps the prefix at the address length", () => {
    assert.equal(ipPrefix(ip("192.0.2.77"), 64), "192.0.2.77/32");
    assert.equal(ipPrefix(ip("2001:db8::1"), 200), "2001:db8:0:0:0:0:0:1/128");
  });

  it("treats an IPv4-mapped address as IPv4", () => {
    assert.equal(ipPrefix(ip("::ffff:192.0.2.77"), 24), "192.0.2.0/24");
  });
});

describe("parseCidr", () => {
  it("reads IPv4 and IPv6 networks and masks host bits", () => {
    assert.deepEqual(parseCidr("192.0.2.0/24"), {
      version: 4,
      network: new Uint8Array([192, 0, 2, 0]),
      prefix: 24,
    });
    assert.deepEqual(parseCidr("192.0.2.77/24"), {
      version: 4,
      network: new Uint8Array([192, 0, 2, 0]),
      prefix: 24,
    });
    assert.deepEqual(parseCidr("2001:db8::/32"), {
      version: 6,
      network: new Uint8Array(v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0)),
      prefix: 32,
    });
  });

  it("a bare address is a network of one", () => {
    assert.equal(parseCidr("192.0.2.1")?.prefix, 32);
    assert.equal(parseCidr("2001:db8::1")?.prefix, 128);
  });

  it("accepts /0 and the full length", () => {
    assert.equal(parseCidr("0.0.0.0/0")?.prefix, 0);
    assert.equal(parseCidr("192.0.2.1/32")?.prefix, 32);
    assert.equal(parseCidr("::/0")?.prefix, 0);
    assert.equal(parseCidr("::1/128")?.prefix, 128);
  });

  it("rejects bad addresses and bad prefixes", () => {
    for (
      const text of [
        "192.0.2.0/33",
        "2001:db8::/129",
        "192.0.2.0/",
        "192.0.2.0/-1",
        "192.0.2.0/24/8",
        "192.0.2.0/2x",
        "192.0.2.0/ 24",
        "192.0.2/24",
        "example.org/24",
        "/24",
        "",
      ]
    ) {
      assert.equal(parseCidr(text), undefined, JSON.stringify(text));
    }
  });
});

describe("cidrContains", () => {
  const contains = (cidr: string, address: string) => cidrContains(parseCidr(cidr)!, ip(address));

  it("is true exactly for addresses inside the network", () => {
    assert.equal(contains("192.0.2.0/24", "192.0.2.0"), true);
    assert.equal(contains("192.0.2.0/24", "192.0.2.255"), true);
    assert.equal(contains("192.0.2.0/24", "192.0.3.0"), false);
    assert.equal(contains("192.0.2.0/24", "192.0.1.255"), false);
    assert.equal(contains("198.51.96.0/20", "198.51.111.1"), true);
    assert.equal(contains("198.51.96.0/20", "198.51.112.1"), false);
    assert.equal(contains("192.0.2.7", "192.0.2.7"), true);
    assert.equal(contains("192.0.2.7", "192.0.2.8"), false);
  });

  it("works for IPv6", () => {
    assert.equal(contains("2001:db8::/32", "2001:db8:ffff::1"), true);
    assert.equal(contains("2001:db8::/32", "2001:db9::1"), false);
    assert.equal(contains("2001:db8:1:2::/64", "2001:db8:1:2:a:b:c:d"), true);
    assert.equal(contains("2001:db8:1:2::/64", "2001:db8:1:3::"), false);
  });

  it("never matches across versions, except for IPv4-mapped addresses, which are IPv4", () => {
    assert.equal(contains("0.0.0.0/0", "::1"), false);
    assert.equal(contains("::/0", "192.0.2.1"), false);
    assert.equal(contains("192.0.2.0/24", "::ffff:192.0.2.9"), true);
  });

  it("/0 contains every address of its version", () => {
    assert.equal(contains("0.0.0.0/0", "203.0.113.9"), true);
    assert.equal(contains("::/0", "2001:db8::1"), true);
  });
});
