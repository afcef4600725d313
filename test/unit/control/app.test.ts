// The control API's routes in process, through Hono's app.request(): what each one asks the counters actor,
// what it makes of the answer (or of none), its checks of the query, the listener guards (read-only, Host,
// pacing), 404 and 500. The counters actor is a fake answering from a table; the daemon process and its
// real actors are test/integration/control-api.test.ts.
import { senderPath } from "../../../src/cli/control-commands.ts";
import { formatStatus } from "../../../src/cli/status-format.ts";
import { THIS_HOST_ONLY_LINE } from "../../../src/control/counts-scope.ts";
import type { ConcernHealth } from "../../../src/engine/concern-health.ts";
import { fakeRow as row, keyedCounters } from "../../helpers/keyed-counters.ts";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CountersStats } from "../../../src/actors/counters.ts";
import { type ControlDeps, createControlApp } from "../../../src/control/app.ts";
import { createMetrics, recordAlert, recordParked, recordRequest } from "../../../src/control/metrics.ts";
import { createReadLimit, type ReadLimit } from "../../../src/control/read-limit.ts";
import type { SenderDetail, SenderRow } from "../../../src/policy/sender-report.ts";
import type { RedisHealth } from "../../../src/limits/shared-store.ts";

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const ACTIVE = { counters: "active", alerter: "active", policy: "active", control: "active" };

const LIMITS_OK: ConcernHealth = {
  state: "ok",
  answered: 7,
  failures: { down: 0, timeout: 0, error: 0 },
  failedInIncident: 0,
};

interface Answers {
  stats?: CountersStats;
  senders?: SenderRow[];
  sender?: SenderDetail[];
  reset?: number;
}

/** An app on fake deps: the counters actor answers from `answers` (undefined: down), the clock reads `at`. */
function control(answers: Answers = {}, overrides: Partial<ControlDeps> = {}) {
  const asked: Record<string, unknown>[] = [];
  const reloads: number[] = [];
  const metrics = createMetrics(T0);
  const clock = { at: T0 + 90_000 };
  const askCounters = (event: { type: keyof Answers }) => {
    asked.push({ ...event });
    return Promise.resolve(answers[event.type]);
  };
  const app = createControlApp({
    version: "9.8.7",
    configFile: () => "/etc/mailpolicyd/mailpolicyd.conf",
    ruleNames: () => ["outbound", "net"],
    metrics,
    actorStates: () => ACTIVE,
    actorRestarts: () => ({ counters: 2, alerter: 0, policy: 0, control: 0 }),
    concernHealth: () => ({ limits: LIMITS_OK }),
    askCounters: askCounters as ControlDeps["askCounters"],
    reload: () => (reloads.push(1), { ok: true }),
    now: () => clock.at,
    ...overrides,
  });
  return { app, asked, reloads, metrics, clock };
}

