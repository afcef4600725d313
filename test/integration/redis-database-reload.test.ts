// [redis] naming a database the server does not have (a real redis-server with `databases 16`, a real
// daemon): said as an error and the fallback answers; once the postmaster has given Redis the database
// (`databases 32`, Redis restarted) a reload of the unchanged config connects anew and counts there. The
// reload used to change nothing: the connection given up stayed so until the daemon was restarted.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { redisStateBecomes, sharedCountingResumes } from "../helpers/redis-health.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const rcpt = (sender: string) => `rcpt sender=${sender} recipient=x@example.net client_address=192.0.2.7\n`;

describe("[redis] a database the server does not have, then has (real redis-server)", () => {
  let server: RedisServer;
  let dir: TempDir;
  let daemon: DaemonProcess | undefined;
  before(async () => {
    server = await startRedisServer({ args: ["--databases", "16"] });
    dir = makeTempDir();
  });
  after(async () => {
    await daemon?.stop();
    await server.stop();
    dir.remove();
  });

  const stateBecomes = (wanted: "up" | "down") => redisStateBecomes(dir.file("control.sock"), wanted);

  it("logs the database, answers by the fallback, and counts there after a reload once Redis has it", async () => {
    const config = writeTestConfig(
      dir,
      `[limit out]\nkey = sender\ncount = 3\ntime = 1h\n[redis]\nurl = redis://127.0.0.1:${server.port}/20\n` +
        "timeout = 1s\nretry_every = 200ms\nover_cache = 0\n",
    );
    daemon = await startDaemonProcess(dir, config);
    assert.match(await askPolicy(daemon.policySocket, rcpt("d@example.org")), /^action=accept/);
    await daemon.waitForLog(/error redis: cannot select \[redis\] database 20: ERR DB index is out of range/);
    assert.equal(await stateBecomes("down"), "down");
    await server.restart({ args: ["--databases", "32"] });
    daemon.signal("SIGHUP");
    await daemon.waitForLog(/config reloaded/);
    assert.equal(await stateBecomes("up"), "up", "the reload connected anew");
    assert.equal(await sharedCountingResumes(daemon, "d@example.org", server.port, 20), "3");
  });
});
