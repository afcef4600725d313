// Bad input gets a clear `error …` reply where one can be sent, a log line, and never a crash.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

// A client in C as Exim is one (Python's socket module; Bun's node:net client reports a server that answers
// and closes at once as a reset): holds 60 connections to the Unix socket without a byte, asks a 61st,
// then asks on TCP; prints both answers.
const HOLD_THEN_ASK = `import json, socket, sys
def answer(s, request):
    try:  # a refused connection may be closed before the write: its reply is still there to read
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError):
        pass
    reply = b""
    while chunk := s.recv(4096):
        reply += chunk
    return reply.decode()
held = []
for _ in range(60):
    held.append(socket.socket(socket.AF_UNIX))
    held[-1].connect(sys.argv[1])
late = socket.socket(socket.AF_UNIX)
late.connect(sys.argv[1])
busy = answer(late, b"")
tcp = answer(socket.create_connection((sys.argv[2], int(sys.argv[3]))), b"good@example.org\\n")
print(json.dumps([busy, tcp]))`;

describe("bad input on the policy socket (real daemon process)", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;

  before(async () => {
    dir = makeTempDir();
    daemon = await startDaemonProcess(
      dir,
      writeTestConfig(
        dir,
        "request_timeout = 300ms\nmax_connections = 50\n[thresholds]\ntime = 300\ncount = 3\n",
      ),
    );
  });
  after(async () => {
    await daemon.stop();
    dir.remove();
  });

  it("refuses a line over 4 KiB", async () => {
    const reply = await askPolicy(daemon.policySocket, "a".repeat(5000) + "@example.org\n");
    assert.equal(reply, "error request longer than 4096 bytes");
    await daemon.waitForLog(/warn policy: bad request error="request longer than 4096 bytes"/);
  });

  it("logs a flood of bad requests as one line with their number, not a line each", async () => {
    const lines = () => daemon.logs().match(/warn policy: bad request /g)?.length ?? 0;
    const before = lines();
    for (let i = 0; i < 30; i++) {
      assert.equal(await askPolicy(daemon.policySocket, "a\0b@example.org\n"), "error NUL byte in request");
    }
    assert.ok(lines() <= before + 1, `${lines() - before} lines for 30 bad requests`);
    // Those held back end in one line when the period ends (10 s), with how many there were.
    await daemon.waitForLog(
      /warn policy: bad request error="NUL byte in request" .*count=(?:29|[3-9]\d|\d{3})/,
      15_000,
    );
  });

  it("refuses a huge request sent without any newline", async () => {
    const reply = await askPolicy(daemon.policySocket, Buffer.alloc(200_000, 0x41));
    assert.equal(reply, "error request longer than 4096 bytes");
  });

  it("refuses NUL bytes, control characters and invalid UTF-8", async () => {
    assert.equal(await askPolicy(daemon.policySocket, "a\0b@example.org\n"), "error NUL byte in request");
    assert.equal(
      await askPolicy(daemon.policySocket, "a\x1bb@example.org\n"),
      "error control character in request",
    );
    assert.equal(
      await askPolicy(daemon.policySocket, Buffer.from([0xff, 0xfe, 0x41, 0x0a])),
      "error request is not valid UTF-8",
    );
    assert.equal(
      await askPolicy(daemon.policySocket, "two tokens\n"),
      "error expected one token: an address or an IP address",
    );
  });

  it("answers a client that sends nothing with a timeout error", async () => {
    const started = Date.now();
    const reply = await askPolicy(daemon.policySocket, "", { halfClose: false });
    assert.equal(reply, "error timeout waiting for request");
    assert.ok(Date.now() - started >= 250, "waited for request_timeout");
    await daemon.waitForLog(/client sent no complete request in time/);
  });

  it("counts no sender for connections closed without a byte, and tells them so", async () => {
    for (let i = 0; i < 25; i++) {
      assert.equal(await askPolicy(daemon.policySocket, ""), "error empty request");
    }
    assert.equal(await askPolicy(daemon.policySocket, "\n"), "no", "<> has not been counted");
  });

  it("survives clients that vanish before the reply, and keeps counting", async () => {
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => {
        const socket = net.createConnection({ path: daemon.policySocket }, () => {
          socket.write("gone@example.org\n");
          socket.destroy();
          resolve();
        });
        socket.on("error", () => resolve());
      });
    }
    // The vanished clients' requests still count: 20 hits already, so this one is over the limit.
    assert.equal(await askPolicy(daemon.policySocket, "gone@example.org\n"), "yes");
    assert.equal(await askPolicy(daemon.policySocket, "fresh@example.org\n"), "no");
    assert.equal(daemon.child.exitCode, null, "daemon still running");
  });

  it("tells clients past max_connections it is busy, and answers the others as usual", async () => {
    const { hostname, port } = daemon.policyAddress!;
    const result = spawnSync("python3", ["-c", HOLD_THEN_ASK, daemon.policySocket, hostname, String(port)], {
      encoding: "utf8",
    });
    assert.equal(result.status, 0, result.stderr);
    const [busy, tcp] = JSON.parse(result.stdout);
    assert.equal(busy, "error busy: too many connections");
    assert.equal(tcp, "no", "the TCP listener counts apart");
    await daemon.waitForLog(/too many connections: refusing new ones max_connections=50/);
    await new Promise((resolve) => setTimeout(resolve, 400)); // the held ones are gone, or timed out
    assert.equal(await askPolicy(daemon.policySocket, "good@example.org\n"), "no");
  });
});
