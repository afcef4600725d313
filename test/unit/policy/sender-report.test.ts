// What `status`, `top` and `show` say about a key's alert under a limit.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { commit, newCounter } from "../../../src/policy/rate.ts";
import {
  ALERT_NONE,
  ALERT_PENDING,
  ALERT_SENT,
  ALERT_UNSENT,
  type AlertState,
} from "../../../src/policy/sender-counter.ts";
import { senderDetail, senderRow } from "../../../src/policy/sender-report.ts";
import { limitConfig } from "../../helpers/limit-config.ts";

const NOW = 1_700_000_000_000;

function crossed(alert: AlertState) {
  const counter = newCounter(NOW - 1000);
  commit(counter, 25, NOW - 1000);
  counter.alert = alert;
  return counter;
}

describe("sender report: the alert state", () => {
  it("shows a limit that alerts as none, pending, sent or unsent, as its counter says", () => {
    const limit = limitConfig();
    const states = ([ALERT_NONE, ALERT_PENDING, ALERT_SENT, ALERT_UNSENT] as AlertState[]).map((alert) =>
      senderRow(limit, "a@example.org", crossed(alert), NOW).alert
    );
    assert.deepEqual(states, ["none", "pending", "sent", "unsent"]);
  });

  it("shows no alert for a limit with alert = no, though its crossed counter is marked done", () => {
    // The stores mark such a counter ALERT_SENT at the crossing so that it is not logged again; no mail went
    // out, and `status` used to say "(alert sent)" for it.
    const limit = limitConfig({ alert: false });
    const row = senderRow(limit, "a@example.org", crossed(ALERT_SENT), NOW);
    assert.equal(row.over, true);
    assert.equal(row.alert, "none");
    assert.equal(senderDetail(limit, "a@example.org", crossed(ALERT_SENT), NOW).alert, "none");
  });
});
