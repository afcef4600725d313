// The alerter machine on its own (no counters actor): digest routing, and alerts withdrawn from its queue.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createActor } from "xstate";
import { alerterMachine } from "../../../src/actors/alerter.ts";
import { parseConfig } from "../../../src/config/load.ts";
import { createMetrics } from "../../../src/control/metrics.ts";
import { createLogger } from "../../../src/log.ts";
import type { AlertNotice } from "../../../src/policy/alert-notice.ts";
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
});
