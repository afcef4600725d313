// The client commands' exit status when the daemon answers but cannot do it now: a real daemon with
// [redis] on a real redis-server that is then killed. `reset KEY` exited 1, as for a key never counted,
// when Redis did not confirm the reset: a script at 3 a.m. (`mailpolicyd reset KEY || …`) could not tell
// "nothing to reset" from "not done, try again". Now 75 (EX_TEMPFAIL), with the daemon's reason.
// show, top and status while Redis is away: the shared store answers show and top from this host's own
// counts (limits/shared-store.ts), and the commands printed them as the shared ones: at 3 a.m. a postmaster
// read one host's count of a sender as its count on every host, and a key this host had not counted read
// "no counter" (exit 1), as for a sender never seen, while Redis might hold its counter.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { runMain } from "../helpers/runtime.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const SLOW = { timeout: 60_000 }; // every step spawns the CLI; Deno starts slower than Bun
const REDIS_DOWN = /^mailpolicyd: the shared counters in Redis did not answer/;
const HOST_ONLY = "Redis unreachable: this host's counts only";
const REQUEST = "rcpt sender=a@example.org recipient=x@example.net client_address=192.0.2.7\n";

describe("client commands when the daemon cannot do it now, or Redis is away", () => {
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
      await askPolicy(daemon.policySocket, REQUEST),
      /^action=accept/,
    );
    const counted = runMain(["reset", "a@example.org", "--config", config]);
    assert.equal(counted.status, 0, counted.stderr);
    const never = runMain(["reset", "nobody@example.org", "--config", config]);
    assert.equal(never.status, 1, never.stderr);
    assert.equal(never.stderr, "mailpolicyd: no counter for nobody@example.org\n");
  });

  it("with Redis up: show, top and status have no line saying the counts are this host's", SLOW, async () => {
    assert.match(await askPolicy(daemon.policySocket, REQUEST), /^action=accept/);
    for (const args of [["show", "a@example.org"], ["top"], ["status"]]) {
      const result = runMain([...args, "--config", config]);
      assert.equal(result.status, 0, result.stderr);
      assert.ok(!result.stdout.includes(HOST_ONLY), `${args[0]}: ${result.stdout}`);
      assert.equal(result.stderr, "");
    }
  });

  // /status's top senders are null both when the counters actor does not answer and when Redis does not
  // (limits/counter-store.ts): status said "counters actor down" while every actor was active.
  it("with Redis not answering: status says so, not that the counters actor is down", SLOW, () => {
    redis.pause();
    try {
      const result = runMain(["status", "--config", config]);
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /^actors: .*counters active/m);
      assert.ok(!result.stdout.includes("counters actor down"), result.stdout);
      assert.match(
        result.stdout,
        /^top senders unavailable \(the shared counters in Redis did not answer\)$/m,
      );
    } finally {
      redis.resume();
    }
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

  it("with Redis gone: show, top and status say the counts are this host's only", SLOW, async () => {
    // Redis was killed by the test before; counted here by the fallback ([redis] fallback = local), and the
    // incident has begun.
    assert.match(await askPolicy(daemon.policySocket, REQUEST), /^action=accept/);
    await daemon.waitForLog(/Redis unavailable: the fallback answers/);

    const show = runMain(["show", "a@example.org", "--config", config]);
    assert.equal(show.status, 0, show.stderr);
    assert.equal(show.stdout.split("\n")[0], HOST_ONLY, show.stdout);
    assert.match(show.stdout, /rule outbound: 1\/5/, "this host's count, which Redis has not got");

    const top = runMain(["top", "--config", config]);
    assert.equal(top.status, 0, top.stderr);
    assert.equal(top.stdout.split("\n")[0], HOST_ONLY, top.stdout);
    assert.match(top.stdout, /a@example\.org\s+outbound\s+1\/5/);

    const status = runMain(["status", "--config", config]);
    assert.equal(status.status, 0, status.stderr);
    const lines = status.stdout.split("\n");
    const table = lines.findIndex((line) => line.startsWith("KEY "));
    assert.equal(lines[table - 1], HOST_ONLY, status.stdout);
    assert.ok(!status.stdout.includes("the shared ones in Redis"), status.stdout);

    // --json keeps its JSON on stdout, and says it on stderr.
    for (const args of [["show", "a@example.org"], ["top"]]) {
      const json = runMain([...args, "--json", "--config", config]);
      assert.equal(json.status, 0, json.stderr);
      JSON.parse(json.stdout);
      assert.equal(json.stderr, `mailpolicyd: ${HOST_ONLY}\n`, args[0]);
    }
  });

  it("with Redis gone: a key this host has not counted is not 'no counter' (exit 75)", SLOW, () => {
    const result = runMain(["show", "nobody@example.org", "--config", config]);
    assert.equal(result.status, 75, result.stderr);
    assert.equal(
      result.stderr,
      `mailpolicyd: no counter for nobody@example.org on this host, and Redis is unreachable: its ` +
        "shared counter is not known; try again once Redis answers\n",
    );
  });
});
