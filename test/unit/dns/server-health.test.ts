// Whether the DNS servers answer (dns/server-health.ts): not answering once lookups of five domains failed
// in a row, never for one domain's names however many, answering again at the next answered lookup.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type DnsServerHealth,
  DnsServerWatch,
  domainOf,
  DOMAINS_BEFORE_DOWN,
} from "../../../src/dns/server-health.ts";

function watched() {
  let now = 1_000_000;
  const changes: [DnsServerHealth, DnsServerHealth][] = [];
  const watch = new DnsServerWatch(() => now, (health, was) => changes.push([health, was]));
  return { watch, changes, advance: (ms: number) => now += ms, now: () => now };
}

describe("DNS server health", () => {
  it("counts a name for its last two labels: one domain's names once", () => {
    assert.equal(domainOf("_spf.Mail.Example.ORG."), "example.org");
    assert.equal(domainOf("example.org"), "example.org");
    assert.equal(domainOf("7.2.0.192.in-addr.arpa"), "in-addr.arpa");
    assert.equal(domainOf("localhost"), "localhost");
  });

  it("one domain whose names all fail never makes the servers not answering", () => {
    const { watch, changes } = watched();
    for (let n = 0; n < 50; n++) watch.failed(`host${n}.broken.example`, "ESERVFAIL");
    for (let n = 0; n < 50; n++) watch.failed(`${n}.2.0.192.in-addr.arpa`, "ETIMEOUT");
    assert.equal(watch.health().state, "answering");
    assert.deepEqual(changes, []);
  });

  it("five domains failing in a row: not answering since the first; the next answer ends it", () => {
    const { watch, changes, advance, now } = watched();
    const first = now();
    for (let n = 1; n < DOMAINS_BEFORE_DOWN; n++) {
      watch.failed(`d${n}.example`, "ETIMEOUT");
      watch.failed(`mx.d${n}.example`, "ETIMEOUT");
      advance(500);
    }
    assert.equal(watch.health().state, "answering", "four domains");
    watch.failed("d5.example", "ESERVFAIL");
    assert.deepEqual(watch.health(), {
      state: "not answering",
      since: first,
      lastError: "ESERVFAIL",
      failedLookups: 9,
      incidents: 1,
    });
    assert.equal(changes.length, 1);
    watch.failed("d5.example", "ETIMEOUT");
    assert.deepEqual([watch.health().failedLookups, watch.health().lastError], [10, "ETIMEOUT"]);
    watch.answered();
    assert.deepEqual(watch.health(), { state: "answering", failedLookups: 0, incidents: 1 });
    assert.equal(changes.length, 2);
    assert.equal(changes[1][1].failedLookups, 10, "the change says what the incident cost");
  });

  it("an answer between failures starts the count again", () => {
    const { watch } = watched();
    for (let n = 1; n <= 20; n++) {
      watch.failed(`d${n}.example`, "ETIMEOUT");
      if (n % (DOMAINS_BEFORE_DOWN - 1) === 0) watch.answered();
    }
    assert.equal(watch.health().state, "answering");
  });
});
