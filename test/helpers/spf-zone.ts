// An SPF test zone for Debian's nsd (test/helpers/nsd.ts), and a UDP relay in front of it that can stop
// answering: the SPF concern's integration tests (daemon, Exim, bench) share them.
import { Buffer } from "node:buffer";
import { createSocket, type Socket } from "node:dgram";
import { decode, encode, RECURSION_AVAILABLE, RECURSION_DESIRED } from "dns-packet";
import { connect, createServer, type Server, type Socket as NetSocket } from "node:net";
import { CachingResolver } from "../../src/dns/resolver.ts";
import { codeOf } from "./error-code.ts";
import { type Nsd, startNsd } from "./nsd.ts";

// Over 1232 bytes (the EDNS0 size the client offers): the answer comes truncated over UDP, then by TCP.
const networks = Array.from({ length: 120 }, (_, i) => `ip4:10.${i}.0.0/16`).join(" ");
const BIG_RECORD = `v=spf1 ${networks} ip4:203.0.113.0/24 -all`;
const quoted = (text: string) => text.match(/.{1,250}/g)!.map((part) => `"${part}"`).join(" ");

export const SPF_ZONE = `$ORIGIN spf.test.
$TTL 300
@          IN SOA ns.spf.test. hostmaster.spf.test. 1 3600 600 86400 30
@          NS   ns
ns         A    127.0.0.1
pass       TXT  "v=spf1 include:one.spf.test include:two.spf.test -all"
one        TXT  "v=spf1 ip4:192.0.2.0/25 -all"
two        TXT  "v=spf1 ip4:127.0.0.1 ip4:198.51.100.0/24 ip6:2001:db8:1::/48 -all"
redir      TXT  "v=spf1 redirect=pass.spf.test"
fail       TXT  "v=spf1 ip4:192.0.2.0/25 -all exp=why.fail.spf.test"
why.fail   TXT  "%{i} may not send mail for %{d}, see https://spf.test/why"
plainfail  TXT  "v=spf1 -all"
codefail   TXT  "v=spf1 -all exp=why.codefail.spf.test"
why.codefail TXT "421 4.7.0 %{d} is closing"
soft       TXT  "v=spf1 ~all"
v6         TXT  "v=spf1 a:v4only.spf.test mx -all"
v6         MX   10 mx6.spf.test.
mx6        AAAA 2001:db8:6::25
v4only     A    192.0.2.77
void       TXT  "v=spf1 a:n1.spf.test a:n2.spf.test a:n3.spf.test ip4:192.0.2.1 -all"
big        TXT  ${quoted(BIG_RECORD)}
slashes    TXT  "v=spf1 ${"\\\\".repeat(150)} -all"
client     A    127.0.0.1
client     TXT  "v=spf1 a -all"
`;

/** nsd serving SPF_ZONE, and `zones` besides (a zone nsd cannot load it answers SERVFAIL). */
export async function startSpfNsd(zones: Record<string, string> = {}): Promise<Nsd> {
  return await startNsd({ "spf.test": SPF_ZONE, ...zones }, async (port) => {
    const probe = new CachingResolver({ servers: [`127.0.0.1:${port}`], timeoutMs: 200, tries: 1 });
    return (await codeOf(probe.resolve4("ns.spf.test"))) === "no error";
  });
}

/**
 * A relay to `target` on one port, UDP and TCP; while `down` it drops every query, as a server that never
 * answers; while `servfail` it answers every UDP query SERVFAIL itself, as a recursive resolver that lost
 * its upstream does; `delayMs` holds each UDP query that long first, as a slow resolver does.
 */
export interface DnsRelay {
  port: number;
  down: boolean;
  servfail: boolean;
  delayMs: number;
  dropped: number;
  close(): void;
}

/**
 * A UDP socket and a TCP server on one free port. The UDP port is the kernel's pick; TCP on the same number
 * may be taken (seen in CI: the listen never completed and the suite hung), so a failed or slow listen
 * closes both and tries another port.
 */
async function bindPair(onConnection: (client: NetSocket) => void): Promise<{ udp: Socket; tcp: Server }> {
  for (let attempt = 1;; attempt++) {
    const udp: Socket = createSocket("udp4");
    const port = await new Promise<number>((done) =>
      udp.bind(0, "127.0.0.1", () => done(udp.address().port))
    );
    const tcp = createServer(onConnection);
    const listening = await new Promise<boolean>((done) => {
      const timer = setTimeout(() => done(false), 2000);
      tcp.once("error", () => (clearTimeout(timer), done(false)));
      tcp.listen(port, "127.0.0.1", () => (clearTimeout(timer), done(true)));
    });
    if (listening) return { udp, tcp };
    udp.close();
    tcp.close();
    if (attempt === 10) throw new Error("no port free for both UDP and TCP after 10 tries");
  }
}

const SERVFAIL = 2;

/** A SERVFAIL reply to `query`: its id and question, recursion available, nothing else. */
function servfailTo(query: Buffer): Buffer {
  const asked = decode(query);
  return encode({
    id: asked.id,
    type: "response",
    flags: RECURSION_DESIRED | RECURSION_AVAILABLE | SERVFAIL,
    questions: asked.questions,
  });
}

export async function startDnsRelay(target: number): Promise<DnsRelay> {
  const { udp, tcp } = await bindPair((client) => {
    if (relay.down) {
      relay.dropped++;
      client.on("error", () => {});
      return; // held open, never answered: the client's timeout ends it
    }
    const upstream = connect(target, "127.0.0.1");
    client.pipe(upstream).pipe(client);
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  const relay: DnsRelay = {
    port: udp.address().port,
    down: false,
    servfail: false,
    delayMs: 0,
    dropped: 0,
    close() {
      udp.close();
      tcp.close();
    },
  };
  udp.on("message", (query, from) => {
    if (relay.down) return void relay.dropped++;
    if (relay.servfail) return void udp.send(servfailTo(query), from.port, from.address);
    const upstream = createSocket("udp4");
    let open = true;
    const close = () => open && (open = false, upstream.close());
    upstream.on("message", (answer) => {
      udp.send(answer, from.port, from.address);
      close();
    });
    const send = () => upstream.send(query, target, "127.0.0.1");
    if (relay.delayMs > 0) setTimeout(send, relay.delayMs);
    else send();
    setTimeout(close, 2000 + relay.delayMs);
  });
  return relay;
}

/**
 * A daemon config for the SPF tests: sockets in the test's directory, one generous limit (its concern
 * answers within 300 ms either way), and [spf] asking `dnsPort` with short DNS timeouts, exempting only
 * authenticated clients (the tests' clients are loopback), HELO unchecked.
 */
export function spfDaemonConfigText(dnsPort: number, policyListen = "none"): string {
  return `[daemon]\npolicy_socket = policy.sock\ncontrol_socket = control.sock\npidfile = d.pid\n` +
    `state_file = state.json\npolicy_listen = ${policyListen}\n` +
    `[limits]\ntimeout = 300ms\n[limit out]\ncount = 1000\ntime = 1h\n` +
    `[spf]\ntimeout = 1s\ndns_servers = 127.0.0.1:${dnsPort}\ndns_timeout = 200ms\ndns_tries = 2\n` +
    `exempt = authenticated\nhelo_check = off\n`;
}
