// A local flood of the loopback control port (session 27's review): Bun.serve held every connection until
// the process ran out of descriptors, and the policy answers stalled with it. Against the real daemon: 100
// clients that never finish their head; the 65th and later get 503 at once, the policy listener and the
// control socket go on answering, and the port serves again once the flood ends.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { httpGet } from "../helpers/http-get.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes `request` to the control port and reads the answer to the close. */
function exchange(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.createConnection({ host: "127.0.0.1", port });
    let answer = "";
    socket.on("data", (chunk) => answer += chunk);
    socket.on("error", () => {});
    socket.on("close", () => resolve(answer));
    socket.on("connect", () => socket.write(request));
  });
}

describe("a flood of the control port (real daemon)", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;
  let port: number;
  const flood: net.Socket[] = [];

  before(async () => {
    dir = makeTempDir();
    port = await freePort();
    const config = writeTestConfig(
      dir,
      `control_listen = 127.0.0.1:${port}\n[thresholds]\ntime = 1h\ncount = 20\n`,
    );
    daemon = await startDaemonProcess(dir, config);
    await daemon.waitForLog(/control: listening address=127\.0\.0\.1:/);
  });
  after(async () => {
    for (const socket of flood) socket.destroy();
    await daemon?.stopCleanly();
    dir?.remove();
  });

  it("answers 503 past 64 connections, while the policy listener and the control socket answer", async () => {
    for (let i = 0; i < 100; i++) {
      const socket = net.createConnection({ host: "127.0.0.1", port });
      socket.on("error", () => {});
      socket.on("connect", () => socket.write("GET /health HTTP/1.1\r\n")); // a head that never ends
      flood.push(socket);
    }
    await sleep(500);
    const busy = await exchange(port, `GET /health HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n\r\n`);
    assert.match(busy, /^HTTP\/1\.1 503 [^]*retry-after: 1\r\n/);
    assert.equal(await askPolicy(daemon.policySocket, "someone@example.org\n"), "no");
    const health = await httpGet({ socketPath: dir.file("control.sock"), path: "/health" });
    assert.equal(health.status, 200);
    await daemon.waitForLog(/warn control: too many connections: refusing new ones/);
  });

  it("serves the port again once the flood is gone", async () => {
    for (const socket of flood.splice(0)) socket.destroy();
    await sleep(300);
    const health = await httpGet({ host: "127.0.0.1", port, path: "/health" });
    assert.equal(health.status, 200);
    assert.equal(JSON.parse(health.body).status, "ok");
  });
});
