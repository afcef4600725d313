// [redis] username (issue 21: "optional password/ACL user") against a real redis-server whose default user
// is off: an ACL user allowed only the counters' keys and the commands docs/redis.md lists counts and is
// deferred at N+1 like the memory store, and a user without the scripting commands falls back and says why.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { runMain } from "../helpers/runtime.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const N = 3;
const rcpt = (sender: string) => `rcpt sender=${sender} recipient=x@example.net client_address=192.0.2.7\n`;
// The rule docs/redis.md gives ("An ACL user"), with this test's password.
const DOCUMENTED_USER = "user mailpolicyd on >s3cret ~mailpolicyd:* +@all -@dangerous";
const NO_SCRIPTS = "user noscripts on >s3cret ~mailpolicyd:* +@all -@dangerous -@scripting";
// A rule for the counters alone: not the record of the limits' keys (limits/redis-counter-kinds.ts).
const COUNTERS_ONLY = "user counters on >s3cret ~mailpolicyd:{* +@all -@dangerous";

describe("[redis] username: an ACL user of its own (real redis-server, default user off)", () => {
  const dirs: TempDir[] = [];
  const daemons: DaemonProcess[] = [];
  let server: RedisServer;
  before(async () => {
    server = await startRedisServer({
      aclUsers: ["user default off", DOCUMENTED_USER, NO_SCRIPTS, COUNTERS_ONLY],
    });
  });
  after(async () => {
    await Promise.all(daemons.map((daemon) => daemon.stop()));
    dirs.forEach((dir) => dir.remove());
    await server.stop();
  });

  const host = async (username: string) => {
    const dir = makeTempDir();
    dirs.push(dir);
    const config = writeTestConfig(
      dir,
      `[limit out]\nkey = sender\ncount = ${N}\ntime = 1h\n[redis]\nurl = redis://127.0.0.1:${server.port}\n` +
        `username = ${username}\npassword = s3cret\ntimeout = 500ms\n`,
    );
    const daemon = await startDaemonProcess(dir, config);
    daemons.push(daemon);
    return { daemon, config };
  };

  it("the documented user counts in Redis (deferred at N+1); show and reset reach it", async () => {
    const { daemon, config } = await host("mailpolicyd");
    const answers: string[] = [];
    for (let i = 0; i <= N; i++) answers.push(await askPolicy(daemon.policySocket, rcpt("acl@example.org")));
    assert.deepEqual(answers.map((answer) => answer.split(" ")[0]), [
      ...Array(N).fill("action=accept"),
      "action=defer",
    ]);
    const keys = execFileSync("redis-cli", [
      "-p",
      String(server.port),
      "--user",
      "mailpolicyd",
      "--pass",
      "s3cret",
      "--no-auth-warning",
      "--scan",
      "--pattern",
      "mailpolicyd:*",
    ], { encoding: "utf8" });
    assert.match(keys, /^mailpolicyd:\{acl@example\.org\}:out$/m, "counted in Redis, not locally");
    // The control plane's commands run through the same user: SCAN and HGETALL for show, DEL for reset.
    const shown = runMain(["show", "acl@example.org", "--config", config]);
    assert.equal(shown.status, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`rule out: ${N}/${N} per 1h`));
    const reset = runMain(["reset", "acl@example.org", "--config", config]);
    assert.equal(reset.status, 0, reset.stderr);
    assert.match(await askPolicy(daemon.policySocket, rcpt("acl@example.org")), /^action=accept/);
    assert.doesNotMatch(daemon.logs(), /Redis unavailable/);
    // The user may not run INFO (@dangerous): ioredis's ready check warned of it on stderr, out of the log.
    assert.doesNotMatch(daemon.logs(), /ready check/);
  });

  it("a user allowed the counters only counts in Redis all the same, and says it cannot record the keys", async () => {
    const { daemon } = await host("counters");
    const answers: string[] = [];
    for (let i = 0; i <= N; i++) answers.push(await askPolicy(daemon.policySocket, rcpt("c@example.org")));
    assert.deepEqual(answers.map((answer) => answer.split(" ")[0]), [
      ...Array(N).fill("action=accept"),
      "action=defer",
    ]);
    await daemon.waitForLog(/cannot record the limits' keys: counters named without their key/);
    assert.match(daemon.logs(), /NOPERM/);
    assert.doesNotMatch(daemon.logs(), /Redis unavailable/);
  });

  it("a user not allowed the scripts: the daemon counts locally and logs why", async () => {
    const { daemon } = await host("noscripts");
    assert.match(await askPolicy(daemon.policySocket, rcpt("n@example.org")), /^action=accept/);
    await daemon.waitForLog(/Redis unavailable: the fallback answers until it is back fallback=local/);
    await daemon.waitForLog(/NOPERM/);
  });
});
