// Postfix's cleanup waits milter_content_timeout for the milter's end-of-message answer, then closes the
// connection and applies the entry's default_action: with the snippet's `accept`, the message is delivered.
// A decision that took longer (here the limits waiting for a hung Redis, [limits] fail_mode = closed) was
// logged "held" all the same, for a message Postfix had sent on. The daemon now sees the close while it
// decides and says the message was not held.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { milterEntry } from "../../src/postfix/snippet.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { type PostfixServer, startPostfix } from "../helpers/postfix.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

describe("a message whose end Postfix stopped waiting for (milter_content_timeout)", () => {
  let dir: TempDir;
  let redis: RedisServer;
  let postfix: PostfixServer | undefined;
  let daemon: Daemon | undefined;
  const lines: string[] = [];
  const failure = () => `\nmaillog:\n${postfix!.maillog()}\ndaemon:\n${lines.join("\n")}`;

  before(async () => {
    dir = makeTempDir();
    redis = await startRedisServer();
    const milter = `127.0.0.1:${await freePort()}`;
    // cleanup gives the end of the message 1 s; the limits take 3 s to give up on the hung Redis.
    postfix = await startPostfix(dir, await freePort(), {
      recipientRestrictions: "permit",
      pickup: true,
      mainExtra: `non_smtpd_milters = ${milterEntry(`inet:${milter}`)}\nmilter_content_timeout = 1s\n`,
    });
    const parsed = parseConfig(
      `[daemon]\npolicy_socket = policy.sock\ncontrol_socket = control.sock\npidfile = d.pid\n` +
        `state_file = state.json\npolicy_listen = none\n[postfix]\nlisten = none\nmilter_listen = ${milter}\n` +
        `[limits]\ntimeout = 3s\nfail_mode = closed\n` +
        `[redis]\nurl = ${redis.url}\ntimeout = 10s\nfallback = closed\n` +
        `[limit local]\nkey = sender\nstage = local\ncount = 5\ntime = 1h\naction = defer\n`,
      "test.conf",
      dir.path,
    );
    assert.ok(parsed.ok, JSON.stringify(parsed));
    daemon = startDaemon({ config: parsed.config, log: createLogger("info", (line) => lines.push(line)) });
    await waitFor(() => lines.some((line) => line.includes("postfix: listening")), 5000, "Postfix listener");
  });
  after(async () => {
    redis?.resume();
    await postfix?.stop();
    daemon?.stop();
    await redis?.stop();
    dir?.remove();
  });

  it("is delivered by default_action, and logged as not held", async () => {
    redis.pause();
    const sent = await postfix!.sendmail(["-t"], "To: a@example.test\nSubject: late\n\nlate\n");
    assert.equal(sent.status, 0, sent.stderr);
    await waitFor(() => postfix!.delivered().length === 1, 20_000, `the delivery${failure()}`);
    assert.match(postfix!.maillog(), /can't read SMFIC_BODYEOB reply packet header/);
    // The daemon decides once the limits give up on Redis (fail_mode closed: a hold), after cleanup left.
    await waitFor(
      () => lines.some((line) => / postfix-milter: (held|not held)/.test(line)),
      20_000,
      `the decision's line${failure()}`,
    );
    const said = lines.filter((line) => / postfix-milter: (held|not held)/.test(line));
    assert.equal(said.length, 1, said.join("\n"));
    assert.match(said[0], /warn postfix-milter: not held: Postfix closed the connection before the answer/);
    assert.match(said[0], /queue_id=[0-9A-F]+ /);
    assert.deepEqual(await postfix!.queue(), []);
  });
});
