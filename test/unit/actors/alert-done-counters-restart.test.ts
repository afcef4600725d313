// The alerter tells the counters actor what became of an alert's mail (`alerts.done`: delivered or given up;
// `alerts.partly`: delivered to all but the recipients the relay deferred), and the counters actor updates its
// outbox and journals it. When the counters actor had failed and the supervisor had not restarted it yet,
// nobody took that message: the restarted counters actor restored the alert as the state file had it and
// offered it to the alerter. A delivered alert was mailed twice; a partly delivered one stayed in the outbox
// for every recipient, so the next restart of the daemon mailed those who had it again.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { type AnyActorRef, createActor, SimulatedClock } from "xstate";
import { liveActor } from "../../../src/actors/actor.ts";
import type { SendAlertMail } from "../../../src/actors/alert-transport.ts";
import { alerterMachine } from "../../../src/actors/alerter.ts";
import { countersActor, type CountersStats } from "../../../src/actors/counters.ts";
import { supervisorMachine } from "../../../src/actors/supervisor.ts";
import { parseConfig } from "../../../src/config/load.ts";
import { createMetrics } from "../../../src/control/metrics.ts";
import { createLogger } from "../../../src/log.ts";
import type { AlertMail } from "../../../src/policy/alert-notice.ts";
import { waitFor } from "../../helpers/daemon-process.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

/**
 * The real counters actor and alerter under the supervisor, on a simulated clock: a failed child is restarted
 * when the test says, and an alert mail that failed for the time being is not tried again. The first mail
 * waits for the relay's answer until the test gives it (`relay`); any later one goes at once.
 */
function startActors(stateFile: string, folder: string, alerts: string) {
  const parsed = parseConfig(
    `[daemon]\nstate_file = ${stateFile}\n[thresholds]\ntime = 1h\ncount = 1\n` +
      `[alerts]\nfromAddr = postmaster@example.org\n${alerts}retry_min = 1h\nretry_max = 1h\n`,
    "t",
    folder,
  );
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.errors.join("\n"));
  const config = parsed.config;
  const lines: string[] = [];
  const log = createLogger("info", (line) => lines.push(line));
  const metrics = createMetrics();
  const mails: AlertMail[] = [];
  const relay = { answer: (_error?: Error) => {} };
  const send: SendAlertMail = (mail) => {
    mails.push(mail);
    if (mails.length > 1) return Promise.resolve();
    return new Promise((resolve, reject) => relay.answer = (error) => error ? reject(error) : resolve());
  };
  const supervisor = createActor(supervisorMachine, {
    clock: new SimulatedClock(),
    input: {
      log,
      children: [
        { id: "counters", logic: countersActor, input: () => ({ config, log, metrics }) },
        {
          id: "alerter",
          logic: alerterMachine,
          input: () => ({ config, log, metrics, transport: () => send }),
        },
      ],
    },
  });
  supervisor.start();
  const counters = () => liveActor(supervisor.system, "counters");
  const restores = (n: number) =>
    waitFor(() => lines.filter((line) => / state restored /.test(line)).length === n, 10_000, `restore ${n}`);
  return {
    config,
    lines,
    log,
    metrics,
    mails,
    relay,
    supervisor,
    counters,
    restores,
    stats: () => new Promise<CountersStats>((reply) => counters()!.send({ type: "stats", reply })),
    hit: () =>
      new Promise((reply) =>
        counters()!.send({ type: "hit", request: { form: "legacy", key: "spammer@example.org" }, reply })
      ),
    /** Fails the counters actor (its state, the alert in the outbox, is saved); restarted by `restart`. */
    failCounters() {
      (supervisor.system.get("counters") as AnyActorRef).send({
        type: "actor.fail",
        error: new Error("injected"),
      });
      assert.equal(counters(), undefined, "the counters actor is down, its restart due later");
    },
    restartCounters: () => supervisor.send({ type: "restart", id: "counters" }),
  };
}

describe("an alert's end reported while the counters actor is down", () => {
  const dir = makeTempDir();
  after(() => dir.remove());

  it("a delivered alert is not sent again by the restarted counters actor", { timeout: 30_000 }, async () => {
    const actors = startActors(dir.file("done.json"), dir.path, "toAddr = abuse@example.org\n");
    const { lines, mails, metrics } = actors;
    try {
      await actors.restores(1);
      await actors.hit();
      await actors.hit(); // over the limit: an alert, in the outbox and the journal, offered to the alerter
      await waitFor(() => mails.length === 1, 10_000, "the alert mail handed to the relay");

      actors.failCounters(); // while the relay has the mail
      actors.relay.answer(); // 250: the mail went out, and the alerter says so
      await waitFor(() => metrics.alertsSent === 1, 10_000, "the alert counted as sent");

      actors.restartCounters();
      await actors.restores(2);
      while ((await actors.stats()).pendingAlerts > 0) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      // Before: the restored outbox offered the alert again, and a second mail went to the relay.
      assert.equal(mails.length, 1, "one mail for one alert");
      assert.ok(
        lines.some((line) => /alert offered again by the restarted counters: done, not sent/.test(line)),
        lines.join("\n"),
      );
    } finally {
      actors.supervisor.stop();
    }

    // Journaled as done, by the counters actor that had it offered again: the next start has no alert to send.
    const next = createActor(countersActor, { input: { config: actors.config, log: actors.log, metrics } });
    next.start();
    try {
      await actors.restores(3);
      const restarted = await new Promise<CountersStats>((reply) => next.send({ type: "stats", reply }));
      assert.equal(restarted.pendingAlerts, 0, lines.join("\n"));
    } finally {
      next.stop();
    }
  });

  it(
    "a partly delivered alert keeps only the deferred recipient in the outbox",
    { timeout: 30_000 },
    async () => {
      const stateFile = dir.file("partly.json");
      const actors = startActors(
        stateFile,
        dir.path,
        "toAddr = abuse@example.org\nccAddr = boss@example.org\n",
      );
      const { lines, mails } = actors;
      try {
        await actors.restores(1);
        await actors.hit();
        await actors.hit();
        await waitFor(() => mails.length === 1, 10_000, "the alert mail handed to the relay");

        actors.failCounters();
        // The relay took it for abuse@ and deferred boss@ (452 at RCPT TO, as alert-transport.ts reports it).
        actors.relay.answer(
          Object.assign(new Error("452 4.2.2 mailbox full"), {
            responseCode: 452,
            undelivered: ["boss@example.org"],
          }),
        );
        await waitFor(
          () => lines.some((line) => /alert mail failed, will retry/.test(line)),
          10_000,
          "the retry",
        );

        actors.restartCounters();
        await actors.restores(2);
      } finally {
        actors.supervisor.stop(); // the counters actor's last snapshot: what the next start of the daemon reads
      }
      const outbox = JSON.parse(readFileSync(stateFile, "utf8")).outbox;
      assert.equal(outbox.length, 1, JSON.stringify(outbox));
      // Before: no recipients kept, and the next start mailed abuse@ a second copy.
      assert.deepEqual(outbox[0].recipients, ["boss@example.org"], lines.join("\n"));
      assert.ok(
        lines.some((line) => /offered again by the restarted counters: still to reach .*to=boss@/.test(line)),
      );
    },
  );
});
