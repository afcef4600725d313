// Redis failing, during an incident, for another reason than the one that began it (a real redis-server,
// a real daemon): restarted with another requirepass (WRONGPASS), or back as a read-only replica, as after
// a Sentinel failover while it was down (READONLY). The log says each new cause once, /health and
// `status` the newest: they used to say "connect ECONNREFUSED" of a Redis that ran and refused the
// password, for as long as the incident lasted. The reconnections keep to the documented backoff.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, describe, it } from "node:test";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { httpGet } from "../helpers/http-get.ts";
import { redisLastErrorBecomes } from "../helpers/redis-health.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { runMain } from "../helpers/runtime.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const rcpt = (sender: string) => `rcpt sender=${sender} recipient=x@example.net client_address=192.0.2.7\n`;

/** One redis-cli command on `server` (with its current password), its answer. */
const cli = (server: RedisServer, ...args: string[]) =>
  execFileSync("redis-cli", [
    "-p",
    String(server.port),
    ...(server.password === undefined ? [] : ["-a", server.password, "--no-auth-warning"]),
    ...args,
  ], { encoding: "utf8" }).trim();

/** Connections Redis has accepted since it started (INFO stats; the asking one included). */
const connectionsReceived = (server: RedisServer) =>
  Number(/total_connections_received:(\d+)/.exec(cli(server, "INFO", "stats"))![1]);

/**
 * The most connection attempts ioredis makes within `ms` on the documented backoff ([redis]
 * connect_timeout in docs/configuration.md: 100 ms doubling up to 5 s), counted from its shortest delay.
 */
function attemptsWithin(ms: number): number {
  let attempts = 1;
  for (let delay = 100, spent = delay; spent <= ms; delay = Math.min(5_000, delay * 2), spent += delay) {
    attempts++;
  }
  return attempts;
}

describe("[redis] an incident whose cause changes (real redis-server)", () => {
  const dirs: TempDir[] = [];
  const daemons: DaemonProcess[] = [];
  const servers: RedisServer[] = [];
  after(async () => {
    await Promise.all(daemons.map((daemon) => daemon.stop()));
    await Promise.all(servers.map((server) => server.stop()));
    dirs.forEach((dir) => dir.remove());
  });

  const daemonOn = async (server: RedisServer) => {
    const dir = makeTempDir();
    dirs.push(dir);
    const config = writeTestConfig(
      dir,
      `[limit out]\nkey = sender\ncount = 3\ntime = 1h\n[redis]\nurl = ${server.url}\ntimeout = 300ms\n` +
        "retry_every = 200ms\nover_cache = 0\n",
    );
    const daemon = await startDaemonProcess(dir, config);
    daemons.push(daemon);
    const health = async () =>
      JSON.parse((await httpGet({ socketPath: dir.file("control.sock"), path: "/health" })).body);
    const status = () => runMain(["status", "--socket", dir.file("control.sock")]).stdout;
    const lastErrorBecomes = (cause: RegExp) => redisLastErrorBecomes(dir.file("control.sock"), cause);
    return { daemon, health, status, lastErrorBecomes };
  };

  it("restarted with another requirepass: WRONGPASS is logged and shown, not the refused connection", async () => {
    const server = await startRedisServer({ password: "old" });
    servers.push(server);
    const { daemon, health, status, lastErrorBecomes } = await daemonOn(server);
    assert.match(await askPolicy(daemon.policySocket, rcpt("p@example.org")), /^action=accept/);
    await server.kill9();
    assert.match(await askPolicy(daemon.policySocket, rcpt("p@example.org")), /^action=accept/);
    await daemon.waitForLog(/Redis unavailable: .*ECONNREFUSED/);
    await server.restart({ password: "new" });
    assert.match(await lastErrorBecomes(/WRONGPASS/), /^WRONGPASS/, "it runs, and refuses the password");
    await daemon.waitForLog(/warn redis: Redis still unavailable, for another reason .*error="WRONGPASS/);
    const redis = (await health()).redis;
    assert.equal(redis.state, "down");
    assert.equal(redis.incidents, 1, "one incident");
    assert.match(status(), /^redis: DOWN since .* \(WRONGPASS /m);
    // Reconnecting on the backoff, not in a loop: the attempts over a while, against the most it allows.
    const [before, since] = [connectionsReceived(server), Date.now()];
    await new Promise((done) => setTimeout(done, 3_000));
    const made = connectionsReceived(server) - before - 1; // less this count's own connection
    const allowed = attemptsWithin(Date.now() - since);
    assert.ok(made <= allowed, `${made} connections, the backoff allows ${allowed}`);
    assert.equal(daemon.logs().match(/^.* warn .*WRONGPASS.*$/gm)?.length, 1, "logged once");
  });

  it("back as a read-only replica: READONLY is logged and shown; a master again, it counts there", async () => {
    const [server, master] = [await startRedisServer(), await startRedisServer()];
    servers.push(server, master);
    const { daemon, health, status, lastErrorBecomes } = await daemonOn(server);
    assert.match(await askPolicy(daemon.policySocket, rcpt("r@example.org")), /^action=accept/);
    await server.kill9();
    assert.match(await askPolicy(daemon.policySocket, rcpt("r@example.org")), /^action=accept/);
    await daemon.waitForLog(/Redis unavailable: .*ECONNREFUSED/);
    // Sentinel made the other one the master meanwhile, and this one its replica.
    await server.restart({ args: ["--replicaof", "127.0.0.1", String(master.port)] });
    assert.match(await lastErrorBecomes(/READONLY/), /READONLY/, "it runs, as a replica");
    await daemon.waitForLog(/warn redis: Redis still unavailable, for another reason .*error=".*READONLY/);
    assert.match(status(), /^redis: DOWN since .*READONLY/m);
    assert.match(await askPolicy(daemon.policySocket, rcpt("r@example.org")), /^action=accept/);
    // A master again: the 2 counted here meanwhile are added (the first went with the killed Redis), and
    // Redis counts on: the 3rd is accepted, the 4th deferred.
    cli(server, "REPLICAOF", "NO", "ONE");
    await daemon.waitForLog(/Redis is back: shared counting again mergedFromLocal=1/);
    assert.equal((await health()).redis.state, "up");
    assert.match(await askPolicy(daemon.policySocket, rcpt("r@example.org")), /^action=accept/);
    assert.match(await askPolicy(daemon.policySocket, rcpt("r@example.org")), /^action=defer/);
    assert.equal(cli(server, "HGET", "mailpolicyd:{r@example.org}:out", "c"), "3");
  });
});