describe("control app: /health and /status", () => {
  it("GET /health: 200 when every actor is active, 503 degraded when one is not; uptime by the clock", async () => {
    const { app } = control();
    const ok = await app.request("/health");
    assert.equal(ok.status, 200);
    const concerns = { limits: LIMITS_OK };
    assert.deepEqual(await ok.json(), { status: "ok", uptimeSeconds: 90, actors: ACTIVE, concerns });

    const down = { ...ACTIVE, counters: "down" };
    const degraded = await control({}, { actorStates: () => down }).app.request("/health");
    assert.equal(degraded.status, 503);
    assert.deepEqual(await degraded.json(), {
      status: "degraded",
      uptimeSeconds: 90,
      actors: down,
      concerns,
    });
  });

  it("GET /health: 503 degraded while a concern fails, even with every actor active; /metrics says which", async () => {
    const failing: ConcernHealth = {
      ...LIMITS_OK,
      state: "failing",
      since: T0,
      reason: "timeout",
      failures: { down: 0, timeout: 3, error: 0 },
      failedInIncident: 3,
    };
    const { app } = control({}, { concernHealth: () => ({ limits: failing }) });
    const health = await app.request("/health");
    assert.equal(health.status, 503);
    assert.deepEqual((await health.json()).concerns, { limits: failing });
    const metrics = await (await app.request("/metrics")).text();
    assert.match(metrics, /^mailpolicyd_concern_up\{concern="limits"\} 0$/m);
    assert.match(metrics, /^mailpolicyd_concern_failures_total\{concern="limits",reason="timeout"\} 3$/m);
    assert.match(metrics, /^mailpolicyd_concern_answers_total\{concern="limits"\} 7$/m);
  });

  it("GET /status: requests by action over every rule, rates and uptime by the clock, alerts newest first", async () => {
    const stats = { trackedKeys: 4, perRule: { outbound: 2, net: 2 }, pendingAlerts: 1, wheelEntries: 4 };
    const top = [row("a@example.org", "outbound", 3)];
    const { app, asked, metrics, clock } = control({ stats, senders: top });
    recordRequest(metrics, "accept", undefined, 0.0001, T0 + 10_000);
    recordRequest(metrics, "accept", undefined, 0.0001, T0 + 11_000);
    recordRequest(metrics, "defer", "outbound", 0.0001, T0 + 12_000);
    recordRequest(metrics, "warn", "net", 0.0001, T0 + 70_000);
    recordRequest(metrics, "error", undefined, 0.0001, T0 + 75_000);
    const alert = (id: string, status: "sent" | "parked") =>
      ({ id, at: T0, rule: "outbound", key: `${id}@example.org`, count: 3, limit: 2, status }) as const;
    recordAlert(metrics, alert("first", "sent"));
    recordAlert(metrics, alert("second", "sent"));
    recordParked(metrics, alert("p1", "parked"), 10);
    recordParked(metrics, alert("p2", "parked"), 10);
    clock.at = T0 + 90_499; // 90.499 s up: 90

    const reply = await app.request("/status");
    assert.equal(reply.status, 200);
    const status = await reply.json();
    assert.deepEqual(asked, [{ type: "stats" }, { type: "senders", top: 10 }]);
    assert.equal(status.version, "9.8.7");
    assert.equal(status.pid, process.pid);
    assert.equal(status.config, "/etc/mailpolicyd/mailpolicyd.conf");
    assert.equal(status.uptimeSeconds, 90);
    assert.equal(status.uptime, "1m 30s");
    assert.deepEqual(status.restarts, { counters: 2, alerter: 0, policy: 0, control: 0 });
    assert.deepEqual(status.requests, {
      total: 5,
      byAction: { accept: 2, defer: 1, warn: 1, error: 1 },
      badRequests: 1,
    });
    // The last 60 s hold the two requests at 70 s and 75 s; all five fell in the 1.5 minutes up.
    assert.deepEqual(status.rates, { lastMinute: 2, last5Minutes: 5 / (90_499 / 60_000) });
    assert.equal(status.trackedKeys, 4);
    assert.equal(status.pendingAlerts, 1);
    assert.deepEqual(status.topSenders, top);
    assert.deepEqual(status.alerts.recent.map((entry: { id: string }) => entry.id), [
      "p2",
      "p1",
      "second",
      "first",
    ]);
    assert.deepEqual(status.alerts.parkedRecent.map((entry: { id: string }) => entry.id), ["p2", "p1"]);
    assert.deepEqual(
      [status.alerts.sent, status.alerts.parked, status.alerts.failed, status.alerts.dropped],
      [2, 2, 0, 0],
    );
    assert.deepEqual(status.minutes, [
      { minute: T0 / 60_000, requests: 3, accept: 2, warn: 0, defer: 1, reject: 0, error: 0 },
      { minute: T0 / 60_000 + 1, requests: 2, accept: 0, warn: 1, defer: 0, reject: 0, error: 1 },
    ]);
  });

  // The dashboard showed the actors alone: a failing concern, Redis away or an unwritable state file looked
  // green there while status said so. /status hands it status's own lines of what is wrong.
  it("GET /status: warnings, what status says is wrong, in its words; none when all is well", async () => {
    const since = Date.UTC(2026, 0, 1, 10, 7, 3);
    const failing: ConcernHealth = {
      state: "failing",
      since,
      reason: "down",
      answered: 0,
      failures: { down: 2, timeout: 0, error: 0 },
      failedInIncident: 2,
    };
    const stats = {
      trackedKeys: 1,
      perRule: {},
      pendingAlerts: 0,
      wheelEntries: 1,
      stateWrites: { failing: true, since, failedSaves: 3, error: "ENOSPC\x1b[2J" },
      restoring: { keysSoFar: 40 },
    };
    const { app, metrics } = control({ stats: stats as CountersStats, senders: [] }, {
      concernHealth: () => ({ limits: LIMITS_OK, spamassassin: failing }),
    });
    metrics.redisHealth = () =>
      ({
        state: "down",
        since,
        fallback: "local",
        fallbackChecks: 5,
        lastError: "connect ECONNREFUSED",
      }) as RedisHealth;
    const status = await (await app.request("/status")).json();
    assert.deepEqual(status.warnings, [
      "concerns: spamassassin FAILING since 2026-01-01 10:07:03 (down), 2 requests answered by its fail_mode",
      "redis: DOWN since 2026-01-01 10:07:03 (connect ECONNREFUSED); fallback local answered 5 checks",
      "state file: RESTORING, 40 keys back so far: top and show miss the others until done",
      "state file: NOT WRITTEN since 2026-01-01 10:07:03 (ENOSPC\\x1b[2J; 3 saves failed): counts since then " +
      "are in memory only, lost at a restart",
    ]);
    // status prints the same lines (its concerns line with the ones that answer too).
    const printed = formatStatus(status).split("\n");
    assert.ok(printed.includes(`concerns: limits ok; ${status.warnings[0].slice("concerns: ".length)}`));
    for (const line of status.warnings.slice(1)) assert.ok(printed.includes(line), line);

    const well = control({
      stats: { ...stats, stateWrites: { failing: false, failedSaves: 0 }, restoring: undefined },
    });
    well.metrics.redisHealth = () => ({ state: "up", since, store: { answeredAhead: 0 } }) as RedisHealth;
    assert.deepEqual((await (await well.app.request("/status")).json()).warnings, []);
  });

  it("GET /status without the counters actor: null where only it knows", async () => {
    const reply = await control().app.request("/status");
    assert.equal(reply.status, 200);
    const status = await reply.json();
    assert.deepEqual([status.trackedKeys, status.pendingAlerts, status.topSenders], [null, null, null]);
    assert.deepEqual(status.requests, { total: 0, byAction: {}, badRequests: 0 });
  });
});

