// The alerter machine: digest routing, alerts withdrawn from its queue, and delivery through a fake transport
// on xstate's simulated clock (the backoff's exact delays, 5xx parked at once, retry_for), and an alert left
// in the counters actor's outbox delivered by a restarted alerter (a fake counters actor keeps the outbox).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type AnyActorRef, createActor, SimulatedClock, waitFor } from "xstate";
import { defineActor, liveActor } from "../../../src/actors/actor.ts";
import type { SendAlertMail } from "../../../src/actors/alert-transport.ts";
import { alerterMachine } from "../../../src/actors/alerter.ts";
import { supervisorMachine } from "../../../src/actors/supervisor.ts";
import { parseConfig } from "../../../src/config/load.ts";
import type { Config } from "../../../src/config/types.ts";
import { createMetrics } from "../../../src/control/metrics.ts";
import { createLogger } from "../../../src/log.ts";
import type { AlertMail, AlertNotice } from "../../../src/policy/alert-notice.ts";
import { freePort } from "../../helpers/smtp-receiver.ts";

const notice = (i: number): AlertNotice => ({
  id: `thresholds|k${i}@example.org|0`,
  limit: "thresholds",
  keyKind: "sender",
  key: `k${i}@example.org`,
  count: 2,
  limitCount: 1,
  windowMs: 300_000,
  firstSeen: Date.now() - 1000,
  lastSeen: Date.now(),
  topSubjects: [],
  topClientIps: [],
});

function start(configText: string) {
  const parsed = parseConfig(configText, "t", "/");
  assert.ok(parsed.ok);
  const actor = createActor(alerterMachine, {
    input: { config: parsed.config, log: createLogger("error", () => {}), metrics: createMetrics() },
  });
  actor.start();
  return actor;
}

const idsOf = (notices: AlertNotice[]) => notices.map((n) => n.key);

describe("alerter machine", () => {
  it("holds alerts beyond digest_after for one digest, and offers of a known alert are ignored", async () => {
    const port = await freePort(); // nothing listens: no mail leaves the test
    const actor = start(
      `[alerts]\nfromAddr = a@x.org\ntoAddr = b@x.org\nsmtp_port = ${port}\ndigest_after = 2\ndigest_window = 1h\n`,
    );
    for (let i = 0; i < 5; i++) actor.send({ type: "alert", notice: notice(i) });
    actor.send({ type: "alert", notice: notice(4) });
    const { context, value } = actor.getSnapshot();
    assert.deepEqual(value, { delivery: "sending", digest: "collecting" });
    assert.deepEqual(idsOf(context.current!.notices), ["k0@example.org"]);
    assert.deepEqual(context.queue.map((item) => idsOf(item.notices)), [["k1@example.org"]]);
    assert.deepEqual(idsOf(context.held), ["k2@example.org", "k3@example.org", "k4@example.org"]);
    actor.stop();
  });

  it("takes withdrawn alerts out of the queue and the held digest", async () => {
    const port = await freePort(); // nothing listens: every attempt fails for the time being
    const actor = start(
      `[alerts]\nfromAddr = a@x.org\ntoAddr = b@x.org\nsmtp_port = ${port}\nretry_min = 1h\nretry_max = 1h\n` +
        "digest_after = 3\ndigest_window = 1h\n",
    );
    for (let i = 0; i < 5; i++) actor.send({ type: "alert", notice: notice(i) });
    actor.send({ type: "alert.withdraw", id: notice(1).id });
    actor.send({ type: "alert.withdraw", id: notice(3).id });
    actor.send({ type: "alert.withdraw", id: "never queued" });
    const { context } = actor.getSnapshot();
    assert.deepEqual(context.queue.map((item) => idsOf(item.notices)), [["k2@example.org"]]);
    assert.deepEqual(idsOf(context.held), ["k4@example.org"]);
    assert.equal(context.known.has(notice(1).id), false);
    actor.send({ type: "alert", notice: notice(1) });
    assert.deepEqual(
      idsOf(actor.getSnapshot().context.held),
      ["k4@example.org", "k1@example.org"],
      "offered again",
    );
    actor.stop();
  });

  it("says a withdrawn alert was dropped in the recent alerts, not that it is still pending", () => {
    const parsed = parseConfig(
      "[alerts]\nfromAddr = a@x.org\ntoAddr = b@x.org\nsmtp_port = 9\nretry_min = 1h\nretry_max = 1h\n" +
        "digest_after = 3\ndigest_window = 1h\n",
      "t",
      "/",
    );
    assert.ok(parsed.ok);
    const metrics = createMetrics();
    const actor = createActor(alerterMachine, {
      input: { config: parsed.config, log: createLogger("error", () => {}), metrics },
    });
    actor.start();
    for (let i = 0; i < 5; i++) actor.send({ type: "alert", notice: notice(i) });
    actor.send({ type: "alert.withdraw", id: notice(1).id }); // queued
    actor.send({ type: "alert.withdraw", id: notice(3).id }); // held for the digest
    const statusOf = (i: number) => metrics.recentAlerts.find((alert) => alert.id === notice(i).id)?.status;
    assert.equal(statusOf(1), "dropped");
    assert.equal(statusOf(3), "dropped");
    assert.equal(statusOf(2), "pending");
    actor.stop();
  });
});

