// [redis] tls_ca_file that cannot be read when the daemon connects (a real redis-server's TLS port, a
// real daemon): said as an error, and the fallback answers (the system's CAs do not vouch for Redis's
// certificate); once the file is there, a reload of the unchanged config reads it and counts in Redis.
// The reload used to change nothing: the connection kept trying without the CA until a restart.
import assert from "node:assert/strict";
import { copyFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { redisStateBecomes, sharedCountingResumes } from "../helpers/redis-health.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { makeCertificates } from "../helpers/test-ca.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const rcpt = (sender: string) => `rcpt sender=${sender} recipient=x@example.net client_address=192.0.2.7\n`;

describe("[redis] a tls_ca_file unreadable, then there (real redis-server over TLS)", () => {
  let server: RedisServer;
  let dir: TempDir;
  let daemon: DaemonProcess | undefined;
  before(async () => {
    dir = makeTempDir();
    makeCertificates(dir);
    server = await startRedisServer({
      tls: { certFile: dir.file("server.pem"), keyFile: dir.file("server.key"), caFile: dir.file("ca.pem") },
    });
  });
  after(async () => {
    await daemon?.stop();
    await server.stop();
    dir.remove();
  });

  const stateBecomes = (wanted: "up" | "down") => redisStateBecomes(dir.file("control.sock"), wanted);

  it("logs the file, answers by the fallback, and counts in Redis after a reload once it is there", async () => {
    const config = writeTestConfig(
      dir,
      `[limit out]\nkey = sender\ncount = 3\ntime = 1h\n[redis]\nurl = rediss://localhost:${server.tlsPort}\n` +
        "tls_ca_file = late-ca.pem\ntimeout = 1s\nretry_every = 200ms\nover_cache = 0\n",
    );
    daemon = await startDaemonProcess(dir, config);
    await daemon.waitForLog(/error redis: cannot read \[redis\] tls_ca_file .*late-ca\.pem/);
    // Said once, with what the connection does instead: the config's warning of it, which came before and
    // said the same, is config-test's.
    assert.equal((daemon.logs().match(/late-ca\.pem: ENOENT/g) ?? []).length, 1, daemon.logs());
    assert.match(
      daemon.logs(),
      /error redis: cannot read .*; Redis's certificate is checked against the system's CAs until a reload reads it/,
    );
    assert.match(await askPolicy(daemon.policySocket, rcpt("t@example.org")), /^action=accept/);
    assert.equal(await stateBecomes("down"), "down");
    // The system's CAs do not vouch for the test CA's certificate: the log says which setting to change.
    await daemon.waitForLog(
      /warn redis: Redis unavailable: .*remedy="put the CA that signed Redis's certificate into \[redis\] tls_ca_file \(\S*late-ca\.pem\), then reload: the daemon reads the file when it connects and at a reload"/,
    );
    copyFileSync(dir.file("ca.pem"), dir.file("late-ca.pem"));
    daemon.signal("SIGHUP");
    await daemon.waitForLog(/config reloaded/);
    assert.equal(await stateBecomes("up"), "up", "the reload read the file and connected anew");
    assert.equal(await sharedCountingResumes(daemon, "t@example.org", server.port), "3");
  });
});
