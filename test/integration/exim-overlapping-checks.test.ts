// Limits count exactly also while another concern is still thinking. With [spf] a RCPT whose SPF result is
// not cached yet is decided in two passes: the limits check it, SPF looks its record up (DNS, here slowed
// to 200 ms a query), then the merged decision is committed. Several SMTP sessions of one client (a spam run, a
// busy relay) send their RCPTs within that time; each was checked against the level before the others'
// commits, so all were accepted: three messages through a limit of two. A real Exim (exim -bd) asking an
// in-process daemon whose DNS is nsd behind a slow relay; three sessions send their RCPT at once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { type EximDaemon, prepareEximDir } from "../helpers/exim.ts";
import type { Nsd } from "../helpers/nsd.ts";
import { openSmtpSession, type SmtpSession } from "../helpers/smtp-session.ts";
import { startDeliveringExim } from "../helpers/exim-maildir.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { type DnsRelay, startDnsRelay, startSpfNsd } from "../helpers/spf-zone.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

describe("a limit while SPF is still looking up: concurrent sessions, in a real Exim", () => {
  let dir: TempDir;
  let nsd: Nsd;
  let relay: DnsRelay;
  let daemon: Daemon;
  let exim: EximDaemon;
  const lines: string[] = [];

  before(async () => {
    dir = makeTempDir();
    prepareEximDir(dir);
    nsd = await startSpfNsd();
    relay = await startDnsRelay(nsd.port);
    relay.delayMs = 200;
    const policyPort = await freePort();
    const parsed = parseConfig(
      `[daemon]\npolicy_socket = policy.sock\ncontrol_socket = control.sock\npidfile = d.pid\n` +
        `state_file = state.json\npolicy_listen = 127.0.0.1:${policyPort}\n` +
        `[limit per_client]\nkey = client_address\ncount = 2\ntime = 1h\n` +
        `[spf]\ntimeout = 1800ms\ndns_servers = 127.0.0.1:${relay.port}\ndns_timeout = 1s\ndns_tries = 1\n` +
        `exempt = authenticated\nhelo_check = off\nsoftfail = accept\n`,
      "test.conf",
      dir.path,
    );
    assert.ok(parsed.ok, JSON.stringify(parsed));
    daemon = startDaemon({ config: parsed.config, log: createLogger("info", (line) => lines.push(line)) });
    await waitFor(() => lines.some((line) => line.includes("policy: listening")), 5000, "listener");
    exim = await startDeliveringExim(dir, `inet:127.0.0.1:${policyPort}`, await freePort());
  });
  after(async () => {
    await exim?.stop();
    daemon?.stop();
    relay?.close();
    await nsd?.stop();
    dir?.remove();
  });

  const open = async (sender: string): Promise<SmtpSession> => {
    const session = await openSmtpSession(exim.port);
    assert.match(await session.send("EHLO client.example"), /^250/m);
    assert.match(await session.send(`MAIL FROM:<${sender}>`), /^250/);
    return session;
  };

  it("lets two of three simultaneous messages through a limit of two, and defers the third", async () => {
    // Three sender domains: three SPF results not cached yet, each waiting for the slow DNS.
    const senders = ["a@pass.spf.test", "b@soft.spf.test", "c@redir.spf.test"];
    const sessions = await Promise.all(senders.map(open));
    try {
      const replies = await Promise.all(
        sessions.map((session) => session.send("RCPT TO:<user@example.net>")),
      );
      const accepted = replies.filter((reply) => reply.startsWith("250"));
      const deferred = replies.filter((reply) => reply.startsWith("451"));
      assert.equal(accepted.length, 2, replies.join("\n"));
      assert.deepEqual(
        deferred,
        ["451 127.0.0.1 over limit: 2 messages in 1h (limit 2)"],
        replies.join("\n"),
      );
      for (const [i, session] of sessions.entries()) {
        if (!replies[i].startsWith("250")) continue;
        assert.match(await session.send("DATA"), /^354/);
        assert.match(await session.sendData(`Subject: at once ${i}\n\nbody\n`), /^250/);
      }
    } finally {
      for (const session of sessions) session.close();
    }
    // The count stands at two: a later message (its SPF now cached) is told so.
    const later = await open("a@pass.spf.test");
    try {
      assert.equal(
        await later.send("RCPT TO:<user@example.net>"),
        "451 127.0.0.1 over limit: 2 messages in 1h (limit 2)",
      );
    } finally {
      later.close();
    }
  });
});