/** xstate's simulated clock, keeping every delay the machine asks it for. */
class RecordingClock extends SimulatedClock {
  delays: number[] = [];
  override setTimeout(fn: (...args: unknown[]) => void, timeout: number): number {
    this.delays.push(timeout);
    return super.setTimeout(fn, timeout);
  }
}

/** An SMTP client's failure as nodemailer reports it: with the reply code when the relay answered. */
const smtpError = (message: string, responseCode?: number) =>
  Object.assign(new Error(message), responseCode === undefined ? {} : { responseCode });

/** A transport that fails with each of `failures` in turn, then delivers; it keeps every mail it is given. */
function fakeTransport(failures: Error[]) {
  const mails: AlertMail[] = [];
  const send: SendAlertMail = (mail) => {
    mails.push(mail);
    const failure = failures.shift();
    return failure ? Promise.reject(failure) : Promise.resolve();
  };
  return { mails, send, failures };
}

function alertsConfig(extra: string): Config {
  const parsed = parseConfig(`[alerts]\nfromAddr = a@x.org\ntoAddr = b@x.org\n${extra}`, "t", "/");
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.errors.join("\n"));
  return parsed.config;
}

/** The alerter alone on a recording clock, mail going to `send`. */
function startAlerter(config: Config, send: SendAlertMail) {
  const clock = new RecordingClock();
  const lines: string[] = [];
  const metrics = createMetrics();
  const actor = createActor(alerterMachine, {
    clock,
    input: { config, log: createLogger("info", (line) => lines.push(line)), metrics, transport: () => send },
  });
  actor.start();
  const inState = (delivery: "idle" | "sending" | "backingOff") =>
    waitFor(actor, (snapshot) => snapshot.matches({ delivery }), { timeout: 2000 });
  return { actor, clock, lines, metrics, inState };
}

