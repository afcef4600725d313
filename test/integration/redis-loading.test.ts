// A Redis still loading its dataset (a real redis-server reading an RDB file, held at it by
// key-load-delay): at the daemon's start and when it restarts under a running daemon. Redis answers
// LOADING; the fallback answers at once, the log and /health name LOADING, and the daemon counts in Redis
// again once the load is over. With ioredis's ready check the commands waited in the client until their
// timeout, and the log said "Command timed out", as of a hung Redis.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { httpGet } from "../helpers/http-get.ts";
import { redisLastErrorBecomes } from "../helpers/redis-health.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const rcpt = (sender: string) => `rcpt sender=${sender} recipient=x@example.net client_address=192.0.2.7\n`;
const cli = (server: RedisServer, ...args: string[]) =>
  execFileSync("redis-cli", ["-p", String(server.port), ...args], { encoding: "utf8" }).trim();

// 8 000 keys at 500 µs each: about 4 s of loading, with clients answered (LOADING) every KB read.
const SLOW_LOAD = [
  "--enable-debug-command",
  "local",
  "--key-load-delay",
  "500",
  "--loading-process-events-interval-bytes",
  "1024",
];

describe("[redis] a Redis loading its dataset (real redis-server)", () => {
  let server: RedisServer;
  let dir: TempDir;
  let daemon: DaemonProcess | undefined;
  before(async () => {
    server = await startRedisServer({ args: SLOW_LOAD });
    // Something to load, out of the counters' database; saved, and read again at every start.
    cli(server, "-n", "1", "DEBUG", "POPULATE", "8000");
    cli(server, "SAVE");
    dir = makeTempDir();
  });
  after(async () => {
    await daemon?.stop();
    await server.stop();
    dir.remove();
  });

  const health = async () =>
    JSON.parse((await httpGet({ socketPath: dir.file("control.sock"), path: "/health" })).body).redis;
  const lastErrorBecomes = (cause: RegExp) => redisLastErrorBecomes(dir.file("control.sock"), cause);

  it("at the daemon's start: LOADING is the cause, and once loaded the daemon counts in Redis", async () => {
    await server.restart();
    assert.match(cli(server, "PING"), /^LOADING/, "still loading when the daemon starts");
    const config = writeTestConfig(
      dir,
      `[limit out]\nkey = sender\ncount = 3\ntime = 1h\n[redis]\nurl = ${server.url}\ntimeout = 300ms\n` +
        "retry_every = 200ms\nover_cache = 0\n",
    );
    daemon = await startDaemonProcess(dir, config);
    assert.match(await askPolicy(daemon.policySocket, rcpt("l@example.org")), /^action=accept/);
    assert.match(await lastErrorBecomes(/LOADING/), /^LOADING/, "Redis said it loads");
    await daemon.waitForLog(/Redis unavailable: .*error="LOADING Redis is loading the dataset in memory"/);
    assert.match(await askPolicy(daemon.policySocket, rcpt("l@example.org")), /^action=accept/);
    await daemon.waitForLog(/Redis is back: shared counting again mergedFromLocal=1/, 60_000);
    assert.match(await askPolicy(daemon.policySocket, rcpt("l@example.org")), /^action=accept/);
    assert.match(await askPolicy(daemon.policySocket, rcpt("l@example.org")), /^action=defer/);
    assert.equal(cli(server, "HGET", "mailpolicyd:{l@example.org}:out", "c"), "3", "2 merged, 1 in Redis");
  });

  it("restarted under the daemon: LOADING is the incident's cause until it is loaded", async () => {
    assert.ok(daemon, "the daemon of the test before");
    await server.restart();
    assert.match(cli(server, "PING"), /^LOADING/, "loading again");
    assert.match(await askPolicy(daemon.policySocket, rcpt("m@example.org")), /^action=accept/);
    assert.match(await lastErrorBecomes(/LOADING/), /^LOADING/, "Redis said it loads");
    assert.equal((await health()).state, "down");
    const back = () => daemon!.logs().match(/Redis is back: shared counting again/g)?.length ?? 0;
    await waitFor(() => back() === 2, 60_000, "Redis back after its second load");
    assert.equal(cli(server, "HGET", "mailpolicyd:{m@example.org}:out", "c"), "1", "counted here, merged");
  });
});
