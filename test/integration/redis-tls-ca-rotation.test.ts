// [redis] tls_ca_file rotated in place, as a postmaster (or certbot, an internal CA's job) does it: a real
// redis-server's TLS port and a real daemon. Redis restarts with a certificate a new CA signed; the daemon's
// reconnects fail the certificate check (the fallback answers) until the CA file, replaced under the same
// path, is read by a reload. The reload used to change nothing (the config's text is the same): the
// connection kept the CA read at start until the daemon was restarted. A CA file that is garbage or gone at
// a reload is said, and the connection keeps the CA it has.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { redisStateBecomes, sharedCountingResumes } from "../helpers/redis-health.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { makeCertificates } from "../helpers/test-ca.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const SLOW = { timeout: 90_000 };
const rcpt = (sender: string) => `rcpt sender=${sender} recipient=x@example.net client_address=192.0.2.7\n`;

describe("[redis] tls_ca_file rotated in place (real redis-server over TLS)", () => {
  let server: RedisServer;
  let dir: TempDir;
  let rotated: TempDir; // the new CA and the server certificate it signed
  let daemon: DaemonProcess | undefined;
  before(async () => {
    dir = makeTempDir();
    rotated = makeTempDir();
    makeCertificates(dir);
    makeCertificates(rotated);
    // The files Redis and the daemon read, replaced in place below.
    copyFileSync(dir.file("server.pem"), dir.file("live.pem"));
    copyFileSync(dir.file("server.key"), dir.file("live.key"));
    copyFileSync(dir.file("ca.pem"), dir.file("redis-ca.pem"));
    server = await startRedisServer({
      tls: { certFile: dir.file("live.pem"), keyFile: dir.file("live.key"), caFile: dir.file("ca.pem") },
    });
  });
  after(async () => {
    await daemon?.stop();
    await server.stop();
    dir.remove();
    rotated.remove();
  });

  const stateBecomes = (wanted: "up" | "down") => redisStateBecomes(dir.file("control.sock"), wanted);
  /** The count Redis holds for `sender` under [limit out] (over its plain port), or "" for none. */
  const redisCount = (sender: string) =>
    execFileSync("redis-cli", ["-p", String(server.port), "HGET", `mailpolicyd:{${sender}}:out`, "c"], {
      encoding: "utf8",
    }).trim();
  /** How often a connection failed the certificate check, by the log. */
  const verifyFailures = () => (daemon!.logs().match(/unable to verify the first certificate/g) ?? []).length;
  const reloads = () => (daemon!.logs().match(/config reloaded/g) ?? []).length;
  const reload = async () => {
    const before = reloads();
    daemon!.signal("SIGHUP");
    await waitFor(() => reloads() > before, 10_000, "config reloaded");
  };

  it(
    "connects with the new CA after a reload once Redis's certificate and the CA file rotated",
    SLOW,
    async () => {
      const config = writeTestConfig(
        dir,
        `[limit out]\nkey = sender\ncount = 3\ntime = 1h\n[redis]\nurl = rediss://localhost:${server.tlsPort}\n` +
          "tls_ca_file = redis-ca.pem\ntimeout = 1s\nretry_every = 200ms\nover_cache = 0\n",
      );
      daemon = await startDaemonProcess(dir, config);
      assert.equal(await stateBecomes("up"), "up");
      // Redis restarts with a certificate the new CA signed: the old CA does not vouch for it.
      copyFileSync(rotated.file("server.pem"), dir.file("live.pem"));
      copyFileSync(rotated.file("server.key"), dir.file("live.key"));
      await server.restart();
      assert.match(await askPolicy(daemon!.policySocket, rcpt("r@example.org")), /^action=accept/);
      assert.equal(await stateBecomes("down"), "down", "the old CA refuses the new certificate");
      // The same path, the new CA; the config unchanged.
      copyFileSync(rotated.file("ca.pem"), dir.file("redis-ca.pem"));
      await reload();
      assert.equal(await stateBecomes("up"), "up", "the reload read the new CA and connected anew");
      assert.match(daemon!.logs(), /info redis: \[redis\] tls_ca_file changed: connecting anew with it/);
      assert.equal(await sharedCountingResumes(daemon!, "r@example.org", server.port), "3");
    },
  );
  it("keeps the CA it has when the file is garbage or gone at a reload, saying so", SLOW, async () => {
    writeFileSync(dir.file("redis-ca.pem"), "not a certificate\n");
    await reload();
    await daemon!.waitForLog(
      /error redis: cannot use \[redis\] tls_ca_file .*redis-ca\.pem: it holds no PEM certificate; the connection keeps the CA read before/,
    );
    rmSync(dir.file("redis-ca.pem"));
    await reload();
    await daemon!.waitForLog(
      /error redis: cannot read \[redis\] tls_ca_file .*redis-ca\.pem: .*ENOENT.*; the connection keeps the CA read before/,
    );
    // Redis restarts: the connection made anew checks against the CA it had, and counts in Redis again.
    await server.restart();
    assert.match(await askPolicy(daemon!.policySocket, rcpt("kept@example.org")), /^action=accept/);
    await waitFor(() => redisCount("kept@example.org") === "1", 10_000, "the request counted in Redis");
  });

  it(
    "rotates without an incident as docs/redis.md says: both CAs in the file, a reload, then Redis",
    SLOW,
    async () => {
      // Now the other way back: the first CA beside the one in use, a reload, then Redis on the first CA's
      // certificate.
      const bundle = readFileSync(rotated.file("ca.pem"), "utf8") + readFileSync(dir.file("ca.pem"), "utf8");
      writeFileSync(dir.file("redis-ca.pem"), bundle);
      const changes = () => (daemon!.logs().match(/tls_ca_file changed: connecting anew/g) ?? []).length;
      const before = changes();
      await reload();
      await waitFor(() => changes() > before, 10_000, "the bundle is other bytes: connected anew");
      copyFileSync(dir.file("server.pem"), dir.file("live.pem"));
      copyFileSync(dir.file("server.key"), dir.file("live.key"));
      const failedBefore = verifyFailures();
      await server.restart();
      assert.match(await askPolicy(daemon!.policySocket, rcpt("bundle@example.org")), /^action=accept/);
      await waitFor(() => redisCount("bundle@example.org") === "1", 10_000, "the request counted in Redis");
      assert.equal(verifyFailures(), failedBefore, "no connection failed the certificate check");
    },
  );
});
