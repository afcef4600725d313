// SPF's DNS servers that stop answering, in a running daemon against a real DNS server (Debian's nsd, behind
// a relay that can drop every query or answer SERVFAIL to all): every check ends in temperror, which the
// concern answers itself, so the engine saw nothing wrong and `status`, /health and the dashboard said all
// was well while mail was deferred. Now they say "DNS not answering since …" once lookups of five domains
// failed in a row, and no longer at the next answered lookup; one domain whose own DNS is broken (a zone
// nsd answers SERVFAIL for) never says it, however many of its names fail.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import type { Nsd } from "../helpers/nsd.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { httpGet } from "../helpers/http-get.ts";
import { runMainAsync } from "../helpers/runtime.ts";
import { type SpfDaemon, startSpfDaemon } from "../helpers/spf-daemon.ts";
import { type DnsRelay, spfDaemonConfigText, startDnsRelay, startSpfNsd } from "../helpers/spf-zone.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const TEMPERROR = /^action=defer message="SPF temporary error for [^"]+, try again later" spf=temperror/;

describe("SPF's DNS servers not answering, against nsd", () => {
  let spf: SpfDaemon;
  let dir: TempDir;
  let relay: DnsRelay;
  let daemon: Daemon;
  let lines: string[];
  const ask = (sender: string, ip = "192.0.2.10") => spf.ask(ip, sender);
  const control = (path: string) => httpGet({ socketPath: dir.file("control.sock"), path });
  const status = async () => {
    const run = await runMainAsync(["status", "--socket", dir.file("control.sock")]);
    assert.equal(run.status, 0, run.stderr);
    return run.stdout;
  };
  const metric = async (name: string) => {
    const body = (await control("/metrics")).body;
    return new RegExp(`^mailpolicyd_${name} (\\d+)$`, "m").exec(body)?.[1];
  };

  // broken.test: configured but not loadable, so nsd answers SERVFAIL for every name in it, as a recursive
  // resolver does for a domain whose delegation is lame.
  before(async () => {
    spf = await startSpfDaemon({ "broken.test": "not a zone file\n" });
    ({ dir, relay, daemon, lines } = spf);
  });
  after(() => spf?.stop());

  it("one domain whose own DNS is broken: temperror for it, and SPF still ok in status", async () => {
    for (let n = 1; n <= 8; n++) assert.match(await ask(`a@host${n}.broken.test`), TEMPERROR);
    assert.equal(daemon.metrics.spfStats!().dns.failures, 8, "eight lookups failed (SERVFAIL)");
    assert.match(await status(), /^concerns: limits ok; spf ok$/m);
    assert.equal((await control("/health")).status, 200);
    assert.equal(await metric("dns_up"), "1");
    assert.match(await ask("a@pass.spf.test", "198.51.100.7"), /^action=accept /, "the others pass");
  });

  it("DNS that stops answering: status, /health, the warnings and /metrics say so; the next answer ends it", async () => {
    relay.down = true;
    for (let n = 1; n <= 4; n++) assert.match(await ask(`a@d${n}.example`), TEMPERROR);
    assert.match(await status(), /^concerns: limits ok; spf ok$/m, "four domains: not yet");
    assert.match(await ask("a@d5.example"), TEMPERROR);
    const said = await status();
    assert.match(
      said,
      /^concerns: limits ok; spf FAILING: DNS not answering since \d{4}-\d\d-\d\d [\d:]{8} \(ETIMEOUT, 5 failed\), answering temperror$/m,
    );
    const health = await control("/health");
    assert.equal(health.status, 503);
    const { concerns } = JSON.parse(health.body);
    assert.equal(concerns.spf.state, "failing");
    assert.equal(concerns.spf.impaired.what, "DNS");
    assert.equal(concerns.spf.impaired.lastError, "ETIMEOUT");
    assert.equal(concerns.spf.reason, undefined, "no request was answered by fail_mode");
    const warnings: string[] = JSON.parse((await control("/status")).body).warnings;
    assert.deepEqual(warnings, [said.split("\n").find((line) => line.startsWith("concerns: "))!.replace(
      "limits ok; ",
      "",
    )]);
    assert.equal(await metric("dns_up"), "0");
    assert.equal(await metric('concern_up{concern="spf"}'), "0");
    assert.equal(lines.filter((line) => / warn spf: DNS not answering/.test(line)).length, 1, "logged once");
    assert.match(await ask("a@d6.example"), TEMPERROR);
    assert.match(await status(), /\(ETIMEOUT, 6 failed\)/);

    relay.down = false;
    assert.match(await ask("a@soft.spf.test"), /^action=accept header="Received-SPF: softfail /);
    assert.match(await status(), /^concerns: limits ok; spf ok$/m);
    assert.equal((await control("/health")).status, 200);
    assert.equal(await metric("dns_up"), "1");
    assert.equal(await metric("dns_down_incidents_total"), "1");
    assert.ok(
      lines.some((line) => / info spf: DNS answers again .*failed_lookups=6/.test(line)),
      lines.join("\n"),
    );
  });

  it("a resolver that answers SERVFAIL to everything is not answering either", async () => {
    relay.servfail = true;
    for (let n = 1; n <= 5; n++) assert.match(await ask(`a@s${n}.example`), TEMPERROR);
    assert.match(await status(), /spf FAILING: DNS not answering since .* \(ESERVFAIL, 5 failed\)/);
    relay.servfail = false;
    assert.match(await ask("a@plainfail.spf.test"), /^action=reject /);
    assert.match(await status(), /^concerns: limits ok; spf ok$/m);
  });
});

describe("SPF's first DNS server dead, the second nsd", () => {
  let dir: TempDir;
  let nsd: Nsd | undefined;
  let dead: DnsRelay | undefined;
  let alive: DnsRelay | undefined;
  let daemon: Daemon | undefined;
  const lines: string[] = [];

  before(async () => {
    dir = makeTempDir();
    nsd = await startSpfNsd();
    dead = await startDnsRelay(nsd.port);
    dead.down = true;
    alive = await startDnsRelay(nsd.port);
    const text = spfDaemonConfigText(alive.port).replace(
      `dns_servers = 127.0.0.1:${alive.port}`,
      `dns_servers = 127.0.0.1:${dead.port}, 127.0.0.1:${alive.port}`,
    );
    const parsed = parseConfig(text, "test.conf", dir.path);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    daemon = startDaemon({ config: parsed.config, log: createLogger("info", (line) => lines.push(line)) });
    await waitFor(() => lines.some((line) => line.includes("policy: listening")), 5000, "listener");
  });
  after(async () => {
    daemon?.stop();
    dead?.close();
    alive?.close();
    await nsd?.stop();
    dir?.remove();
  });

  it("asks the dead one once, says so once, and every check passes through the other", async () => {
    const ask = (ip: string, sender: string) =>
      askPolicy(
        dir.file("policy.sock"),
        `rcpt sender=${sender} recipient=user@example.net client_address=${ip} helo_name=mail.spf.test\n`,
      );
    // pass: three TXT queries (pass, one, two); redir: one more; soft: one. Five queries, one try lost.
    assert.match(await ask("198.51.100.7", "a@pass.spf.test"), /^action=accept header="Received-SPF: pass /);
    assert.match(await ask("198.51.100.7", "a@redir.spf.test"), /^action=accept header="Received-SPF: pass /);
    assert.match(
      await ask("198.51.100.7", "a@soft.spf.test"),
      /^action=accept header="Received-SPF: softfail /,
    );
    assert.equal(dead!.dropped, 1, "the dead server asked once, not once a query");
    const said = lines.filter((line) => / warn spf: DNS server gave no reply/.test(line));
    assert.equal(said.length, 1, lines.join("\n"));
    assert.match(said[0], new RegExp(`server=127\\.0\\.0\\.1:${dead!.port} error=ETIMEOUT`));
    assert.match(await status(dir), /^concerns: limits ok; spf ok$/m, "the servers answer: SPF is ok");
  });
});

async function status(dir: TempDir): Promise<string> {
  const run = await runMainAsync(["status", "--socket", dir.file("control.sock")]);
  assert.equal(run.status, 0, run.stderr);
  return run.stdout;
}
