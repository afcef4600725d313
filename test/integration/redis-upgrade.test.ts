// The upgrade path of [redis] (issue 21, item 4) with real daemon processes, a real redis-server and a real
// SMTP receiver for the alerts: memory → Redis by a reload (SIGHUP) and by a restart from the state file,
// Redis → memory by a reload, two hosts upgrading together. No counter is lost (the next request is
// refused exactly when it should be), none is counted twice, and no alert is sent again.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { askMany, askPolicy } from "../helpers/policy-client.ts";
import { redisClient } from "../helpers/redis-engines.ts";
import { runMain } from "../helpers/runtime.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { type SmtpReceiver, startSmtpReceiver } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

// [thresholds] count: the one-token form answers "yes" from the 4th message on (every attempt counts).
const LIMIT = 3;

const alerts = (port: number) =>
  `[thresholds]\ntime = 3600\ncount = ${LIMIT}\n[alerts]\nfromAddr = 'postmaster@example.org'\n` +
  `toAddr = 'boss@example.org'\nsubject = 'Mail Abuse Alert'\nsmtp_host = 127.0.0.1\nsmtp_port = ${port}\n` +
  `smtp_timeout = 2s\nretry_min = 200ms\nretry_max = 1s\n`;

const redisSection = (server: RedisServer) => `[redis]\nurl = ${server.url}\nprefix = mpd:\ntimeout = 1s\n`;

/** The one-token form's answers for `n` messages of `sender`. */
const ask = (daemon: DaemonProcess, sender: string, n: number) =>
  askMany(daemon.policySocket, `${sender}\n`, n);

/** The shared count of `sender` under [thresholds], read from Redis itself (0: no counter). */
async function sharedCount(server: RedisServer, sender: string, prefix = "mpd:"): Promise<number> {
  const client = redisClient(server);
  try {
    return Number(await client.hget(`${prefix}{${sender}}:thresholds`, "c") ?? 0);
  } finally {
    client.disconnect();
  }
}

/**
 * Waits until Redis holds `count` for `sender`: an answer goes out before its commit reaches Redis (the two
 * passes), so a test reads Redis or asks another host only once it has.
 */
async function sharedCountReaches(server: RedisServer, sender: string, count: number, prefix = "mpd:") {
  for (let tries = 0; await sharedCount(server, sender, prefix) !== count; tries++) {
    assert.ok(tries < 400, `${count} for ${sender} in Redis`);
    await new Promise((done) => setTimeout(done, 25));
  }
}

/**
 * The alert mails for each of `senders` the receiver has, after one pause long enough for a duplicate to
 * arrive (one for all: the senders' alerts would be under way side by side).
 */
async function alertsFor(smtp: SmtpReceiver, ...senders: string[]): Promise<number[]> {
  await new Promise((done) => setTimeout(done, 1000));
  return senders.map((sender) => smtp.mails.filter((mail) => mail.body.includes(sender)).length);
}

/** Counts `sender` past the limit and waits for its (one) alert mail to be delivered and settled. */
async function alerted(daemon: DaemonProcess, smtp: SmtpReceiver, sender: string) {
  assert.deepEqual(await ask(daemon, sender, LIMIT + 1), [...Array(LIMIT).fill("no"), "yes"]);
  await waitFor(() => smtp.mails.some((mail) => mail.body.includes(sender)), 10_000, `${sender}'s alert`);
  await daemon.waitForLog(new RegExp(`alert mail sent key=${sender.replace(".", "\\.")}`));
}

/** Writes the daemon's config again (same paths) and makes it reload; `logged`: what says it is done. */
async function reload(daemon: DaemonProcess, dir: TempDir, extra: string, logged: RegExp) {
  writeTestConfig(dir, extra);
  daemon.signal("SIGHUP");
  await daemon.waitForLog(logged, 20_000).catch((error) => {
    throw new Error(`${error.message}; daemon output:\n${daemon.logs()}`);
  });
}

/** The state file's counters of [thresholds]: their keys and counts. */
function stateRows(dir: TempDir): unknown[] {
  const file = dir.file("state.json");
  if (!existsSync(file)) return [];
  const state = JSON.parse(readFileSync(file, "utf8"));
  return state.limits?.thresholds ?? [];
}