describe("alerter machine: delivery through a fake transport", () => {
  it("backs off retry_min doubling up to retry_max, and starts again from retry_min after a delivery", async () => {
    const connectionRefused = () => smtpError("connect ECONNREFUSED 127.0.0.1:25");
    const transport = fakeTransport(Array.from({ length: 6 }, connectionRefused));
    const { actor, clock, lines, metrics, inState } = startAlerter(
      alertsConfig("retry_min = 100ms\nretry_max = 1s\n"),
      transport.send,
    );
    actor.send({ type: "alert", notice: notice(1) });
    for (const [attempt, delay] of [100, 200, 400, 800, 1000, 1000].entries()) {
      await inState("backingOff");
      assert.equal(transport.mails.length, attempt + 1);
      assert.equal(clock.delays.at(-1), delay, `after failure ${attempt + 1}`);
      clock.increment(delay - 1);
      assert.ok(actor.getSnapshot().matches({ delivery: "backingOff" }), `still waiting at ${delay - 1} ms`);
      clock.increment(1);
      assert.ok(actor.getSnapshot().matches({ delivery: "sending" }), `sending again at ${delay} ms`);
    }
    await inState("idle");
    assert.equal(transport.mails.length, 7);
    assert.equal(metrics.alertsSent, 1);
    assert.equal(metrics.alertsFailed, 6);
    assert.deepEqual(
      lines.filter((line) => line.includes("will retry")).map((line) =>
        Number(/retry_in_ms=(\d+)/.exec(line)?.[1])
      ),
      [100, 200, 400, 800, 1000, 1000],
      "the log says the delay it waits",
    );

    // A delivery ends the run of failures: the next failure waits retry_min again.
    transport.failures.push(connectionRefused());
    actor.send({ type: "alert", notice: notice(2) });
    await inState("backingOff");
    assert.deepEqual(clock.delays, [100, 200, 400, 800, 1000, 1000, 100]);
    clock.increment(100);
    await inState("idle");
    assert.equal(metrics.alertsSent, 2);
    actor.stop();
  });

  it("parks a mail refused for good (5xx) at once, without backing off, and sends the next", async () => {
    const transport = fakeTransport([smtpError("554 5.7.1 relay denied", 554)]);
    const { actor, clock, lines, metrics, inState } = startAlerter(
      alertsConfig("retry_min = 1h\nretry_max = 1h\n"),
      transport.send,
    );
    actor.send({ type: "alert", notice: notice(1) });
    actor.send({ type: "alert", notice: notice(2) });
    await waitFor(actor, () => metrics.alertsSent === 1, { timeout: 2000 });
    await inState("idle");
    assert.deepEqual(clock.delays, [], "no backoff: the next mail went at once");
    assert.deepEqual(transport.mails.map((mail) => mail.text.includes("k1@example.org")), [true, false]);
    assert.equal(metrics.alertsParked, 1);
    assert.equal(metrics.alertsFailed, 0, "a refusal is not a failed attempt to retry");
    assert.deepEqual(
      metrics.parkedAlerts.map(({ key, status, error }) => [key, status, error]),
      [["k1@example.org", "parked", "554 5.7.1 relay denied"]],
    );
    assert.match(
      lines.join("\n"),
      /alert mail given up, parked key=k1@example\.org .*reason="refused for good"/,
    );
    assert.equal(actor.getSnapshot().context.known.size, 0, "both settled");
    actor.stop();
  });

  it("retries a 503 (bad sequence: a new connection may pass) and a 4xx, as for the time being", async () => {
    const transport = fakeTransport([
      smtpError("503 5.5.1 bad sequence", 503),
      smtpError("451 try later", 451),
    ]);
    const { actor, clock, metrics, inState } = startAlerter(
      alertsConfig("retry_min = 10ms\nretry_max = 1s\n"),
      transport.send,
    );
    actor.send({ type: "alert", notice: notice(1) });
    await inState("backingOff");
    clock.increment(10);
    await inState("backingOff");
    clock.increment(20);
    await inState("idle");
    assert.deepEqual(clock.delays, [10, 20]);
    assert.deepEqual([metrics.alertsSent, metrics.alertsFailed, metrics.alertsParked], [1, 2, 0]);
    actor.stop();
  });

  // When the outbox is full the counters actor withdraws its oldest alerts, which may be all but one of a
  // digest waiting in the queue behind a relay that is down: the one left used to go out as a "digest of 1
  // keys" ("1 keys passed their limits at about the same time ... so this one mail lists them all").
  it("sends a queued digest that withdrawals left with one key as that key's own alert", async () => {
    const transport = fakeTransport([smtpError("connect ECONNREFUSED 127.0.0.1:25")]);
    const { actor, clock, metrics, inState } = startAlerter(
      alertsConfig("retry_min = 1h\nretry_max = 1h\ndigest_after = 1\ndigest_window = 1s\n"),
      transport.send,
    );
    actor.send({ type: "alert", notice: notice(1) });
    await inState("backingOff");
    actor.send({ type: "alert", notice: notice(2) });
    actor.send({ type: "alert", notice: notice(3) });
    clock.increment(1000); // the digest of k2 and k3 joins the queue behind k1
    assert.deepEqual(actor.getSnapshot().context.queue.map((item) => idsOf(item.notices)), [
      ["k1@example.org"],
      ["k2@example.org", "k3@example.org"],
    ]);
    actor.send({ type: "alert.withdraw", id: notice(2).id });
    clock.increment(3_600_000);
    await waitFor(
      actor,
      () => transport.mails.length === 3 && actor.getSnapshot().matches({ delivery: "idle" }),
    );
    const last = transport.mails[2];
    assert.equal(last.subject, "Mail Abuse Alert");
    assert.match(last.text, /^mailpolicyd on .*: a sender passed its limit\.\n\nWho: +k3@example\.org$/m);
    assert.equal(metrics.alertDigests, 0);
    actor.stop();
  });

  // The counters actor withdraws its oldest alert when the outbox is full: during a storm behind a relay that
  // is down, that is the head of the queue, often the mail being tried. Requeued when that attempt failed, it
  // was mailed later although the log had said "alert outbox full, oldest alert dropped", and such mails
  // piled up in the queue beyond outbox_max.
  it("does not retry a mail whose alert was withdrawn while it was being tried", async () => {
    const mails: AlertMail[] = [];
    let fail: (error: Error) => void = () => assert.fail("no attempt under way");
    const send: SendAlertMail = (mail) => {
      mails.push(mail);
      return mails.length === 1 ? new Promise((_, reject) => fail = reject) : Promise.resolve();
    };
    const { actor, clock, lines, metrics, inState } = startAlerter(
      alertsConfig("retry_min = 1s\nretry_max = 1s\n"),
      send,
    );
    actor.send({ type: "alert", notice: notice(1) });
    await inState("sending");
    actor.send({ type: "alert.withdraw", id: notice(1).id });
    actor.send({ type: "alert", notice: notice(2) });
    fail(smtpError("connect ETIMEDOUT"));
    await inState("backingOff");
    assert.deepEqual(
      actor.getSnapshot().context.queue.map((item) => idsOf(item.notices)),
      [["k2@example.org"]],
      "the dropped alert is not queued again",
    );
    assert.match(
      lines.join("\n"),
      /alert mail failed, not retried: its alert was dropped key=k1@example\.org /,
    );
    assert.equal(metrics.recentAlerts.find((alert) => alert.id === notice(1).id)?.status, "dropped");
    clock.increment(1000);
    await inState("idle");
    assert.deepEqual(mails.map((mail) => /Who: +(\S+)/.exec(mail.text)?.[1]), [
      "k1@example.org",
      "k2@example.org",
    ]);
    actor.stop();
  });

  it("does not park a mail refused for good whose alert was withdrawn while it was being tried", async () => {
    let refuse: (error: Error) => void = () => assert.fail("no attempt under way");
    const send: SendAlertMail = () => new Promise((_, reject) => refuse = reject);
    const { actor, lines, metrics, inState } = startAlerter(alertsConfig(""), send);
    actor.send({ type: "alert", notice: notice(1) });
    await inState("sending");
    actor.send({ type: "alert.withdraw", id: notice(1).id });
    refuse(smtpError("554 5.7.1 relay denied", 554));
    await inState("idle");
    assert.deepEqual([metrics.alertsParked, metrics.parkedAlerts.length], [0, 0], "dropped, not parked too");
    assert.equal(metrics.recentAlerts.find((alert) => alert.id === notice(1).id)?.status, "dropped");
    assert.doesNotMatch(lines.join("\n"), /parked/);
    assert.match(
      lines.join("\n"),
      /alert mail failed, not retried: its alert was dropped key=k1@example\.org /,
    );
    actor.stop();
  });

  it("parks a mail still failing retry_for after its key crossed, and backs off before the next", async () => {
    const transport = fakeTransport([smtpError("connect ETIMEDOUT")]);
    const { actor, clock, lines, metrics, inState } = startAlerter(
      alertsConfig("retry_min = 100ms\nretry_max = 1s\nretry_for = 10s\n"),
      transport.send,
    );
    actor.send({ type: "alert", notice: { ...notice(1), lastSeen: Date.now() - 10_000 } });
    await inState("backingOff");
    assert.equal(metrics.alertsParked, 1);
    assert.match(lines.join("\n"), /parked key=k1@example\.org .*reason="still failing after retry_for"/);
    actor.send({ type: "alert", notice: notice(2) });
    assert.equal(transport.mails.length, 1, "the next waits for the backoff");
    assert.deepEqual(clock.delays, [100]);
    clock.increment(100);
    await inState("idle");
    assert.equal(transport.mails.length, 2);
    assert.equal(metrics.alertsSent, 1);
    actor.stop();
  });
});

