// The sockets all the listeners hold together stay within their share of the process's open-file limit
// (docs/architecture.md, "Bounds"), also while requests wait for a slow concern, and the DNS queries those
// requests make have their own share: real daemons with a file limit of 200 (64 reserved, 72 for DNS, 64
// for the listeners: src/listeners/descriptor-plan.ts), SPF asking a DNS server that never answers; a lookup
// past DNS's share is refused, and said so in the log and /metrics.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import { after, before, describe, it } from "node:test";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { httpGet } from "../helpers/http-get.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const FILE_LIMIT = 200;
const BUDGET = 64; // the listeners' share (descriptor-plan.ts): 200 less 64 reserved less 72 for DNS
const MAX_CONNECTIONS = 80; // unanswered on each policy socket: none of these is refused

// A client in C as Exim is one (Python's socket module): sends DECIDING requests on the Unix socket and as
// many on TCP, each for its own sender domain (one DNS query each), says "sent", and waits for a line on
// stdin; then connects IDLE times to each socket without a byte, and reads each of those to its end (the
// daemon's timeout reply, or nothing for one it closed at once; "<no answer>" for one not answered within
// WAIT seconds, never accepted). Prints their answers.
const DECIDE_THEN_HOLD = `import json, socket, sys, time
path, host, port, deciding, idle, wait = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
def connect(i):
    if i % 2 == 0:
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        return s
    return socket.create_connection((host, port))
asking = []
for i in range(2 * deciding):
    s = connect(i)
    s.sendall(f"rcpt sender=a@d{i}.example recipient=b@example.net client_address=192.0.2.1 helo_name=mail.example instance=i{i}\\n".encode())
    asking.append(s)
print("sent", flush=True)
sys.stdin.readline()
held = [connect(i) for i in range(2 * idle)]
deadline = time.monotonic() + wait
answers = []
for s in held:
    reply = b""
    try:
        s.settimeout(max(0.1, deadline - time.monotonic()))
        while chunk := s.recv(4096):
            reply += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:  # never accepted: the daemon out of descriptors
        reply = b"<no answer>"
    answers.append(reply.decode())
print(json.dumps(answers), flush=True)`;

interface SilentDnsDaemon {
  daemon: DaemonProcess;
  /** The DNS questions it was asked. */
  asked: Set<string>;
}

// Each check waits for the DNS server as long as the request may wait.
const SPF_WAITING = "timeout = 60s\ndns_timeout = 30s\ndns_tries = 1\nhelo_check = off\ntime_budget = 60s\n";

/**
 * Before the suite's tests, a daemon under a file limit of 200 whose SPF checks ask a DNS server that never
 * answers (with SPF_WAITING, each check waits for it, its request being decided); after them, both gone.
 */
function withSilentDnsDaemon(requestTimeout: string, spf = SPF_WAITING): SilentDnsDaemon {
  const running = { asked: new Set<string>() } as SilentDnsDaemon;
  let dir: TempDir | undefined;
  let silent: dgram.Socket | undefined;
  before(async () => {
    dir = makeTempDir();
    const dns = dgram.createSocket("udp4");
    dns.on("message", (query) => running.asked.add(query.subarray(12).toString("latin1")));
    await new Promise<void>((resolve) => dns.bind(0, "127.0.0.1", resolve));
    silent = dns;
    running.daemon = await startDaemonProcess(
      dir,
      writeTestConfig(
        dir,
        `request_timeout = ${requestTimeout}\nmax_connections = ${MAX_CONNECTIONS}\n` +
          `[spf]\ndns_servers = 127.0.0.1:${dns.address().port}\n${spf}`,
      ),
      [],
      "same",
      FILE_LIMIT,
    );
  });
  after(async () => {
    await running.daemon?.stop("SIGKILL");
    silent?.close();
    dir?.remove();
  });
  return running;
}

/**
 * Runs DECIDE_THEN_HOLD against `daemon` once the DNS server was asked for each request; the idle
 * connections' answers.
 */
