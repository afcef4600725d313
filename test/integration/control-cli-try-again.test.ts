// The client commands' exit status when the daemon answers but cannot do it now: a real daemon with
// [redis] on a real redis-server that is then killed. `reset KEY` exited 1, as for a key never counted,
// when Redis did not confirm the reset: a script at 3 a.m. (`mailpolicyd reset KEY || …`) could not tell
// "nothing to reset" from "not done, try again". Now 75 (EX_TEMPFAIL), with the daemon's reason.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { runMain } from "../helpers/runtime.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const SLOW = { timeout: 60_000 }; // every step spawns the CLI; Deno starts slower than Bun
const REDIS_DOWN = /^mailpolicyd: the shared counters in Redis did not answer/;

describe("client commands when the daemon cannot do it now", () => {
  let dir: TempDir;
  let redis: RedisServer;
  let daemon: DaemonProcess;
  let config: string;

  before(async () => {
    dir = makeTempDir();
    redis = await startRedisServer();
    config = writeTestConfig(
      dir,
      `[redis]\nurl = ${redis.url}\ntimeout = 1s\n[limit outbound]\nkey = sender\ncount = 5\ntime = 1h\n`,
    );
    daemon = await startDaemonProcess(dir, config);
    await daemon.waitForLog(/info control: listening socket=/);
  }, SLOW);

  after(async () => {
    await daemon?.stop();
    await redis?.stop();
    dir?.remove();
  });

  it("with Redis up: reset of a counted key exits 0, of a key never counted 1", SLOW, async () => {
    assert.match(
      await askPolicy(
        daemon.policySocket,
        "rcpt sender=a@example.org recipient=x@example.net client_address=192.0.2.7\n",
      ),
      /^action=accept/,
    );
    const counted = runMain(["reset", "a@example.org", "--config", config]);
    assert.equal(counted.status, 0, counted.stderr);
    const never = runMain(["reset", "nobody@example.org", "--config", config]);
    assert.equal(never.status, 1, never.stderr);
    assert.equal(never.stderr, "mailpolicyd: no counter for nobody@example.org\n");
  });

  // show and top answer from this host's own counts during an incident (limits/shared-store.ts); a reset
  // cannot be confirmed: this host's part is done, Redis's is not.
  it("with Redis gone: reset exits 75 and says why, not 1 as for a key never counted", SLOW, async () => {
    await redis.kill9();
    for (const key of ["a@example.org", "nobody@example.org"]) {
      const result = runMain(["reset", key, "--config", config]);
      assert.equal(result.status, 75, `reset ${key}: ${result.stderr}`);
      assert.match(result.stderr, REDIS_DOWN, key);
    }
  });
});
