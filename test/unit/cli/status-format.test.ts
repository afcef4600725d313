// `status`, `top` and `show` print the numbers the SMTP reply and the alert give: count/limit and the
// window as written in the config, from the control API's rows.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  formatSender,
  formatSenders,
  formatStatus,
  type StatusJson,
} from "../../../src/cli/status-format.ts";
import type { SenderDetail, SenderRow } from "../../../src/policy/sender-report.ts";
import type { ConcernHealth } from "../../../src/engine/concern-health.ts";

const ROW: SenderRow = {
  rule: "out",
  key: "alice@example.org",
  count: 5,
  limit: 5,
  window: "90m",
  windowSeconds: 5400,
  algorithm: "fixed",
  action: "defer",
  windowStart: "2026-01-01T10:00:00.000Z",
  lastSeen: "2026-01-01T10:05:00.000Z",
  over: false,
  atLimit: true,
  alert: "sent",
};

const STATUS: StatusJson = {
  version: "0.1.0",
  pid: 42,
  config: "/etc/mailpolicyd/mailpolicyd.conf",
  uptimeSeconds: 7500,
  uptime: "2h 5m",
  actors: { counters: "active" },
  restarts: { counters: 0 },
  requests: { total: 39, byAction: { accept: 34, defer: 5 }, badRequests: 0 },
  rates: { lastMinute: 39, last5Minutes: 7.8 },
  trackedKeys: 1,
  pendingAlerts: 0,
  alerts: {
    sent: 1,
    failed: 0,
    recent: [{
      at: Date.UTC(2026, 0, 1, 10, 5),
      key: "alice@example.org",
      rule: "out",
      count: 5,
      limit: 5,
      status: "sent",
    }],
  },
  topSenders: [ROW],
};