type FakeCountersEvent = { type: "alerts.offer" } | { type: "alerts.done"; ids: string[] };

/** The counters actor's side of the outbox protocol: offer every alert on "alerts.offer", drop the settled. */
const fakeCounters = defineActor<{ outbox: Map<string, AlertNotice>; settled: string[] }, FakeCountersEvent>(
  ({ input, system }) => ({
    receive(event) {
      if (event.type === "alerts.done") {
        for (const id of event.ids) input.outbox.delete(id);
        input.settled.push(...event.ids);
        return;
      }
      for (const notice of input.outbox.values()) {
        liveActor(system, "alerter")?.send({ type: "alert", notice });
      }
    },
    stop() {},
  }),
);

describe("alerter restarted: the outbox handed to the new alerter", () => {
  it("delivers the alert the previous alerter could not, and it leaves the outbox", async () => {
    const pending = notice(7);
    const outbox = new Map([[pending.id, pending]]);
    const settled: string[] = [];
    const transport = fakeTransport([smtpError("connect ECONNREFUSED 127.0.0.1:25")]);
    const config = alertsConfig("retry_min = 1h\nretry_max = 1h\n");
    const log = createLogger("error", () => {});
    const metrics = createMetrics();
    const supervisor = createActor(supervisorMachine, {
      clock: new SimulatedClock(), // the first alerter's hour of backoff never ends
      input: {
        log,
        children: [
          { id: "counters", logic: fakeCounters, input: () => ({ outbox, settled }) },
          {
            id: "alerter",
            logic: alerterMachine,
            input: () => ({ config, log, metrics, transport: () => transport.send }),
          },
        ],
      },
    });
    supervisor.start();
    try {
      const first = supervisor.system.get("alerter") as AnyActorRef;
      // Offered at its start, failed once, now waiting an hour: still in the outbox.
      await waitFor(first, (snapshot) => snapshot.matches({ delivery: "backingOff" }), { timeout: 2000 });
      assert.equal(transport.mails.length, 1);
      assert.deepEqual([[...outbox.keys()], settled], [[pending.id], []]);

      supervisor.send({ type: "restart", id: "alerter" }); // as after a failure, without the failure
      const second = supervisor.system.get("alerter") as AnyActorRef;
      assert.notEqual(second, first);
      assert.equal(first.getSnapshot().status, "stopped");
      await waitFor(second, (snapshot) => snapshot.matches({ delivery: "idle" }) && settled.length > 0, {
        timeout: 2000,
      });
      assert.equal(transport.mails.length, 2);
      assert.match(transport.mails[1].text, /k7@example\.org/);
      assert.deepEqual(settled, [pending.id]);
      assert.equal(outbox.size, 0, "delivered: out of the outbox");
      assert.equal(metrics.alertsSent, 1);
    } finally {
      supervisor.stop();
    }
  });
});