describe("[redis] upgrade path (real daemons, redis-server, SMTP receiver)", () => {
  let server: RedisServer;
  let smtp: SmtpReceiver;
  const dirs: TempDir[] = [];
  const daemons: DaemonProcess[] = [];
  const dir = () => {
    const made = makeTempDir();
    dirs.push(made);
    return made;
  };
  const start = async (where: TempDir, extra: string) => {
    const daemon = await startDaemonProcess(where, writeTestConfig(where, extra));
    daemons.push(daemon);
    return daemon;
  };

  /** A daemon on a new dir that has counted a@DOMAIN to one below the limit and alerted for b@DOMAIN. */
  const counted = async (extra: string, domain: string) => {
    const where = dir();
    const daemon = await start(where, extra);
    assert.deepEqual(await ask(daemon, `a@${domain}`, LIMIT - 1), ["no", "no"]);
    await alerted(daemon, smtp, `b@${domain}`);
    return { where, daemon };
  };

  before(async () => {
    server = await startRedisServer();
    smtp = await startSmtpReceiver();
  });
  after(async () => {
    for (const daemon of daemons) await daemon.stop("SIGKILL");
    await smtp.close();
    await server.stop();
    for (const made of dirs) made.remove();
  });

  it("memory → Redis by a reload: no counter lost, no second alert, another host sees the counts", async () => {
    const memory = alerts(smtp.port);
    const { where: one, daemon } = await counted(memory, "reload.example");

    await reload(
      daemon,
      one,
      memory + redisSection(server),
      /this host's counters added into Redis counters=2/,
    );
    assert.equal(await sharedCount(server, "a@reload.example"), LIMIT - 1);
    assert.deepEqual(
      await ask(daemon, "a@reload.example", 2),
      ["no", "yes"],
      "the Nth accepted, then deferred",
    );
    assert.deepEqual(await ask(daemon, "b@reload.example", 1), ["yes"]);

    const other = await start(dir(), alerts(smtp.port) + redisSection(server));
    assert.deepEqual(await ask(other, "a@reload.example", 1), ["yes"], "the other host sees the count");
    assert.deepEqual(await ask(other, "b@reload.example", 1), ["yes"]);
    // [thresholds] counts every attempt (strict): 2 merged, and 3 asked since.
    assert.equal(await sharedCount(server, "a@reload.example"), LIMIT + 2);
    // a's alert first (it crossed just now, on the other host), then one pause for any second one.
    const alertOfA = () => smtp.mails.some((mail) => mail.body.includes("a@reload.example"));
    await waitFor(alertOfA, 10_000, "a's alert");
    const [alertsOfB, alertsOfA] = await alertsFor(smtp, "b@reload.example", "a@reload.example");
    assert.equal(alertsOfB, 1, "no alert again, on either host");
    assert.equal(alertsOfA, 1, "a's crossing alerted once");
  });

  it("memory → Redis by a restart: the state file's counters go into Redis once, and leave the file", async () => {
    const memory = alerts(smtp.port);
    let { where: one, daemon } = await counted(memory, "restart.example");
    await daemon.stopCleanly();
    const saved = JSON.stringify(stateRows(one));
    assert.match(saved, /a@restart\.example/, "the memory store's state file holds the counters");

    daemon = await start(one, memory + redisSection(server));
    await daemon.waitForLog(/this host's counters added into Redis counters=2 why="?state file restored/);
    assert.equal(await sharedCount(server, "a@restart.example"), LIMIT - 1);
    // The merge is saved soon, not only at a clean stop: a crash after it must not merge the rows again.
    await waitFor(() => !/restart\.example/.test(JSON.stringify(stateRows(one))), 5000, "the merge saved");
    await daemon.stop("SIGKILL");

    daemon = await start(one, memory + redisSection(server));
    await daemon.waitForLog(/state restored keys=0/);
    assert.doesNotMatch(daemon.logs(), /added into Redis/);
    assert.equal(await sharedCount(server, "a@restart.example"), LIMIT - 1, "not added a second time");
    assert.deepEqual(await ask(daemon, "a@restart.example", 2), ["no", "yes"]);
    assert.deepEqual(await ask(daemon, "b@restart.example", 1), ["yes"]);
    assert.deepEqual(await alertsFor(smtp, "b@restart.example"), [1], "no alert again");
  });

  it("Redis → memory by a reload: the shared counts come into memory, no second alert", async () => {
    const memory = alerts(smtp.port);
    const { where: one, daemon } = await counted(memory + redisSection(server), "back.example");

    await reload(daemon, one, memory, /shared counters brought into memory/);
    const client = redisClient(server);
    await client.flushdb(); // from now on only the memory store can know the counts
    client.disconnect();
    assert.deepEqual(
      await ask(daemon, "a@back.example", 2),
      ["no", "yes"],
      "the Nth accepted, then deferred",
    );
    assert.deepEqual(await ask(daemon, "b@back.example", 1), ["yes"]);
    assert.equal(await sharedCount(server, "a@back.example"), 0, "counted in memory, not in Redis");
    assert.deepEqual(await alertsFor(smtp, "b@back.example"), [1], "no alert again");
  });

  it("Redis → memory → Redis by reloads: the shared counts come back once, with what memory counted", async () => {
    const config = `[thresholds]\ntime = 3600\ncount = 10\n`;
    const [one, two] = [dir(), dir()];
    const first = await start(one, config + redisSection(server));
    const second = await start(two, config + redisSection(server));
    assert.deepEqual(await ask(first, "a@round.example", 3), ["no", "no", "no"]);
    await sharedCountReaches(server, "a@round.example", 3);
    await reload(first, one, config, /shared counters brought into memory counters=[1-9]/);
    assert.deepEqual(await ask(first, "a@round.example", 2), ["no", "no"], "counted in memory: 4, 5");
    assert.deepEqual(await ask(second, "a@round.example", 1), ["no"], "meanwhile in Redis: 4");
    await sharedCountReaches(server, "a@round.example", 4);
    await reload(
      first,
      one,
      config + redisSection(server),
      /this host's counters added into Redis counters=[1-9]/,
    );
    assert.equal(
      await sharedCount(server, "a@round.example"),
      6,
      "3 shared + 2 in memory + 1 on the other host",
    );
  });

  it("Redis → memory, a reset, → Redis: what was counted after the reset is added", async () => {
    const config = `[thresholds]\ntime = 3600\ncount = 10\n`;
    const one = dir();
    const daemon = await start(one, config + redisSection(server));
    assert.deepEqual(await ask(daemon, "a@reset.example", 3), ["no", "no", "no"]);
    await sharedCountReaches(server, "a@reset.example", 3);
    await reload(daemon, one, config, /shared counters brought into memory counters=[1-9]/);
    // The postmaster unblocks the sender on this host, in memory: Redis's 3 are not reset (not asked).
    const reset = runMain(["reset", "a@reset.example", "--config", one.file("mailpolicyd.conf")]);
    assert.equal(reset.status, 0, reset.stderr);
    assert.deepEqual(await ask(daemon, "a@reset.example", 1), ["no"], "counted after the reset: 1");
    await reload(
      daemon,
      one,
      config + redisSection(server),
      /this host's counters added into Redis counters=[1-9]/,
    );
    assert.equal(await sharedCount(server, "a@reset.example"), 4, "Redis's 3 and the 1 since the reset");
  });

  it("Redis → memory → Redis by reloads: an address seen is listed as often as it was, not twice", async () => {
    const config = `[thresholds]\ntime = 3600\ncount = 10\n`;
    const rcpt = "rcpt sender=s@sightings.example recipient=x@example.net client_address=192.0.2.7\n";
    const seen = async () => {
      const client = redisClient(server);
      try {
        return Number(await client.hget("mpd:{s@sightings.example}:thresholds", "i:192.0.2.7") ?? 0);
      } finally {
        client.disconnect();
      }
    };
    const one = dir();
    const daemon = await start(one, config + redisSection(server));
    await askMany(daemon.policySocket, rcpt, 3);
    await sharedCountReaches(server, "s@sightings.example", 3);
    await reload(daemon, one, config, /shared counters brought into memory counters=[1-9]/);
    await askMany(daemon.policySocket, rcpt, 2);
    await reload(
      daemon,
      one,
      config + redisSection(server),
      /this host's counters added into Redis counters=[1-9]/,
    );
    assert.equal(await sharedCount(server, "s@sightings.example"), 5);
    assert.equal(await seen(), 5, "3 seen through Redis + 2 in memory, not 8");
  });

  it("Redis → memory, a restart, → Redis: the copies of the shared counters outlive the restart", async () => {
    const config = `[thresholds]\ntime = 3600\ncount = 10\n`;
    const one = dir();
    let daemon = await start(one, config + redisSection(server));
    assert.deepEqual(await ask(daemon, "a@restart.example", 3), ["no", "no", "no"]);
    await sharedCountReaches(server, "a@restart.example", 3);
    await reload(daemon, one, config, /shared counters brought into memory counters=[1-9]/);
    assert.ok(existsSync(one.file("state.json.exported")), "the copies kept beside the state file");
    await daemon.stopCleanly();
    daemon = await start(one, config);
    assert.deepEqual(await ask(daemon, "a@restart.example", 2), ["no", "no"], "4 and 5, in memory");
    await reload(
      daemon,
      one,
      config + redisSection(server),
      /this host's counters added into Redis counters=[1-9]/,
    );
    assert.equal(await sharedCount(server, "a@restart.example"), 5, "3 shared + 2 counted in memory, not 8");
    assert.ok(!existsSync(one.file("state.json.exported")), "used up: removed");
  });

  it("Redis → memory: the copies go once their window has ended, the file with them", async () => {
    const config = `[thresholds]\ntime = 2s\ncount = 10\n`;
    const one = dir();
    const daemon = await start(one, config + redisSection(server));
    assert.deepEqual(await ask(daemon, "a@gone.example", 2), ["no", "no"]);
    await sharedCountReaches(server, "a@gone.example", 2);
    await reload(daemon, one, config, /shared counters brought into memory counters=[1-9]/);
    assert.ok(existsSync(one.file("state.json.exported")), "the copies kept beside the state file");
    // Only a merge into Redis dropped them: a host staying on memory kept every copy, and the file, for good.
    await waitFor(() => !existsSync(one.file("state.json.exported")), 8_000, "the ended copies dropped");
  });

  it("two hosts upgrading together: the shared count is the sum of what each counted", async () => {
    const config = `[thresholds]\ntime = 3600\ncount = 5\n`;
    const [one, two] = [dir(), dir()];
    const first = await start(one, config);
    const second = await start(two, config);
    assert.deepEqual(await ask(first, "a@two.example", 2), ["no", "no"]);
    assert.deepEqual(await ask(second, "a@two.example", 2), ["no", "no"]);
    assert.deepEqual(await ask(second, "c@two.example", 1), ["no"]);

    await reload(
      first,
      one,
      config + redisSection(server),
      /this host's counters added into Redis counters=1/,
    );
    await reload(
      second,
      two,
      config + redisSection(server),
      /this host's counters added into Redis counters=2/,
    );
    assert.equal(await sharedCount(server, "a@two.example"), 4, "2 + 2");
    assert.equal(await sharedCount(server, "c@two.example"), 1);
    assert.equal(await askPolicy(first.policySocket, "a@two.example\n"), "no", "the 5th");
    // As Exim would have taken longer than this to send the next message to the other host.
    await sharedCountReaches(server, "a@two.example", 5);
    assert.equal(
      await askPolicy(second.policySocket, "a@two.example\n"),
      "yes",
      "the 6th, on the other host",
    );
  });

  it("a reload that changes [redis]: the same counters stay, moved ones come along, each once", async () => {
    const one = dir();
    const config = `[thresholds]\ntime = 3600\ncount = ${LIMIT}\n` + redisSection(server);
    let daemon = await start(one, config);
    assert.deepEqual(await ask(daemon, "a@change.example", LIMIT - 1), ["no", "no"]);
    writeTestConfig(one, `${config}over_cache = 2s\n`); // the same counters, used otherwise
    daemon.signal("SIGHUP");
    const started = () => daemon.logs().match(/counters shared through Redis/g)!.length;
    await waitFor(() => started() === 2, 10_000, "the reload");
    await new Promise((done) => setTimeout(done, 1000)); // room for a merge or an export to happen
    assert.equal(await sharedCount(server, "a@change.example"), LIMIT - 1, "not added to itself");

    const moved = config.replace("prefix = mpd:", "prefix = moved:");
    await reload(daemon, one, moved, /shared counters moved to the new Redis counters=[1-9]/); // all of mpd:
    assert.equal(await sharedCount(server, "a@change.example", "moved:"), LIMIT - 1);
    assert.deepEqual(await ask(daemon, "a@change.example", 2), ["no", "yes"]);
    await daemon.stopCleanly();
    assert.doesNotMatch(JSON.stringify(stateRows(one)), /change\.example/, "no copy left in memory");

    daemon = await start(one, moved);
    await daemon.waitForLog(/state restored keys=0/);
    assert.equal(
      await sharedCount(server, "a@change.example", "moved:"),
      LIMIT + 1,
      "2 carried over, 2 asked",
    );
  });

  it("a move under traffic: the old Redis answers until its counters are over, none of them lost", async () => {
    const one = dir();
    const config = `[thresholds]\ntime = 3600\ncount = 1000000\n` + redisSection(server);
    const daemon = await start(one, config);
    // 20 000 other counters to move, so that the move takes a while.
    const client = redisClient(server);
    const now = Date.now();
    const pipeline = client.pipeline();
    for (let i = 0; i < 20_000; i++) {
      const key = `mpd:{f${i}@fill.example}:thresholds`;
      pipeline.hset(key, "t", now, "c", 1, "l", now, "a", 0, "p", 0);
      pipeline.pexpire(key, 3_600_000);
    }
    await pipeline.exec();
    client.disconnect();
    await ask(daemon, "hot@traffic.example", 200);
    await sharedCountReaches(server, "hot@traffic.example", 200);
    // The hot sender goes on while the daemon moves to another prefix.
    let during = 0;
    let moving = true;
    const traffic = (async () => {
      while (moving) during += (await ask(daemon, "hot@traffic.example", 10)).length;
    })();
    writeTestConfig(one, config.replace("prefix = mpd:", "prefix = busy:"));
    daemon.signal("SIGHUP");
    await daemon.waitForLog(/shared counters moved to the new Redis counters=[1-9]/, 30_000);
    moving = false;
    await traffic;
    await ask(daemon, "hot@traffic.example", 100);
    await new Promise((done) => setTimeout(done, 300)); // the last commits reach Redis
    const moved = await sharedCount(server, "hot@traffic.example", "busy:");
    const stayed = await sharedCount(server, "hot@traffic.example");
    // The old Redis counted during the move (it answered); every count made before the move and after it
    // is in the new one; of those made during it, the ones after the key's copy stayed in the old one, and
    // the ones after the switch (before the test saw its log line) are in the new one only. How many fall
    // on each side depends on when the copy and the switch came, so the test checks that none is lost:
    // each is in one Redis at least (the ones before the key's copy in both).
    assert.ok(during > 0 && stayed > 200, `${stayed - 200} of ${during} counted in the old Redis`);
    assert.ok(moved >= 300 && moved <= 300 + during, `${moved}: 200 before, ${during} during, 100 after`);
    assert.ok(
      stayed - 200 + (moved - 300) >= during,
      `none lost: ${stayed - 200} in the old Redis and ${
        moved - 300
      } in the new of ${during} during the move`,
    );
  });

  it("two hosts moving to another prefix: the shared counts are written once, not once per host", async () => {
    const [one, two] = [dir(), dir()];
    const config = `[thresholds]\ntime = 3600\ncount = ${LIMIT}\n` + redisSection(server);
    const first = await start(one, config);
    const second = await start(two, config);
    assert.deepEqual(await ask(first, "a@move.example", 1), ["no"]);
    assert.deepEqual(await ask(second, "a@move.example", 1), ["no"]);
    await sharedCountReaches(server, "a@move.example", 2);
    const moved = config.replace("prefix = mpd:", "prefix = twice:");
    await reload(first, one, moved, /shared counters moved to the new Redis/);
    await reload(second, two, moved, /shared counters moved to the new Redis/);
    assert.equal(await sharedCount(server, "a@move.example", "twice:"), 2, "not 4");
    assert.deepEqual(await ask(second, "a@move.example", 2), ["no", "yes"]);
  });

  it("memory → Redis by a reload while Redis is down: the counters go in once it answers", async () => {
    const one = dir();
    const config = `[thresholds]\ntime = 3600\ncount = ${LIMIT}\n`;
    const daemon = await start(one, config);
    assert.deepEqual(await ask(daemon, "a@down.example", LIMIT - 1), ["no", "no"]);
    await server.kill9();
    await reload(daemon, one, config + redisSection(server), /counters not yet added into Redis/);
    await server.restart(); // no request meanwhile: nothing but the merge itself can notice
    await daemon.waitForLog(/Redis is back: shared counting again mergedFromLocal=1/, 15_000);
    assert.equal(await sharedCount(server, "a@down.example"), LIMIT - 1);
    assert.deepEqual(await ask(daemon, "a@down.example", 2), ["no", "yes"]);
  });
});