describe("status-format", () => {
  it("top: COUNT/LIMIT and the window as written", () => {
    assert.equal(
      formatSenders([ROW, {
        ...ROW,
        key: "bob@example.org",
        count: 6,
        over: true,
        window: "300s",
        alert: "none",
      }]),
      [
        "KEY                RULE  COUNT/LIMIT  WINDOW  ACTION  STATE",
        "alice@example.org  out   5/5          90m     defer   at limit (alert sent)",
        "bob@example.org    out   6/5          300s    defer   over",
      ].join("\n"),
    );
    assert.equal(formatSenders([]), "no sender counted yet");
  });

  // A terminal that does bidi (Konsole, VTE's) turned the rest of the line round after a U+202E in a key:
  // the key read "admin@example.org" and the count and rule came out reversed.
  it("top and show: a bidi control in a key or subject is printed as \\uNNNN, the line stays in order", () => {
    const key = "\u202egro.elpmaxe@nimda";
    const top = formatSenders([{ ...ROW, key }]).split("\n")[1];
    assert.equal(top, "\\u202egro.elpmaxe@nimda  out   5/5          90m     defer   at limit (alert sent)");
    const detail: SenderDetail = { ...ROW, key, subjects: [["\u2067Hi\u200f", 1]], clientIps: [] };
    const show = formatSender(key, [detail]);
    assert.match(show, /^\\u202egro\.elpmaxe@nimda$/m);
    assert.match(show, /subjects: 1× \\u2067Hi\\u200f$/m);
    assert.doesNotMatch(top + show, /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
  });

  // A zero-width space, a soft hyphen or a tag character draws nothing: "admin\u200b@example.org", another
  // account, printed as "admin@example.org".
  it("top and show: an invisible format character in a key or subject is written out", () => {
    const key = "admin\u200b\u00ad\u2060\ufeff@example.org\u{e0041}";
    const top = formatSenders([{ ...ROW, key }]).split("\n")[1];
    assert.match(top, /^admin\\u200b\\xad\\u2060\\ufeff@example\.org\\u\{e0041\} +out +5\/5 /);
    const detail: SenderDetail = { ...ROW, key, subjects: [["Hi\u180e\u200d", 1]], clientIps: [] };
    const show = formatSender(key, [detail]);
    assert.match(show, /^admin\\u200b\\xad\\u2060\\ufeff@example\.org\\u\{e0041\}$/m);
    assert.match(show, /subjects: 1× Hi\\u180e\\u200d$/m);
    assert.doesNotMatch(top + show, /\p{Cf}/u);
  });

  // Not format characters, but drawn as nothing all the same: a Hangul filler (U+3164, U+115F, U+1160,
  // U+FFA0), a variation selector, the combining grapheme joiner, the blank Braille pattern.
  it("top and show: a Hangul filler, variation selector or blank Braille pattern is written out", () => {
    const key = "admin\u3164\u115f\u1160\uffa0@example.org\u034f\ufe0f\u{e0100}\u2800";
    const top = formatSenders([{ ...ROW, key }]).split("\n")[1];
    const shown = String.raw`admin\u3164\u115f\u1160\uffa0@example.org\u034f\ufe0f\u{e0100}\u2800`;
    assert.match(top, /^\S+ +out +5\/5 /);
    assert.equal(top.split(" ")[0], shown);
    const detail: SenderDetail = { ...ROW, key, subjects: [["Hi\u3164", 1]], clientIps: [] };
    const show = formatSender(key, [detail]);
    assert.equal(show.split("\n")[0], shown);
    assert.match(show, /subjects: 1× Hi\\u3164$/m);
    assert.doesNotMatch(top + show, /[\p{Default_Ignorable_Code_Point}\u2800]/u);
  });

  it("show: one line per limit with count/limit per window", () => {
    const detail: SenderDetail = { ...ROW, subjects: [["Hi", 5]], clientIps: [["192.0.2.7", 5]] };
    assert.match(
      formatSender("alice@example.org", [detail]),
      /^ {2}rule out: 5\/5 per 90m \(fixed, action defer\), at limit \(alert sent\)$/m,
    );
  });

  it("status: the daemon's uptime text, the rates, and the alert's count/limit", () => {
    const lines = formatStatus(STATUS).split("\n");
    assert.equal(lines[0], "mailpolicyd 0.1.0, pid 42, up 2h 5m, config /etc/mailpolicyd/mailpolicyd.conf");
    assert.equal(lines[2], "requests: 39 (accept 34, defer 5); 39.0/min last minute, 7.8/min last 5 minutes");
    assert.equal(lines.at(-1), "  2026-01-01 10:05:00  alice@example.org  out  5/5  sent");
  });

  it("status: one line for the concerns, saying since when and why one fails", () => {
    const failures = { down: 0, timeout: 0, error: 0 };
    const lines = formatStatus({
      ...STATUS,
      concerns: {
        limits: {
          state: "failing",
          since: Date.UTC(2026, 0, 1, 10, 7, 3),
          reason: "timeout",
          answered: 10,
          failures: { ...failures, timeout: 4 },
          failedInIncident: 4,
        },
        spf: { state: "ok", answered: 3, failures, failedInIncident: 0 },
      },
    }).split("\n");
    assert.equal(
      lines[2],
      "concerns: limits FAILING since 2026-01-01 10:07:03 (timeout), 4 requests answered by its fail_mode; spf ok",
    );
    assert.match(lines[3], /^requests: /);
  });

  it("status: a concern that answers while what it asks does not (SPF's DNS) is failing too", () => {
    const failures = { down: 0, timeout: 0, error: 0 };
    const impaired = {
      what: "DNS",
      since: Date.UTC(2026, 0, 1, 3, 0, 1),
      lastError: "ETIMEOUT",
      failed: 12,
      answering: "temperror",
    };
    const spf = { state: "failing" as const, answered: 30, failures, failedInIncident: 0, impaired };
    const line = (spf: ConcernHealth) =>
      formatStatus({
        ...STATUS,
        concerns: { limits: { state: "ok", answered: 3, failures, failedInIncident: 0 }, spf },
      }).split("\n")[2];
    assert.equal(
      line(spf),
      "concerns: limits ok; spf FAILING: DNS not answering since 2026-01-01 03:00:01 (ETIMEOUT, 12 failed), " +
        "answering temperror",
    );
    const late = {
      ...spf,
      since: Date.UTC(2026, 0, 1, 3, 0, 5),
      reason: "timeout" as const,
      failedInIncident: 2,
    };
    assert.equal(
      line(late),
      "concerns: limits ok; spf FAILING since 2026-01-01 03:00:05 (timeout), 2 requests answered by its " +
        "fail_mode and DNS not answering since 2026-01-01 03:00:01 (ETIMEOUT, 12 failed), answering temperror",
    );
  });

  it("status: a line for Redis, up or since when the fallback answers", () => {
    const redis = {
      state: "down" as const,
      since: Date.UTC(2026, 0, 1, 10, 7, 3),
      fallback: "local" as const,
      incidents: 2,
      fallbackChecks: 17,
      merged: 5,
      lastError: "Command timed out",
      store: {
        roundTrips: 9,
        batches: 9,
        cacheHits: 0,
        cacheEntries: 0,
        carried: 0,
        unavailable: 2,
        answeredAhead: 0,
        aheadOver: 0,
        aheadKeys: 0,
      },
    };
    const down = formatStatus({ ...STATUS, redis }).split("\n");
    assert.equal(
      down[2],
      "redis: DOWN since 2026-01-01 10:07:03 (Command timed out); fallback local answered 17 checks",
    );
    const up = formatStatus({ ...STATUS, redis: { ...redis, state: "up" } }).split("\n");
    assert.equal(up[2], "redis: up since 2026-01-01 10:07:03; 2 incidents, 5 counters merged");
    const ahead = {
      ...redis,
      state: "up" as const,
      store: { ...redis.store, answeredAhead: 40, aheadOver: 1 },
    };
    assert.equal(
      formatStatus({ ...STATUS, redis: ahead }).split("\n")[2],
      "redis: up since 2026-01-01 10:07:03; 2 incidents, 5 counters merged; 40 answered ahead, 1 of them over a limit",
    );
    assert.match(
      up[4],
      /^tracked keys: 1 on this host, the shared ones in Redis \(top, show\); alerts sent /,
    );
    assert.match(formatStatus(STATUS).split("\n")[2], /^requests: /, "no line without [redis]");
  });

  // /status reads Redis's state before and after asking for the top senders (control/app.ts): its word, not
  // the state after alone, says whether they are this host's counts; an older daemon has only the latter.
  it("status: the top senders as this host's counts only when /status says so, or Redis is down (older daemons)", () => {
    const line = "Redis unreachable: this host's counts only";
    const redis = (state: "up" | "down") =>
      ({ state, since: 0, store: { answeredAhead: 0 } }) as StatusJson["redis"];
    const said = (status: StatusJson) => formatStatus(status).split("\n").includes(line);
    assert.equal(said({ ...STATUS, redis: redis("up"), topSendersThisHostOnly: true }), true);
    assert.equal(said({ ...STATUS, redis: redis("down"), topSendersThisHostOnly: true }), true);
    assert.equal(said({ ...STATUS, redis: redis("up"), topSendersThisHostOnly: false }), false);
    assert.equal(said({ ...STATUS, redis: redis("down") }), true);
    assert.equal(said({ ...STATUS, redis: redis("up") }), false);
    assert.equal(said({ ...STATUS, redis: redis("down"), topSenders: null }), false);
  });

  it("status: no top senders, and why: the daemon's reason, or the counters actor from an older daemon", () => {
    const none = { ...STATUS, topSenders: null };
    const line = (status: StatusJson) =>
      formatStatus(status).split("\n").find((l) => l.startsWith("top senders"));
    assert.equal(
      line({ ...none, topSendersUnavailable: "the shared counters in Redis did not answer" }),
      "top senders unavailable (the shared counters in Redis did not answer)",
    );
    assert.equal(line(none), "top senders unavailable (counters actor down)");
  });

  it("status: a failed alert in RECENT ALERTS says it is retried, not given up", () => {
    const failed = {
      ...STATUS.alerts.recent[0],
      key: "bob@example.org",
      status: "failed",
      error: "421 busy",
    };
    const lines = formatStatus({
      ...STATUS,
      alerts: { ...STATUS.alerts, failed: 1, recent: [...STATUS.alerts.recent, failed] },
    }).split("\n");
    // Before: "… 5/5  failed", read at 3 a.m. as given up; the parked ones have their own list.
    assert.deepEqual(lines.slice(-3), [
      "RECENT ALERTS",
      "  2026-01-01 10:05:00  alice@example.org  out  5/5  sent",
      "  2026-01-01 10:05:00  bob@example.org  out  5/5  failed, retrying",
    ]);
  });

  it("status: alerts parked and dropped, and the parked ones with their error", () => {
    const parked = { ...STATUS.alerts.recent[0], key: "bad@example.org", status: "parked", error: "554 no" };
    const lines = formatStatus({
      ...STATUS,
      alerts: { ...STATUS.alerts, parked: 1, dropped: 2, parkedRecent: [parked] },
    }).split("\n");
    assert.equal(lines[3], "tracked keys: 1; alerts sent 1, failed 0, parked 1, dropped 2, pending 0");
    assert.deepEqual(lines.slice(-2), [
      "PARKED ALERTS (given up, not retried)",
      "  2026-01-01 10:05:00  bad@example.org  out  5/5  parked  554 no",
    ]);
  });
});