// /status's top senders answered while Redis was away are this host's counts: status and the dashboard say
// so above them. Redis's state was read only after the question, so an incident that ended while the top
// senders were asked for (this host's counts already chosen) left them unmarked, read as every host's. A
// real redis-server cannot time its return into that window (the store's local ranking answers at once, or
// in slices between which the retry's probe may land or not): the fake store's state changes instead while
// the counters actor is asked for the top senders, as a probe that succeeds then does.
describe("control app: /status's top senders while Redis comes or goes", () => {
  const redisHealth = (state: "up" | "down") =>
    ({
      state,
      since: T0,
      fallback: "local",
      incidents: 1,
      fallbackChecks: 0,
      merged: 0,
      store: { answeredAhead: 0, aheadOver: 0 },
    }) as RedisHealth;

  for (
    const [before, after, said] of [
      ["up", "up", false],
      ["down", "down", true],
      ["down", "up", true], // this host's counts, Redis back by the answer
      ["up", "down", true], // either, as /senders says (its scope header)
    ] as const
  ) {
    it(`Redis ${before} when top senders are asked for, ${after} when they come: ${said ? "" : "not "}this host's only`, async () => {
      const redis = { state: before as "up" | "down" };
      const answers: Answers = { senders: [row("a@x.org", "outbound", 1)] };
      const { app, metrics } = control(answers, {
        askCounters: ((event: { type: keyof Answers }) => {
          if (event.type === "senders") redis.state = after;
          return Promise.resolve(answers[event.type]);
        }) as ControlDeps["askCounters"],
      });
      metrics.redisHealth = () => redisHealth(redis.state);
      const status = await (await app.request("/status")).json();
      const shown = formatStatus(status);
      assert.equal(shown.includes(THIS_HOST_ONLY_LINE), said, shown);
      assert.match(shown, /^a@x\.org +outbound +1\/2 /m, shown);
    });
  }

  it("no top senders: none to call this host's", async () => {
    const { app, metrics } = control({ senders: null } as unknown as Answers);
    metrics.redisHealth = () => redisHealth("down");
    const status = await (await app.request("/status")).json();
    assert.equal(status.topSendersThisHostOnly, false);
    assert.ok(!formatStatus(status).includes(THIS_HOST_ONLY_LINE));
  });
});

