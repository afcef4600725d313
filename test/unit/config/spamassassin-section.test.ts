// [spamassassin] in the config: defaults, addresses (TCP or Unix socket), sizes, the user, and errors that
// name file and line.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../../src/config/load.ts";
import { parseSpamdAddress } from "../../../src/config/spamassassin-values.ts";
import { parseByteSize } from "../../../src/config/values.ts";

function load(text: string) {
  const result = parseConfig(text, "/etc/mailpolicyd/test.conf", "/etc/mailpolicyd");
  if (!result.ok) throw new Error(result.errors.join("\n"));
  return result.config;
}

function errors(text: string): string[] {
  const result = parseConfig(text, "test.conf", "/tmp");
  assert.equal(result.ok, false, "accepted");
  return result.ok ? [] : result.errors;
}

describe("[spamassassin]", () => {
  it("absent: no SpamAssassin concern, but its concern settings exist", () => {
    const config = load("[daemon]\nfail_mode = closed\n");
    assert.equal(config.spamassassin, undefined);
    assert.deepEqual(config.concerns.spamassassin, { timeoutMs: 20_000, failMode: "closed" });
  });

  it("empty: the defaults", () => {
    const config = load("[spamassassin]\n");
    assert.deepEqual(config.spamassassin, {
      address: { host: "127.0.0.1", port: 783 },
      user: "",
      command: "report",
      maxInFlight: 4,
      maxQueue: 32,
      maxSize: 512_000,
      breakerFailures: 5,
      breakerResetMs: 30_000,
    });
    assert.deepEqual(config.concerns.spamassassin, { timeoutMs: 20_000, failMode: "open" });
  });

  it("every key", () => {
    const config = load(
      "[spamassassin]\ntimeout = 5s\nfail_mode = closed\naddress = spamd.sock/x\nuser = Debian-exim\n" +
        "command = CHECK\nmax_in_flight = 2\nmax_queue = 0\nmax_size = 1m\nbreaker_failures = 3\nbreaker_reset = 1m\n",
    );
    assert.deepEqual(config.spamassassin, {
      address: { path: "/etc/mailpolicyd/spamd.sock/x" },
      user: "Debian-exim",
      command: "check",
      maxInFlight: 2,
      maxQueue: 0,
      maxSize: 1024 * 1024,
      breakerFailures: 3,
      breakerResetMs: 60_000,
    });
    assert.deepEqual(config.concerns.spamassassin, { timeoutMs: 5000, failMode: "closed" });
  });

  it("bad values: one error each, with file and line", () => {
    const found = errors(
      "[spamassassin]\naddress = 127.0.0.1:99999\nuser = two words\ncommand = process\nmax_size = 12q\nmax_in_flight = 0\n",
    );
    assert.deepEqual(found, [
      "test.conf:2: spamassassin.address: port must be 1-65535",
      "test.conf:3: spamassassin.user: expected a user name (A-Z a-z 0-9 _ . @ + -) or nothing",
      "test.conf:4: spamassassin.command: expected one of: check, symbols, report",
      "test.conf:5: spamassassin.max_size: expected a size such as 512000, 500k or 10M",
      "test.conf:6: spamassassin.max_in_flight: must be at least 1",
    ]);
  });

  it("the spamd front's own listen or socket: refused, the daemon would ask itself", () => {
    const problem = (what: string) =>
      `spamassassin.address: the spamd front's own [spamd] ${what}: the daemon would ask itself and no ` +
      "message be scored by SpamAssassin; give the address of SpamAssassin's spamd";
    // The front on spamd's usual port, [spamassassin] left at its default address.
    assert.deepEqual(errors("[spamd]\nlisten = 127.0.0.1:783\n[spamassassin]\n"), [
      `test.conf:3: ${problem("listen")} (the default is 127.0.0.1:783)`,
    ]);
    assert.deepEqual(
      errors("[spamd]\nlisten = 127.0.0.1:10783\n[spamassassin]\naddress = localhost:10783\n"),
      [
        `test.conf:4: ${problem("listen")}`,
      ],
    );
    assert.deepEqual(errors("[spamd]\nlisten = [::1]:10783\n[spamassassin]\naddress = [::1]:10783\n"), [
      `test.conf:4: ${problem("listen")}`,
    ]);
    assert.deepEqual(
      errors(
        "[spamd]\nlisten = none\nsocket = /tmp/run/front.sock\n[spamassassin]\naddress = ./run/front.sock\n",
      ),
      [`test.conf:5: ${problem("socket")}`],
    );
    // Another address, another port, or the front on any free port: SpamAssassin's spamd may be there.
    load("[spamd]\nlisten = 127.0.0.1:783\n[spamassassin]\naddress = 127.0.0.2:783\n");
    load("[spamd]\nlisten = 127.0.0.1:10783\n[spamassassin]\naddress = /run/spamd.sock\n");
    load(
      "[spamd]\nlisten = 127.0.0.1:0\nsocket = /run/front.sock\n[spamassassin]\naddress = 127.0.0.1:783\n",
    );
  });
});

describe("spamd addresses and sizes", () => {
  it("host:port, a host alone (783), IPv6 in brackets, a socket path", () => {
    assert.deepEqual(parseSpamdAddress("127.0.0.1:10783"), { host: "127.0.0.1", port: 10783 });
    assert.deepEqual(parseSpamdAddress("spamd.example.org"), { host: "spamd.example.org", port: 783 });
    assert.deepEqual(parseSpamdAddress("[::1]:783"), { host: "::1", port: 783 });
    assert.deepEqual(parseSpamdAddress("/run/spamd.sock"), { path: "/run/spamd.sock" });
    assert.equal(typeof parseSpamdAddress("not an address"), "string");
    assert.equal(typeof parseSpamdAddress(""), "string");
  });

  it("bytes, k and m (1024), within bounds", () => {
    assert.equal(parseByteSize("512000"), 512_000);
    assert.equal(parseByteSize("500k"), 512_000);
    assert.equal(parseByteSize("2M"), 2 * 1024 * 1024);
    assert.equal(parseByteSize("1.5m"), undefined);
  });
});
