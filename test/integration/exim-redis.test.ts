// Real mail while Redis fails under a daemon with [redis] fallback = local: an Exim daemon (exim -bd on a
// loopback port, the plain snippet over TCP) asks the daemon, swaks sends, the maildir receives. With Redis
// killed and then hung (SIGSTOP), every message is delivered byte for byte, and it is the daemon that
// answers (counting locally within [redis] timeout), not Exim's fail-open; the incident is logged, and the
// messages counted meanwhile are added into Redis once it is back. The same with [redis] answer_ahead = yes
// (the daemon accepts before Redis answers; Redis or the fallback still counts every message once).
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { waitFor } from "../helpers/daemon-process.ts";
import { swaksWith } from "../helpers/exim.ts";
import { type MaildirExim, startMaildirExim } from "../helpers/exim-maildir.ts";
import { httpGet } from "../helpers/http-get.ts";
import { redisClient } from "../helpers/redis-engines.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";

const SENDER = "sender@example.org";
const FAIL_OPEN = /mailpolicyd: (no|unexpected) answer, accepting \(fail-open\)/;

for (const answerAhead of ["no", "yes"]) {
  describe(`[redis] fallback = local, answer_ahead = ${answerAhead}, with real mail (exim -bd, swaks, maildir)`, () => {
    let server: RedisServer;
    let mx: MaildirExim;
    let sequence = 0;

    /** Sends one message to a@example.net and checks the maildir has it exactly as sent. */
    const deliveredIntact = async (state: string) => {
      const id = `${state}-${++sequence}-${Date.now()}@test.example`;
      const lines = [`From: ${SENDER}`, "To: a@example.net", `Subject: ${state}`, `Message-ID: <${id}>`, ""];
      for (let i = 0; i < 6; i++) lines.push(`line ${i} of ${id}: "quoted" =3D tabs\there, 8bit: grüße.`);
      const text = `${lines.join("\n")}\n`; // the maildir stores LF line ends
      const file = mx.dir.file(`message-${sequence}.eml`);
      writeFileSync(file, text.slice(0, -1).replaceAll("\n", "\r\n")); // swaks adds CRLF "." CRLF
      const sent = await swaksWith([
        ...["--server", "127.0.0.1", "--port", String(mx.exim.port), "--helo", "client.example"],
        ...["--from", SENDER, "--to", "a@example.net", "--data", file],
      ]);
      assert.equal(sent.status, 0, `swaks (${state}):\n${sent.output}`);
      const copies = () => mx.messages().filter((message) => message.includes(id));
      await waitFor(() => copies().length > 0, 20_000, `delivery of ${id}`);
      assert.equal(copies().length, 1);
      assert.ok(copies()[0].endsWith(text), `damaged:\n${copies()[0]}`);
    };

    const mainlog = () => {
      const file = mx.dir.file("log/mainlog");
      return existsSync(file) ? readFileSync(file, "latin1") : "";
    };

    /** The shared count of SENDER under [limit roomy], read from Redis itself. */
    const sharedCount = async () => {
      const client = redisClient(server);
      try {
        return Number(await client.hget(`mpd:{${SENDER}}:roomy`, "c") ?? 0);
      } finally {
        client.disconnect();
      }
    };

    before(async () => {
      server = await startRedisServer();
      mx = await startMaildirExim(() =>
        `[limit roomy]\ncount = 1000\ntime = 1h\n` +
        `[redis]\nurl = ${server.url}\nprefix = mpd:\nfallback = local\ntimeout = 200ms\nretry_every = 300ms\n` +
        `answer_ahead = ${answerAhead}\n`
      );
    });
    after(async () => {
      server.resume();
      await mx?.stop();
      await server.stop();
    });

    it("delivers intact and counts in Redis while Redis answers", async () => {
      await deliveredIntact("up");
      assert.equal(await sharedCount(), 1);
      const metrics = await httpGet({ socketPath: mx.dir.file("control.sock"), path: "/metrics" });
      const ahead = Number(/^mailpolicyd_redis_answered_ahead_total (\d+)/m.exec(metrics.body)?.[1]);
      if (answerAhead === "yes") assert.ok(ahead > 0, "the daemon answered ahead of Redis");
      else assert.equal(ahead, 0);
    });

    it("delivers intact with Redis killed, logs the incident, and adds the local counts once Redis is back", async () => {
      await server.kill9();
      await deliveredIntact("killed");
      await deliveredIntact("killed");
      await mx.daemon.waitForLog(/warn redis: Redis unavailable: the fallback answers until it is back/);
      assert.doesNotMatch(mainlog(), FAIL_OPEN, "the daemon answered, Exim did not fall back");

      await server.restart(); // empty: what was counted before the crash is gone with it
      await mx.daemon.waitForLog(/Redis is back: shared counting again mergedFromLocal=1/, 15_000);
      assert.equal(await sharedCount(), 2, "the two messages counted locally meanwhile");
      await deliveredIntact("restarted");
      assert.equal(await sharedCount(), 3);
    });

    it("delivers intact with Redis hung (SIGSTOP) within Exim's timeout, and counts each message once", async () => {
      const incidents = () => mx.daemon.logs().match(/Redis unavailable/g)!.length;
      const backs = () => mx.daemon.logs().match(/Redis is back/g)!.length;
      const [before, back] = [incidents(), backs()];
      server.pause();
      try {
        await deliveredIntact("hung");
        await waitFor(() => incidents() === before + 1, 10_000, "the second incident logged");
        assert.doesNotMatch(mainlog(), FAIL_OPEN, "answered within Exim's timeout, by the daemon");
      } finally {
        server.resume();
      }
      await waitFor(() => backs() === back + 1, 15_000, "Redis back after SIGCONT");
      assert.equal(
        await sharedCount(),
        4,
        "counted once: locally, then added; the timed-out check wrote nothing",
      );
      await deliveredIntact("resumed");
      assert.equal(await sharedCount(), 5);
    });
  });
}