async function decideThenHold(
  daemon: DaemonProcess,
  asked: Set<string>,
  deciding: number,
  idle: number,
  waitSeconds: number,
): Promise<string[]> {
  const { hostname, port } = daemon.policyAddress!;
  const client = spawn("python3", [
    "-c",
    DECIDE_THEN_HOLD,
    daemon.policySocket,
    hostname,
    String(port),
    String(deciding),
    String(idle),
    String(waitSeconds),
  ], { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  client.stdout.on("data", (chunk) => stdout += chunk);
  client.stderr.on("data", (chunk) => stderr += chunk);
  const exited = new Promise<number | null>((resolve) => client.on("close", resolve));
  await waitFor(() => stdout.startsWith("sent\n"), 20_000, `the client's requests sent (${stderr})`);
  await waitFor(() => asked.size >= 2 * deciding, 20_000, "a DNS query for each request");
  client.stdin.end("go\n");
  assert.equal(await exited, 0, stderr);
  return JSON.parse(stdout.slice("sent\n".length));
}

describe("the process's socket budget (real daemon process, file limit 200)", () => {
  // On each socket. Each holds a DNS query's UDP socket too, from DNS's share.
  const DECIDING = 8;
  const IDLE = 64; // on each socket: together over the budget less those being decided
  const running = withSilentDnsDaemon("5s");

  it("counts the connections whose requests are being decided", async () => {
    const { daemon, asked } = running;
    const answers = await decideThenHold(daemon, asked, DECIDING, IDLE, 30);
    const held = answers.filter((answer) => answer !== "");
    assert.deepEqual(new Set(held), new Set(["error timeout waiting for request"]), "each held one answered");
    assert.ok(
      held.length + 2 * DECIDING <= BUDGET,
      `${held.length} idle connections held besides ${
        2 * DECIDING
      } being decided: over the budget of ${BUDGET}`,
    );
    // The others closed at once, without a reply: the budget was full.
    assert.ok(held.length < answers.length, "some connections were closed at once");
    assert.equal(daemon.child.exitCode, null, "daemon still running");
  });
});

describe("the process's DNS share (real daemon process, file limit 200)", () => {
  // As many requests as the listeners' share, each with its own DNS query (a UDP socket), then idle
  // connections: without a share for DNS, the queries' sockets came out of the 64 kept for the rest and
  // the idle connections took the process to its limit, their accepts stalled in the backlog.
  const DECIDING = BUDGET / 2; // on each socket
  const IDLE = 40; // on each socket
  // Nothing frees a descriptor while the client waits: the idle connections are held a minute, the DNS
  // queries 30 s.
  const running = withSilentDnsDaemon("60s");

  it("closes each connection at once when the listeners' share is full, whatever DNS holds", async () => {
    const { daemon, asked } = running;
    const answers = await decideThenHold(daemon, asked, DECIDING, IDLE, 10);
    assert.equal(answers.length, 2 * IDLE);
    // "<no answer>" for one never accepted (or one held, which nothing answers for a minute).
    assert.deepEqual(new Set(answers), new Set([""]), "each closed at once: the listeners' share was full");
    assert.match(daemon.logs(), /open-file limit low/, "the start's warning");
    assert.equal(daemon.child.exitCode, null, "daemon still running");
  });
});

describe("a DNS lookup past DNS's share (real daemon process, file limit 200)", () => {
  // Each check gives up after 100 ms (temperror) while its query waits on: 10 tries of 30 s. So the queries
  // of requests answered stay in flight, and those past DNS's share (72 at this limit) are refused at once.
  const DNS_SHARE = 72;
  const REQUESTS = 80;
  const running = withSilentDnsDaemon(
    "60s",
    "dns_timeout = 30s\ndns_tries = 10\nhelo_check = off\ntime_budget = 100ms\n",
  );

  it("is said in a warning and counted in /metrics, not only a temperror", async () => {
    const { daemon, asked } = running;
    const ask = (i: number) =>
      askPolicy(
        daemon.policySocket,
        `rcpt sender=a@busy${i}.example recipient=b@example.net client_address=192.0.2.1 helo_name=mail.example\n`,
      );
    // Two batches within the listeners' share (64): every request answered, each with its own query.
    for (const batch of [0, 1]) {
      const half = REQUESTS / 2;
      const answers = await Promise.all(Array.from({ length: half }, (_, i) => ask(batch * half + i)));
      for (const answer of answers) assert.match(answer, /^action=defer .* spf=temperror /, answer);
    }
    await waitFor(() => asked.size >= DNS_SHARE, 20_000, "a DNS query for each within the share");
    await daemon.waitForLog(
      /warn spf: too many DNS queries in flight: refusing new ones, their checks end in temperror max_in_flight=72 refused=1\b/,
    ).catch((error) => {
      throw new Error(`${error.message}\n${daemon.logs()}`);
    });
    const metrics = await httpGet({
      socketPath: daemon.policySocket.replace(/policy\.sock$/, "control.sock"),
      path: "/metrics",
    });
    assert.match(
      metrics.body,
      new RegExp(`^mailpolicyd_dns_busy_total ${REQUESTS - DNS_SHARE}$`, "m"),
      metrics.body,
    );
    assert.equal(asked.size, DNS_SHARE, "no query sent past the share");
  });
});
