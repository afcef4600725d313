// `mailpolicyd spf IP SENDER [HELO]` against Debian's nsd: the result, the mechanism, the explanation, the
// answer [spf] gives it, and a trace of every DNS query; its exit statuses.
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { Nsd } from "../helpers/nsd.ts";
import { runMain } from "../helpers/runtime.ts";
import { startSpfNsd } from "../helpers/spf-zone.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

// A sender's domain is anyone's: its owner writes the TXT records the trace prints. ESC ] 0 ; … BEL retitles
// a terminal, ESC [ 2 J clears it.
const EVIL_ZONE = `$ORIGIN evil.test.
$TTL 300
@    IN SOA ns.evil.test. hostmaster.evil.test. 1 3600 600 86400 30
@    NS   ns
ns   A    127.0.0.1
esc  TXT  "v=spf1 \\027]0;owned\\007\\027[2J -all"
`;
// C0 controls but tab and newline, DEL, and the C1 controls (0x9b is a CSI on many terminals).
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

describe("mailpolicyd spf", () => {
  let dir: TempDir;
  let nsd: Nsd;
  let config: string;
  before(async () => {
    dir = makeTempDir();
    nsd = await startSpfNsd({ "evil.test": EVIL_ZONE });
    config = dir.file("m.conf");
    writeFileSync(
      config,
      `[spf]\ndns_servers = 127.0.0.1:${nsd.port}\ndns_timeout = 300ms\nsoftfail = warn\n`,
    );
  });
  after(async () => {
    await nsd?.stop();
    dir?.remove();
  });

  it("pass through two includes: exit 0, the mechanism, the header and every query", () => {
    const run = runMain(["spf", "198.51.100.7", "alice@pass.spf.test", "mail.spf.test", "--config", config]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^result: +pass$/m);
    assert.match(run.stdout, /^identity: +mailfrom \(pass.spf.test\)$/m);
    assert.match(run.stdout, /^mechanism: +include:two.spf.test$/m);
    assert.match(run.stdout, /^answer: +accept \(\[spf\] pass = accept\)$/m);
    assert.match(run.stdout, /^header: +Received-SPF: pass /m);
    assert.match(run.stdout, /holds for 300 s$/m);
    const trace = run.stdout.slice(run.stdout.indexOf("trace:"));
    assert.deepEqual(
      [...trace.matchAll(/^ {2}dns (\S+ \S+)/gm)].map((match) => match[1]),
      ["TXT pass.spf.test", "TXT one.spf.test", "TXT two.spf.test"],
    );
    assert.match(trace, /^ {2}match two.spf.test: ip4:198.51.100.0\/24 → pass$/m);
  });

  it("fail with exp=: exit 1, the explanation and the reject answer", () => {
    const run = runMain(["spf", "203.0.113.5", "m@fail.spf.test", "--config", config]);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stdout, /^explanation: 203.0.113.5 may not send mail for fail.spf.test/m);
    assert.match(run.stdout, /^answer: +reject "203.0.113.5 may not send mail/m);
    const soft = runMain(["spf", "203.0.113.5", "m@soft.spf.test", "--config", config]);
    assert.match(soft.stdout, /^answer: +warn "SPF softfail: .*\(\[spf\] softfail = warn\)$/m);
  });

  it("a record's terminal escapes are printed written out, not obeyed (the domain's owner wrote them)", () => {
    const run = runMain(["spf", "192.0.2.1", "a@esc.evil.test", "--config", config]);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stdout, /^result: +permerror$/m);
    assert.doesNotMatch(run.stdout, CONTROL);
    assert.match(run.stdout, /^ {2}record esc\.evil\.test: v=spf1 \\x1b\]0;owned\\x07\\x1b\[2J -all$/m);
  });

  it("exit 2 for temperror (a server that does not answer), 64 for bad arguments, 78 for a bad config", async () => {
    const dead = dir.file("dead.conf");
    writeFileSync(dead, `[spf]\ndns_servers = 127.0.0.1:9\ndns_timeout = 100ms\ndns_tries = 1\n`);
    const run = runMain(["spf", "192.0.2.1", "a@pass.spf.test", "--config", dead]);
    assert.equal(run.status, 2, run.stdout + run.stderr);
    assert.match(run.stdout, /^result: +temperror$/m);
    const notAnIp = runMain(["spf", "not-an-ip", "a@b.example"]);
    assert.equal(notAnIp.status, 64);
    assert.equal(
      notAnIp.stderr,
      `mailpolicyd spf: "not-an-ip" is not an IP address: give IP SENDER [HELO] (SENDER '' for the null sender)\n`,
    );
    // The two swapped, as a postmaster types them from a log line's "F=<a@b.example> [192.0.2.1]".
    assert.match(runMain(["spf", "a@b.example", "192.0.2.1"]).stderr, /"a@b\.example" is not an IP address/);
    // inet_aton, ping and many tools read "010" as octal 8, the parser as decimal 10: not guessed at, and
    // not printed as typed in client-ip=.
    for (const ip of ["01.2.3.4", "192.0.2.010", "::ffff:192.0.02.1"]) {
      const leadingZero = runMain(["spf", ip, "a@pass.spf.test", "--config", config]);
      assert.equal(leadingZero.status, 64, leadingZero.stdout);
      assert.equal(leadingZero.stdout, "");
      assert.match(
        leadingZero.stderr,
        new RegExp(`^mailpolicyd spf: "${ip}" is not an IP address \\(a part with a leading zero`),
      );
    }
    // A server that takes each query and never answers: the check ends at the daemon's budget, 9/10 of
    // [spf] timeout (180 ms here), as the daemon's would, not after the DNS client's 2 tries of 3 s.
    const silent = createSocket("udp4").bind(0, "127.0.0.1");
    await once(silent, "listening");
    try {
      const slow = dir.file("slow.conf");
      writeFileSync(
        slow,
        `[spf]\ndns_servers = 127.0.0.1:${silent.address().port}\ndns_timeout = 3s\ndns_tries = 2\ntimeout = 200ms\n`,
      );
      const began = performance.now();
      const timed = runMain(["spf", "192.0.2.1", "a@pass.spf.test", "--config", slow]);
      assert.equal(timed.status, 2, timed.stdout + timed.stderr);
      const ms = performance.now() - began;
      assert.ok(ms < 4_000, `the check took ${ms.toFixed(0)} ms, not the daemon's budget`);
    } finally {
      silent.close();
    }
    const bad = dir.file("bad.conf");
    writeFileSync(bad, "[spf]\nfail = bounce\n");
    const invalid = runMain(["spf", "192.0.2.1", "a@b.example", "--config", bad]);
    assert.equal(invalid.status, 78);
    assert.match(invalid.stderr, /spf.fail: expected one of/);
  });
});
