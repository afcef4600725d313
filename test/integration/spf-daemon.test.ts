// The SPF concern in a running daemon, against a real DNS server (Debian's nsd, behind a relay that can
// stop answering), asked over the policy socket as Exim asks: the answer per result, the Received-SPF
// header, include/redirect chains, IPv6 clients with a/mx, the void-lookup limit, a TXT answer over TCP,
// DNS that never answers (temperror within the timeout, then recovery), and /metrics.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Daemon } from "../../src/daemon.ts";
import { httpGet } from "../helpers/http-get.ts";
import { type SpfDaemon, startSpfDaemon } from "../helpers/spf-daemon.ts";
import { type DnsRelay, spfDaemonConfigText } from "../helpers/spf-zone.ts";
import type { TempDir } from "../helpers/temp-dir.ts";
import { runMainAsync } from "../helpers/runtime.ts";
import { writeFileSync } from "node:fs";

describe("the SPF concern in the daemon, against nsd", () => {
  let spf: SpfDaemon;
  let dir: TempDir;
  let relay: DnsRelay;
  let daemon: Daemon;
  let lines: string[];
  const ask = (ip: string, sender: string, helo?: string) => spf.ask(ip, sender, helo);
  /** The reply's header= value, unquoted. */
  const header = (reply: string) =>
    (/ header="((?:[^"\\]|\\.)*)"/.exec(reply)?.[1] ?? "").replace(/\\(.)/g, (_, c) => c === "n" ? "\n" : c);

  before(async () => {
    spf = await startSpfDaemon();
    ({ dir, relay, daemon, lines } = spf);
  });
  after(() => spf?.stop());

  it("pass through two includes: accept with Received-SPF: pass", async () => {
    const reply = await ask("198.51.100.7", "alice@pass.spf.test");
    assert.match(reply, /^action=accept /);
    assert.match(
      header(reply),
      /^Received-SPF: pass \(.*: domain of alice@pass.spf.test designates 198.51.100.7 as permitted sender\) client-ip=198.51.100.7; envelope-from="alice@pass.spf.test"; helo=mail.spf.test; .*identity=mailfrom; mechanism="include:two.spf.test";$/,
    );
  });

  it("`mailpolicyd check` prints the daemon's reply, then the SPF check again with its DNS trace", async () => {
    const config = dir.file("check.conf");
    writeFileSync(config, spfDaemonConfigText(relay.port));
    const run = await runMainAsync([
      "check",
      "rcpt",
      "sender=dave@pass.spf.test",
      "recipient=user@example.net",
      "client_address=198.51.100.7",
      "helo_name=mail.spf.test",
      "--config",
      config,
    ]);
    assert.equal(run.status, 0, run.stderr);
    const [reply, trace] = run.stdout.split("\nSPF, checked again now");
    assert.match(reply, /^action=accept header="Received-SPF: pass /);
    assert.match(trace, /^mechanism: +include:two.spf.test$/m);
    assert.match(
      trace,
      /^ {2}dns TXT pass.spf.test → "v=spf1 include:one.spf.test include:two.spf.test -all"$/m,
    );
    assert.match(trace, /^ {2}match pass.spf.test: include:two.spf.test → pass$/m);
    const plain = await runMainAsync(["check", "dave@pass.spf.test", "--config", config]);
    assert.doesNotMatch(plain.stdout, /SPF, checked again/, "the one-token form asks no SPF");
    const local = await runMainAsync(["check", "rcpt", "sender=dave@pass.spf.test", "--config", config]);
    assert.doesNotMatch(local.stdout, /SPF, checked again/, "no client address: exempt, no SPF");
    // Sent on, "01.2.3.4" was decided as 1.2.3.4 (inet_aton reads octal) and the trace printed `mailpolicyd
    // spf`'s usage error: refused before asking, as `spf` refuses it.
    const octal = await runMainAsync([
      "check",
      "rcpt",
      "sender=dave@pass.spf.test",
      "client_address=01.2.3.4",
      "--config",
      config,
    ]);
    assert.equal(octal.status, 64, octal.stdout + octal.stderr);
    assert.equal(octal.stdout, "");
    assert.match(
      octal.stderr,
      /^mailpolicyd: check: client_address "01\.2\.3\.4" is not an IP address \(a part with a leading zero: decimal or octal\?\)\n/,
    );
  });

  it("a second sender of the domain from the same client: the result cache answers", async () => {
    const hits = daemon.metrics.spfStats!().results.hits;
    assert.match(
      header(await ask("198.51.100.7", "carol@pass.spf.test")),
      /^Received-SPF: pass .*carol@pass/,
    );
    assert.equal(daemon.metrics.spfStats!().results.hits, hits + 1);
  });

  it("redirect= to the same record, and an IPv6 client passing by the include's ip6", async () => {
    assert.match(header(await ask("192.0.2.10", "bob@redir.spf.test")), /^Received-SPF: pass /);
    assert.match(header(await ask("2001:db8:1::9", "bob@pass.spf.test")), /^Received-SPF: pass /);
  });

  it("fail with exp=: reject with the expanded explanation; without exp=: the default text", async () => {
    const reply = await ask("203.0.113.5", "mallory@fail.spf.test");
    assert.match(
      reply,
      /^action=reject message="203.0.113.5 may not send mail for fail.spf.test, see https:\/\/spf.test\/why" spf=fail /,
    );
    assert.match(header(reply), /^Received-SPF: fail /);
    const plain = await ask("203.0.113.5", "mallory@plainfail.spf.test");
    assert.match(
      plain,
      /message="SPF fail: plainfail.spf.test does not designate 203.0.113.5 as permitted sender"/,
    );
    assert.ok(lines.some((line) => / info policy: reject .*spf=fail .*domain=fail.spf.test/.test(line)));
  });

  it("softfail: accepted (the default), with Received-SPF: softfail", async () => {
    const reply = await ask("203.0.113.5", "x@soft.spf.test");
    assert.match(reply, /^action=accept /);
    assert.match(header(reply), /^Received-SPF: softfail \(.*transitioning domain of x@soft.spf.test/);
  });

  it("IPv6 client and a/mx: mx matches by AAAA; the A-only name is not a void lookup", async () => {
    assert.match(header(await ask("2001:db8:6::25", "a@v6.spf.test")), /^Received-SPF: pass .*mechanism=mx;/);
    assert.match(header(await ask("192.0.2.77", "a@v6.spf.test")), /mechanism="a:v4only.spf.test";/);
    const other = await ask("2001:db8:7::1", "a@v6.spf.test");
    assert.match(other, /^action=reject /, "-all, not permerror: AAAA NODATA is not void");
  });

  it("three NXDOMAIN names: the void-lookup limit gives permerror (accepted by default)", async () => {
    const reply = await ask("192.0.2.1", "a@void.spf.test");
    assert.match(reply, /^action=accept /);
    assert.match(header(reply), /^Received-SPF: permerror .*problem="[^"]*void[^"]*";$/);
  });

  it("a TXT answer over 1232 bytes comes by TCP", async () => {
    const before = daemon.metrics.spfStats!().dns.tcpQueries;
    assert.match(header(await ask("203.0.113.9", "a@big.spf.test")), /^Received-SPF: pass /);
    assert.match(await ask("192.0.2.200", "a@big.spf.test"), /^action=reject /);
    assert.equal(
      daemon.metrics.spfStats!().dns.tcpQueries,
      before + 1,
      "the second check's TXT came from the DNS cache",
    );
  });

  it("DNS that never answers: the temperror action (defer) within the timeout, then recovery", async () => {
    relay.down = true;
    const started = Date.now();
    const reply = await ask("127.0.0.1", "a@client.spf.test");
    const took = Date.now() - started;
    assert.match(
      reply,
      /^action=defer message="SPF temporary error for client.spf.test, try again later" spf=temperror/,
    );
    assert.ok(took < 1000, `${took} ms: within [spf] timeout = 1s`);
    assert.ok(relay.dropped >= 2);
    relay.down = false;
    const again = await ask("127.0.0.1", "a@client.spf.test");
    assert.match(
      header(again),
      /^Received-SPF: pass .*mechanism=a;$/,
      "a temperror is not cached: checked again",
    );
  });

  it("/metrics: SPF results, DNS queries, cache hits and timeouts", async () => {
    const response = await httpGet({ socketPath: dir.file("control.sock"), path: "/metrics" });
    assert.equal(response.status, 200);
    assert.match(response.body, /^mailpolicyd_spf_results_total\{result="pass"\} [1-9]/m);
    assert.match(response.body, /^mailpolicyd_spf_results_total\{result="fail"\} [1-9]/m);
    assert.match(response.body, /^mailpolicyd_spf_results_total\{result="temperror"\} 1$/m);
    assert.match(response.body, /^mailpolicyd_dns_queries_total\{transport="tcp"\} 1$/m);
    assert.match(response.body, /^mailpolicyd_dns_timeouts_total [2-9]/m);
    assert.match(response.body, /^mailpolicyd_spf_result_cache_total\{outcome="hit"\} [1-9]/m);
    assert.match(response.body, /^mailpolicyd_concern_answers_total\{concern="spf"\} [1-9]/m);
  });
});
