// The alerter tells the counters actor that an alert's mail went out (`alerts.done`), and the counters actor
// takes it out of its outbox and journals it. When the counters actor had failed and the supervisor had not
// restarted it yet, nobody took that message: the restarted counters actor restored the alert from the state
// file into its outbox, offered it to the alerter, and the postmaster got the mail twice.
import assert from "node:assert/strict";
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

describe("an alert delivered while the counters actor is down", () => {
  const dir = makeTempDir();
  after(() => dir.remove());

  it("is not sent again by the restarted counters actor", { timeout: 30_000 }, async () => {
    const parsed = parseConfig(
      `[daemon]\nstate_file = ${dir.file("state.json")}\n[thresholds]\ntime = 1h\ncount = 1\n` +
        "[alerts]\nfromAddr = postmaster@example.org\ntoAddr = abuse@example.org\n",
      "t",
      dir.path,
    );
    assert.ok(parsed.ok);
    const config = parsed.config;
    const lines: string[] = [];
    const log = createLogger("info", (line) => lines.push(line));
    const metrics = createMetrics();
    // The first mail waits for the relay's answer until the test gives it; any later one goes at once.
    const mails: AlertMail[] = [];
    let relayAnswers = () => {};
    const send: SendAlertMail = (mail) => {
      mails.push(mail);
      return mails.length > 1 ? Promise.resolve() : new Promise((resolve) => relayAnswers = () => resolve());
    };
    const supervisor = createActor(supervisorMachine, {
      clock: new SimulatedClock(), // a failed child is restarted when the test says, not on a timer
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
    const stats = () => new Promise<CountersStats>((reply) => counters()!.send({ type: "stats", reply }));
    const hit = () =>
      new Promise((reply) =>
        counters()!.send({ type: "hit", request: { form: "legacy", key: "spammer@example.org" }, reply })
      );
    try {
      await waitFor(() => lines.some((line) => / state restored /.test(line)), 10_000, "the first restore");
      await hit();
      await hit(); // over the limit: an alert, in the outbox and the journal, offered to the alerter
      await waitFor(() => mails.length === 1, 10_000, "the alert mail handed to the relay");

      // The counters actor fails while the relay has the mail; its state, the alert in the outbox, is saved.
      (supervisor.system.get("counters") as AnyActorRef).send({
        type: "actor.fail",
        error: new Error("injected"),
      });
      assert.equal(counters(), undefined, "the counters actor is down, its restart due later");
      relayAnswers(); // 250: the mail went out, and the alerter says so
      await waitFor(() => metrics.alertsSent === 1, 10_000, "the alert counted as sent");

      supervisor.send({ type: "restart", id: "counters" });
      await waitFor(
        () => lines.filter((line) => / state restored /.test(line)).length === 2,
        10_000,
        "the restore",
      );
      while ((await stats()).pendingAlerts > 0) await new Promise((resolve) => setTimeout(resolve, 25));
      // Before: the restored outbox offered the alert again, and a second mail went to the relay.
      assert.equal(mails.length, 1, "one mail for one alert");
      assert.ok(
        lines.some((line) => /alert offered again by the restarted counters: done, not sent/.test(line)),
        lines.join("\n"),
      );
    } finally {
      supervisor.stop();
    }

    // Journaled as done, by the counters actor that had it offered again: the next start has no alert to send.
    const next = createActor(countersActor, { input: { config, log, metrics } });
    next.start();
    try {
      await waitFor(
        () => lines.filter((line) => / state restored /.test(line)).length === 3,
        10_000,
        "the restore",
      );
      const restarted = await new Promise<CountersStats>((reply) => next.send({ type: "stats", reply }));
      assert.equal(restarted.pendingAlerts, 0, lines.join("\n"));
    } finally {
      next.stop();
    }
  });
});
