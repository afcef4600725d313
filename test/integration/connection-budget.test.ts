// The sockets all the listeners hold together stay within the process's open-file limit less 64
// (docs/architecture.md, "Bounds"), also while requests wait for a slow concern: a real daemon with a file
// limit of 200 (a budget of 136 sockets), SPF asking a DNS server that never answers.
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
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const FILE_LIMIT = 200;
const BUDGET = FILE_LIMIT - 64; // connection-bound.ts, RESERVED_FILES
const MAX_CONNECTIONS = 80; // unanswered on each policy socket: none of these is refused
// On each socket. Each holds a DNS query's UDP socket too, one of the 64 descriptors kept for the rest
// (Deno's own take 27 here).
const DECIDING = 8;
const IDLE = 64; // on each socket: together over the budget less those being decided

// A client in C as Exim is one (Python's socket module): sends DECIDING requests on the Unix socket and as
// many on TCP, each for its own sender domain (one DNS query each), says "sent", and waits for a line on
// stdin; then connects IDLE times to each socket without a byte, and reads each of those to its end (the
// daemon's timeout reply, or nothing for one it closed at once; "<no answer>" for one not answered within 30
// s, never accepted). Prints their answers.
const DECIDE_THEN_HOLD = `import json, socket, sys, time
path, host, port, deciding, idle = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
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
deadline = time.monotonic() + 30
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

describe("the process's socket budget (real daemon process, file limit 200)", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;
  let dns: dgram.Socket;
  const asked = new Set<string>();

  before(async () => {
    dir = makeTempDir();
    // A DNS server that never answers: each SPF check waits for it, its request being decided.
    dns = dgram.createSocket("udp4");
    dns.on("message", (query) => asked.add(query.subarray(12).toString("latin1")));
    await new Promise<void>((resolve) => dns.bind(0, "127.0.0.1", resolve));
    const dnsPort = dns.address().port;
    daemon = await startDaemonProcess(
      dir,
      writeTestConfig(
        dir,
        `request_timeout = 5s\nmax_connections = ${MAX_CONNECTIONS}\n` +
          `[spf]\ntimeout = 60s\ndns_servers = 127.0.0.1:${dnsPort}\ndns_timeout = 30s\ndns_tries = 1\n` +
          `helo_check = off\ntime_budget = 60s\n`,
      ),
      [],
      "same",
      FILE_LIMIT,
    );
  });
  after(async () => {
    await daemon?.stop("SIGKILL");
    dns?.close();
    dir?.remove();
  });

  it("counts the connections whose requests are being decided", async () => {
    const { hostname, port } = daemon.policyAddress!;
    const client = spawn("python3", [
      "-c",
      DECIDE_THEN_HOLD,
      daemon.policySocket,
      hostname,
      String(port),
      String(DECIDING),
      String(IDLE),
    ], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    client.stdout.on("data", (chunk) => stdout += chunk);
    client.stderr.on("data", (chunk) => stderr += chunk);
    const exited = new Promise<number | null>((resolve) => client.on("close", resolve));
    await waitFor(() => stdout.startsWith("sent\n"), 20_000, `the client's requests sent (${stderr})`);
    await waitFor(() => asked.size >= 2 * DECIDING, 20_000, "a DNS query for each request");
    client.stdin.end("go\n");
    assert.equal(await exited, 0, stderr);
    const answers: string[] = JSON.parse(stdout.slice("sent\n".length));
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