describe("control app: /senders", () => {
  const rows = [row("a@example.org", "outbound", 3), row("192.0.2.0/24", "net", 1)];

  it("asks for the top 20 by default, the top N asked for, of one rule when named", async () => {
    const { app, asked } = control({ senders: rows });
    const reply = await app.request("/senders");
    assert.equal(reply.status, 200);
    assert.deepEqual(await reply.json(), rows);
    for (const query of ["top=1", "top=10000", "top=7&rule=net", "rule="]) {
      assert.equal((await app.request(`/senders?${query}`)).status, 200, query);
    }
    assert.deepEqual(asked, [
      { type: "senders", top: 20, rule: undefined },
      { type: "senders", top: 1, rule: undefined },
      { type: "senders", top: 10_000, rule: undefined },
      { type: "senders", top: 7, rule: "net" },
      { type: "senders", top: 20, rule: undefined }, // an empty rule is no rule
    ]);
  });

  it("refuses a top that is not a whole number from 1 to 10000, without asking", async () => {
    const { app, asked } = control({ senders: rows });
    for (
      const top of ["0", "-3", "10001", "1.5", "abc", "", "Infinity", "NaN", "1e3", "0x10", "+5", "%205"]
    ) {
      const reply = await app.request(`/senders?top=${top}`);
      assert.equal(reply.status, 400, `top=${top}`);
      assert.deepEqual(await reply.json(), { error: "top must be a whole number from 1 to 10000" });
    }
    assert.deepEqual(asked, []);
  });

  it("answers 404 naming the rules for an unknown rule, without asking", async () => {
    const { app, asked } = control({ senders: rows });
    const reply = await app.request("/senders?rule=outbund");
    assert.equal(reply.status, 404);
    assert.deepEqual(await reply.json(), { error: "no rule named outbund; rules: outbound, net" });
    assert.deepEqual(asked, []);
  });

  it("answers 503 when the counters actor does not answer", async () => {
    const reply = await control().app.request("/senders?top=5");
    assert.equal(reply.status, 503);
    assert.match((await reply.json()).error, /^the counters actor is down/);
  });

  it("answers 503 saying so when the shared counters (Redis) do not answer top, show or reset", async () => {
    // The store answers null then: not "no counter for KEY" (a key never seen) nor "the actor is down".
    const { app } = control({ senders: null, sender: null, reset: null } as unknown as Answers);
    for (
      const [method, path] of [["GET", "/senders?top=5"], ["GET", "/sender?key=a@x.org"], [
        "DELETE",
        "/sender?key=a@x.org",
      ]]
    ) {
      const reply = await app.request(path, { method });
      assert.equal(reply.status, 503, path);
      assert.match((await reply.json()).error, /^the shared counters in Redis did not answer/, path);
    }
  });

  // While Redis is away the shared store answers from this host's counts: said in a header (the CLI's
  // line "Redis unreachable: this host's counts only"), also when the incident began or ended meanwhile.
  it("marks show and top answered while Redis was down as this host's only", async () => {
    const detail: SenderDetail = { ...row("a@x.org", "outbound", 1), subjects: [], clientIps: [] };
    const answers: Answers = { senders: [row("a@x.org", "outbound", 1)], sender: [detail] };
    const redis = { states: [] as string[] }; // Redis's state before the question, then after it
    const { app, metrics } = control(answers, {
      askCounters: ((event: { type: keyof Answers }) => {
        redis.states.shift();
        return Promise.resolve(answers[event.type]);
      }) as ControlDeps["askCounters"],
    });
    metrics.redisHealth = () => ({ state: redis.states[0] }) as RedisHealth;
    for (const path of ["/senders?top=5", "/sender?key=a@x.org"]) {
      for (
        const [before, after, scope] of [["up", "up", null], ["down", "down", "this-host"], [
          "down",
          "up",
          "this-host",
        ], ["up", "down", "this-host"]]
      ) {
        redis.states = [before!, after!];
        const reply = await app.request(path);
        assert.equal(reply.status, 200, path);
        assert.equal(reply.headers.get("x-mailpolicyd-scope"), scope, `${path}: ${before}, then ${after}`);
      }
    }
    // A key this host has no counter of: not a 404 "no counter", Redis may hold one.
    answers.sender = [];
    redis.states = ["down", "down"];
    const reply = await app.request("/sender?key=b@x.org");
    assert.equal(reply.status, 503);
    assert.match(
      (await reply.json()).error,
      /^no counter for b@x\.org on this host, and Redis is unreachable/,
    );
  });

  it("GET /senders/:key: the key in lower case, decoded; 404 for no counter, 503 for no answer", async () => {
    const detail: SenderDetail = { ...row("192.0.2.0/24", "net", 1), subjects: [], clientIps: [] };
    const { app, asked } = control({ sender: [detail] });
    const reply = await app.request(`/senders/${encodeURIComponent("192.0.2.0/24")}`);
    assert.equal(reply.status, 200);
    assert.deepEqual(await reply.json(), { key: "192.0.2.0/24", limits: [detail] });
    await app.request("/senders/A%40Example.ORG");
    assert.deepEqual(asked, [{ type: "sender", key: "192.0.2.0/24" }, {
      type: "sender",
      key: "a@example.org",
    }]);

    const none = await control({ sender: [] }).app.request("/senders/nobody%40example.org");
    assert.equal(none.status, 404);
    assert.deepEqual(await none.json(), { error: "no counter for nobody@example.org" });
    assert.equal((await control().app.request("/senders/x%40example.org")).status, 503);
  });

  it("GET and DELETE /sender?key=KEY: any key, `.` and `..` too, which a path would fold away", async () => {
    const keys = [".", "..", "a/../b", "%41", "x y@example.org", "ünï@example.org", "/"];
    const { app, asked } = control({ sender: [], reset: 1 });
    for (const key of keys) {
      assert.equal((await app.request(senderPath(key))).status, 404);
      const reset = await app.request(senderPath(key), { method: "DELETE" });
      assert.deepEqual(await reset.json(), { key: key.toLowerCase(), reset: 1 });
    }
    // A key not found is followed by a "stats" ask (is the state file still being restored?).
    assert.deepEqual(
      asked.filter((event) => event.type !== "stats"),
      keys.flatMap((key) => [{ type: "sender", key }, { type: "reset", key }]),
    );
  });

  it("GET and DELETE /sender?key=KEY reach the counter of that key, not of the one URL parsing makes of it", async () => {
    const named = [".", "..", "a/../b", "%41", "%2e%2e", "a+b@example.org", "x y", "ünï", "192.0.2.0/24"];
    // What a dot segment folded away, a double decoding, or `+` read as a space would reach instead.
    const decoys = ["", "/", "b", "a", "a b@example.org", "x+y"];
    const counters = keyedCounters([...named, ...decoys]);
    const { app } = control({}, { askCounters: counters.askCounters });
    for (const key of named) {
      const shown = await app.request(senderPath(key));
      assert.equal(shown.status, 200, key);
      assert.deepEqual(await shown.json(), { key, limits: [counters.detail(key)] });
    }
    for (const key of named) {
      const reset = await app.request(senderPath(key), { method: "DELETE" });
      assert.deepEqual(await reset.json(), { key, reset: 1 });
    }
    assert.deepEqual(counters.keys(), decoys);
  });

  it("GET and DELETE /sender find a key given with padding or capitals, as the limits count it", async () => {
    const { app, asked } = control({ sender: [], reset: 1 });
    await app.request(senderPath("  A@Example.ORG "));
    await app.request(senderPath("\tb@example.org"), { method: "DELETE" });
    assert.deepEqual(asked.filter((event) => event.type !== "stats"), [{
      type: "sender",
      key: "a@example.org",
    }, {
      type: "reset",
      key: "b@example.org",
    }]);
  });

  // Hono's lenient decoding took `%FF` as the text "%FF": "no counter for %ff", of a key nobody asked about.
  it("GET and DELETE a key, rule or path not percent-encoded UTF-8: 400, the counters not asked", async () => {
    const { app, asked } = control({ sender: [], reset: 1, senders: [] });
    const targets = [
      ["DELETE", "/sender?key=%FF"],
      ["GET", "/sender?key=a%zz@example.org"],
      ["DELETE", "/sender?key=100%"],
      ["GET", "/sender?key=%C3"], // the first byte of é alone
      ["DELETE", "/senders/%FF%FE"],
      ["GET", "/senders?rule=%FFoutbound"],
      ["GET", "/health%"],
    ];
    for (const [method, target] of targets) {
      const reply = await app.request(target, { method });
      assert.equal(reply.status, 400, `${method} ${target}`);
      assert.match((await reply.json()).error, /^the request's path or query is not percent-encoded UTF-8/);
    }
    assert.deepEqual(asked, []);
    // The same keys written right are asked for as they are.
    for (const target of ["/sender?key=%25FF", "/sender?key=%C3%A9", "/sender?key=100%25"]) {
      assert.equal((await app.request(target, { method: "DELETE" })).status, 200, target);
    }
    assert.deepEqual(asked, [
      { type: "reset", key: "%ff" },
      { type: "reset", key: "é" },
      { type: "reset", key: "100%" },
    ]);
  });

  it("GET and DELETE /sender without ?key=: 400, the counters not asked", async () => {
    const { app, asked } = control({ sender: [], reset: 1 });
    for (const method of ["GET", "DELETE"]) {
      const reply = await app.request("/sender?top=1", { method });
      assert.equal(reply.status, 400, method);
      assert.deepEqual(await reply.json(), { error: "which key? /sender?key=KEY" });
    }
    assert.deepEqual(asked, []);
  });

  // `reset "$KEY"` with $KEY empty answered 404 "no counter for ", read as "nothing to reset".
  it("GET and DELETE /sender with an empty or blank key: 400, the counters not asked", async () => {
    const { app, asked } = control({ sender: [], reset: 1 });
    for (const method of ["GET", "DELETE"]) {
      for (const key of ["", " ", "%09"]) {
        const reply = await app.request(`/sender?key=${key}`, { method });
        assert.equal(reply.status, 400, `${method} ${key}`);
        assert.deepEqual(await reply.json(), { error: "an empty key: which key? /sender?key=KEY" });
      }
    }
    assert.deepEqual(asked, []);
  });

  it("DELETE /senders/:key: how many limits were reset; 404 for none, 503 for no answer", async () => {
    const { app, asked } = control({ reset: 2 });
    const reply = await app.request("/senders/B%40example.org", { method: "DELETE" });
    assert.equal(reply.status, 200);
    assert.deepEqual(await reply.json(), { key: "b@example.org", reset: 2 });
    assert.deepEqual(asked, [{ type: "reset", key: "b@example.org" }]);

    const none = await control({ reset: 0 }).app.request("/senders/b%40example.org", { method: "DELETE" });
    assert.equal(none.status, 404);
    assert.deepEqual(await none.json(), { error: "no counter for b@example.org" });
    const down = await control().app.request("/senders/b%40example.org", { method: "DELETE" });
    assert.equal(down.status, 503);
  });
});

describe("control app: /metrics, /reload, the dashboard, 404 and 500", () => {
  it("GET /metrics: Prometheus text with the counters actor's numbers, actors up by their state", async () => {
    const stats = { trackedKeys: 3, perRule: { outbound: 2, net: 1 }, pendingAlerts: 4, wheelEntries: 3 };
    const down = { ...ACTIVE, alerter: "restarting" };
    const { app, asked, metrics } = control({ stats }, { actorStates: () => down });
    recordRequest(metrics, "defer", "outbound", 0.002, T0 + 1000);
    const reply = await app.request("/metrics");
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const text = await reply.text();
    assert.deepEqual(asked, [{ type: "stats" }]);
    const lines = text.split("\n");
    for (
      const line of [
        'mailpolicyd_build_info{version="9.8.7"} 1',
        "mailpolicyd_uptime_seconds 90.000",
        'mailpolicyd_requests_total{action="defer",rule="outbound"} 1',
        'mailpolicyd_tracked_keys{rule="net"} 1',
        'mailpolicyd_tracked_keys{rule="outbound"} 2',
        "mailpolicyd_alerts_pending 4",
        'mailpolicyd_actor_up{actor="counters"} 1',
        'mailpolicyd_actor_up{actor="alerter"} 0',
        'mailpolicyd_actor_restarts_total{actor="counters"} 2',
      ]
    ) assert.ok(lines.includes(line), `${line} in\n${text}`);
    assert.ok(text.endsWith("\n"));

    const without = await (await control().app.request("/metrics")).text();
    assert.doesNotMatch(without, /alerts_pending/, "no gauge rather than a made-up 0");
    assert.doesNotMatch(without, /^mailpolicyd_tracked_keys\{/m);
  });

  it("POST /reload: the config file when applied, 400 with the errors when refused", async () => {
    const { app, reloads } = control();
    const applied = await app.request("/reload", { method: "POST" });
    assert.equal(applied.status, 200);
    assert.deepEqual(await applied.json(), { reloaded: true, config: "/etc/mailpolicyd/mailpolicyd.conf" });
    assert.equal(reloads.length, 1);

    const errors = ["/etc/mailpolicyd/mailpolicyd.conf:5: limit outbound.count: expected a whole number"];
    const refused = await control({}, { reload: () => ({ ok: false, errors }) }).app.request("/reload", {
      method: "POST",
    });
    assert.equal(refused.status, 400);
    assert.deepEqual(await refused.json(), { errors });
  });

  it("GET / is the dashboard", async () => {
    const reply = await control().app.request("/");
    assert.equal(reply.status, 200);
    assert.match(reply.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(await reply.text(), /<title>mailpolicyd<\/title>/);
  });

  it("answers an unknown route with 404 JSON naming it", async () => {
    const { app, asked } = control({ reset: 1 });
    for (
      const [method, path] of [["GET", "/nothing/here"], ["DELETE", "/health/"], ["POST", "/senders/a/b"]]
    ) {
      const reply = await app.request(path, { method });
      assert.equal(reply.status, 404, `${method} ${path}`);
      assert.deepEqual(await reply.json(), { error: `no such endpoint: ${method} ${path}` });
    }
    assert.deepEqual(asked, []);
  });

  // `curl …/reload` (a GET) was told "no such endpoint: GET /reload", of an endpoint that is there.
  it("answers a route asked with a method it does not take with 405 and Allow, untouched", async () => {
    const { app, asked, reloads } = control({ reset: 1 });
    for (
      const [method, path, allow] of [
        ["PUT", "/health", "GET, HEAD"],
        ["GET", "/reload", "POST"],
        ["POST", "/senders", "GET, HEAD"],
        ["POST", "/sender?key=a@example.org", "GET, HEAD, DELETE"],
        ["PATCH", "/senders/a@example.org", "GET, HEAD, DELETE"],
        ["DELETE", "/metrics", "GET, HEAD"],
        ["POST", "/", "GET, HEAD"],
      ]
    ) {
      const reply = await app.request(path, { method });
      assert.equal(reply.status, 405, `${method} ${path}`);
      assert.equal(reply.headers.get("allow"), allow, `${method} ${path}`);
      assert.deepEqual(await reply.json(), {
        error: `${method} ${path.split("?")[0]}: not allowed; it takes ${allow}`,
      });
    }
    const options = await app.request("/sender?key=a@example.org", { method: "OPTIONS" });
    assert.equal(options.status, 200);
    assert.equal(await options.text(), "");
    assert.equal(options.headers.get("allow"), "GET, HEAD, DELETE");
    assert.deepEqual([asked, reloads], [[], []]);
  });

  it("answers 500 JSON with the message when a handler throws", async () => {
    const { app } = control({}, {
      reload: () => {
        throw new Error("config file vanished");
      },
    });
    const reply = await app.request("/reload", { method: "POST" });
    assert.equal(reply.status, 500);
    assert.deepEqual(await reply.json(), { error: "config file vanished" });
  });
});

describe("control app: the listener guards", () => {
  it("read-only (loopback TCP): GET and HEAD are served, POST and DELETE refused with 403 untouched", async () => {
    const { app, asked, reloads } = control({ reset: 1 }, { readOnly: true });
    assert.equal((await app.request("/health")).status, 200);
    assert.equal((await app.request("/health", { method: "HEAD" })).status, 200);
    for (const [method, path] of [["POST", "/reload"], ["DELETE", "/senders/a%40example.org"]]) {
      const reply = await app.request(path, { method });
      assert.equal(reply.status, 403, `${method} ${path}`);
      assert.deepEqual(await reply.json(), {
        error: "read-only listener: reset and reload go through the control socket",
      });
    }
    assert.deepEqual([asked, reloads], [[], []]);
  });

  // Behind an SSH tunnel (`ssh -L 8080:127.0.0.1:8025`) the browser asks for localhost:8080: that got 421.
  it("allowed Host names only (DNS rebinding), at any port: 421 for another name or none", async () => {
    const { app } = control({}, { allowedHostnames: ["127.0.0.1", "localhost", "[::1]"] });
    const withHost = (host?: string) => app.request("/health", { headers: host ? { host } : {} });
    for (const host of ["127.0.0.1:8025", "localhost:8025", "localhost:8080", "LocalHost", "[::1]:9000"]) {
      assert.equal((await withHost(host)).status, 200, host);
    }
    for (const host of ["evil.example", "evil.example:8025", "localhost.evil.example:8025", "[::2]:8025"]) {
      const reply = await withHost(host);
      assert.equal(reply.status, 421, host);
      assert.deepEqual(await reply.json(), {
        error: `unexpected Host header "${host}": ask for 127.0.0.1, localhost, [::1] (any port)`,
      });
    }
    assert.equal((await withHost(undefined)).status, 421, "no Host");
  });

  it("paced: a request the read limit refuses gets 429 with Retry-After, and is not served", async () => {
    const verdicts = [true, false, true];
    const limit: ReadLimit = { admit: () => Promise.resolve(verdicts.shift()!), waiting: 0 };
    const { app, asked } = control({ senders: [] }, { readLimit: limit });
    assert.equal((await app.request("/senders")).status, 200);
    const refused = await app.request("/senders");
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("retry-after"), "1");
    assert.deepEqual(await refused.json(), {
      error: "too many requests on this listener; try again in a second",
    });
    assert.equal((await app.request("/senders")).status, 200);
    assert.equal(asked.length, 2, "the refused request did not reach the counters actor");
  });

  it("paced by a real read limit: the burst, then 429 until the clock brings a token", async () => {
    let ms = 0;
    const readLimit = createReadLimit({ perSecond: 5, burst: 2, maxWaiting: 0, now: () => ms });
    const { app } = control({}, { readLimit });
    const statuses = async (n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await app.request("/health")).status);
      return out;
    };
    assert.deepEqual(await statuses(3), [200, 200, 429]);
    ms += 199;
    assert.deepEqual(await statuses(1), [429], "a token takes 200 ms at 5/s");
    ms += 1;
    assert.deepEqual(await statuses(2), [200, 429]);
  });
});
