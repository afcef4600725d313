// The control plane's HTTP API (Hono): health, status, metrics, senders, reset, reload, dashboard.
// Served on the control socket and optionally on loopback TCP; `mailpolicyd status` & co. are clients.
import { type Context, Hono } from "hono";
import type { CountersEvent, CountersStats } from "../actors/counters.ts";
import type { SenderDetail, SenderRow } from "../policy/sender-report.ts";
import { DASHBOARD_CSP, DASHBOARD_HTML } from "./dashboard.ts";
import { type Metrics, requestRate } from "./metrics.ts";
import type { ReadLimit } from "./read-limit.ts";
import { renderPrometheus } from "./prometheus.ts";
import { formatUptime } from "./uptime.ts";
import { MAX_TOP_ROWS } from "./top-bound.ts";
import { SCOPE_HEADER, THIS_HOST_ONLY } from "./counts-scope.ts";
import type { ConcernHealth } from "../engine/concern-health.ts";
import { healthWarnings } from "./health-lines.ts";
import { allowedMethods } from "./allowed-methods.ts";

type CountersQuery = Exclude<
  CountersEvent,
  { type: "hit" | "check" | "commit" | "alerts.done" | "alerts.offer" | "alerts.partly" | "config" }
>;
type ReplyOf<E> = E extends { reply: (value: infer R) => void } ? R : never;

export interface ControlDeps {
  version: string;
  configFile: () => string;
  /** The names of the configured limits, in config order. */
  ruleNames: () => string[];
  metrics: Metrics;
  actorStates: () => Record<string, string>;
  actorRestarts: () => Record<string, number>;
  /** The engine's view of each concern: answering, or failing since when and why. */
  concernHealth: () => Record<string, ConcernHealth>;
  /** Sends a query to the counters actor; undefined when it is down or does not answer in time. */
  askCounters: <E extends CountersQuery>(event: Omit<E, "reply">) => Promise<ReplyOf<E> | undefined>;
  reload: () => { ok: true } | { ok: false; errors: string[] };
  now?: () => number;
  /** Refuse everything but GET (the loopback TCP listener). */
  readOnly?: boolean;
  /** Accept only a Host header naming one of these (IPv6 in brackets), at any port; unset: any. */
  allowedHostnames?: string[];
  /** Pace requests: over the rate they wait their turn, or get 429 when too many already wait. */
  readLimit?: ReadLimit;
}

/** Whether every `%` in `target` starts a %XX, and the bytes they make are UTF-8 (RFC 3986). */
const isPercentEncoded = (target: string) => {
  try {
    decodeURIComponent(target);
    return true;
  } catch {
    return false;
  }
};

const COUNTERS_DOWN = { error: "the counters actor is down (restarting); try again in a moment" };
// The store's null (limits/counter-store.ts): not "no counter for KEY", which read as a sender unblocked.
const REDIS_NO_ANSWER = "the shared counters in Redis did not answer";
const SHARED_DOWN = {
  error: `${REDIS_NO_ANSWER} (see the log; a reset applies to this host only): ` +
    "try again once Redis answers",
};

/** The name in a Host header, without its port: `[::1]:8025` → `[::1]`, `LocalHost` → `localhost`. */
const hostnameOf = (host: string) =>
  (host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.replace(/:\d*$/, "")).toLowerCase();

// Not a 404 "no counter", which reads as a sender never seen (unblocked): Redis may hold its counter.
const notCountedHere = (key: string) => ({
  error: `no counter for ${key} on this host, and Redis is unreachable: its shared counter is not known; ` +
    "try again once Redis answers",
});

const stillRestoring = (key: string, keysSoFar: number) => ({
  error: `no counter for ${key} yet: the state file is being restored (${keysSoFar} keys so far); ` +
    "ask again in a moment",
});

export function createControlApp(deps: ControlDeps): Hono {
  const now = deps.now ?? Date.now;
  const app = new Hono();
  const uptime = () => Math.round((now() - deps.metrics.startedAt) / 1000);
  const redisDown = () => deps.metrics.redisHealth?.().state === "down";
  /**
   * Asks the counters for show or top and tells whether this host's counts answered. Redis's state is read
   * before and after the question: an incident that began or ended while it was asked is said too.
   */
  const askCountsHere = async <R>(ask: () => Promise<R>): Promise<{ rows: R; thisHostOnly: boolean }> => {
    const downBefore = redisDown();
    const rows = await ask();
    return { rows, thisHostOnly: downBefore || redisDown() };
  };
  const healthy = (states: Record<string, string>) =>
    Object.values(states).every((state) => state === "active");

  app.use("*", async (c, next) => {
    await next();
    // Every answer carries what a sender wrote (keys, subjects): a browser must not sniff a JSON answer
    // into a page, and may run no script but the dashboard's own (dashboard.ts).
    c.res.headers.set("x-content-type-options", "nosniff");
    c.res.headers.set("content-security-policy", DASHBOARD_CSP);
  });
  app.use("*", async (c, next) => {
    // Against DNS rebinding: a page of another site steered to this port names that site in Host. The
    // port is not checked: behind an SSH tunnel (`ssh -L 8080:127.0.0.1:8025`) the browser names its own.
    const host = c.req.header("host");
    if (deps.allowedHostnames && !deps.allowedHostnames.includes(hostnameOf(host ?? ""))) {
      return c.json({
        error: `unexpected Host header ${JSON.stringify(host ?? "")}: ask for ` +
          `${deps.allowedHostnames.join(", ")} (any port)`,
      }, 421);
    }
    if (deps.readOnly && c.req.method !== "GET" && c.req.method !== "HEAD") {
      return c.json({ error: "read-only listener: reset and reload go through the control socket" }, 403);
    }
    // A key, rule or path with `%zz`, a lone `%` or `%FF` (not UTF-8) was taken as its raw text by Hono's
    // lenient decoding: `reset` of `%FF` answered "no counter for %ff", of a key nobody asked about.
    const url = new URL(c.req.url);
    if (!isPercentEncoded(url.pathname + url.search)) {
      return c.json({
        error: "the request's path or query is not percent-encoded UTF-8: write % as %25, and each byte of " +
          "a character not in ASCII as %XX of its UTF-8",
      }, 400);
    }
    if (deps.readLimit && !(await deps.readLimit.admit())) {
      c.header("retry-after", "1");
      return c.json({ error: "too many requests on this listener; try again in a second" }, 429);
    }
    await next();
  });

  app.get("/health", (c) => {
    const actors = deps.actorStates();
    const concerns = deps.concernHealth();
    // A failing concern answers for itself with its failure verdict: mail flows, but not as configured.
    // Redis away: the fallback answers ([redis] fallback), mail flows, but limits are this host's alone.
    const redis = deps.metrics.redisHealth?.();
    const ok = healthy(actors) && Object.values(concerns).every((health) => health.state === "ok") &&
      redis?.state !== "down";
    // ?scope=actors (the monit check): 503 only for an actor down, which a restart of the daemon can mend;
    // a restart brings back neither Redis nor spamd, and monit gives up watching after 5 restarts.
    const status = c.req.query("scope") === "actors" ? healthy(actors) : ok;
    return c.json(
      { status: ok ? "ok" : "degraded", uptimeSeconds: uptime(), actors, concerns, redis },
      status ? 200 : 503,
    );
  });

  app.get("/status", async (c) => {
    const metrics = deps.metrics;
    const [stats, { rows: top, thisHostOnly }] = await Promise.all([
      deps.askCounters<Extract<CountersQuery, { type: "stats" }>>({ type: "stats" }),
      askCountsHere(() =>
        deps.askCounters<Extract<CountersQuery, { type: "senders" }>>({ type: "senders", top: 10 })
      ),
    ]);
    const byAction: Record<string, number> = {};
    let total = 0;
    for (const [key, count] of metrics.requests) {
      const action = key.split("\0")[0];
      byAction[action] = (byAction[action] ?? 0) + count;
      total += count;
    }
    // Read once: the warnings say what the fields say.
    const concerns = deps.concernHealth();
    const redis = metrics.redisHealth?.();
    return c.json({
      version: deps.version,
      pid: process.pid,
      config: deps.configFile(),
      uptimeSeconds: uptime(),
      uptime: formatUptime(uptime()),
      actors: deps.actorStates(),
      restarts: deps.actorRestarts(),
      concerns,
      redis,
      // What status says is wrong, in its words (control/health-lines.ts), for the dashboard: it showed only
      // the actors, and a failing concern or an unwritable state file looked green there.
      warnings: healthWarnings({
        concerns,
        redis,
        restoring: stats?.restoring,
        stateWrites: stats?.stateWrites,
      }),
      requests: { total, byAction, badRequests: metrics.badRequests },
      rates: { lastMinute: requestRate(metrics, 1, now()), last5Minutes: requestRate(metrics, 5, now()) },
      trackedKeys: stats?.trackedKeys ?? null,
      pendingAlerts: stats?.pendingAlerts ?? null,
      stateWrites: stats?.stateWrites,
      restoring: stats?.restoring,
      alerts: {
        sent: metrics.alertsSent,
        failed: metrics.alertsFailed,
        parked: metrics.alertsParked,
        dropped: metrics.alertsDropped,
        digests: metrics.alertDigests,
        recent: [...metrics.recentAlerts].reverse(),
        parkedRecent: [...metrics.parkedAlerts].reverse(),
      },
      topSenders: top ?? null,
      // As /senders's scope header, from Redis's state before and after the question: read after it alone,
      // rows a host counted while Redis was away went unmarked when Redis came back meanwhile.
      topSendersThisHostOnly: Boolean(top) && thisHostOnly,
      // Why there are none: the store's null is Redis not answering (limits/counter-store.ts), not the
      // actor, which status named for both while every actor was active.
      ...(top
        ? {}
        : { topSendersUnavailable: top === null ? REDIS_NO_ANSWER : "the counters actor did not answer" }),
      minutes: metrics.minutes,
    });
  });

  app.get("/senders", async (c) => {
    const asked = c.req.query("top") ?? "20";
    // Digits only: Number() would also take "1e3", "0x10" and " 5 ".
    const top = /^[0-9]{1,5}$/.test(asked) ? Number(asked) : NaN;
    if (!Number.isInteger(top) || top < 1 || top > MAX_TOP_ROWS) {
      return c.json({ error: `top must be a whole number from 1 to ${MAX_TOP_ROWS}` }, 400);
    }
    const rule = c.req.query("rule") || undefined;
    // A misspelt rule has no keys either: say so, rather than "no sender counted yet".
    if (rule !== undefined && !deps.ruleNames().includes(rule)) {
      return c.json({ error: `no rule named ${rule}; rules: ${deps.ruleNames().join(", ")}` }, 404);
    }
    const { rows, thisHostOnly } = await askCountsHere(() =>
      deps.askCounters<Extract<CountersQuery, { type: "senders" }>>({ type: "senders", top, rule })
    );
    if (rows === null) return c.json(SHARED_DOWN, 503);
    if (thisHostOnly) c.header(SCOPE_HEADER, THIS_HOST_ONLY);
    return rows ? c.json(rows satisfies SenderRow[]) : c.json(COUNTERS_DOWN, 503);
  });

  // One key, in the path or (any key, `.` and `..` included, which URL parsing folds away as path
  // segments) in the query: /sender?key=KEY, what the CLI uses. No key at all: 400, not "no counter for ".
  // Trimmed and in lower case, as the limits count keys (policy/limit-key.ts): ` A@x.org` finds a@x.org.
  const senderKey = (c: Context) => (c.req.param("key") ?? c.req.query("key"))?.trim().toLowerCase();
  const NO_KEY = { error: "which key? /sender?key=KEY" };
  // No key is empty (limits trim keys; the empty sender counts as "<>"): not "no counter for ".
  const EMPTY_KEY = { error: "an empty key: which key? /sender?key=KEY" };
  /** While the state file is restored after a start: how far it is (a key not found may be in it). */
  const restoringNow = async () =>
    (await deps.askCounters<Extract<CountersQuery, { type: "stats" }>>({ type: "stats" }))?.restoring;
  const showSender = async (c: Context) => {
    const key = senderKey(c);
    if (key === undefined) return c.json(NO_KEY, 400);
    if (key === "") return c.json(EMPTY_KEY, 400);
    const { rows, thisHostOnly } = await askCountsHere(() =>
      deps.askCounters<Extract<CountersQuery, { type: "sender" }>>({ type: "sender", key })
    );
    if (rows === null) return c.json(SHARED_DOWN, 503);
    if (!rows) return c.json(COUNTERS_DOWN, 503);
    if (rows.length === 0) {
      // Just after a start the key may be in the state file and not back in memory yet: "no counter" read
      // as unblocked, and the sender was refused again a moment later.
      const restoring = await restoringNow();
      if (restoring) return c.json(stillRestoring(key, restoring.keysSoFar), 503);
      if (thisHostOnly) return c.json(notCountedHere(key), 503);
      return c.json({ error: `no counter for ${key}` }, 404);
    }
    if (thisHostOnly) c.header(SCOPE_HEADER, THIS_HOST_ONLY);
    return c.json({ key, limits: rows satisfies SenderDetail[] });
  };
  const resetSender = async (c: Context) => {
    const key = senderKey(c);
    if (key === undefined) return c.json(NO_KEY, 400);
    if (key === "") return c.json(EMPTY_KEY, 400);
    const removed = await deps.askCounters<Extract<CountersQuery, { type: "reset" }>>({ type: "reset", key });
    if (removed === null) return c.json(SHARED_DOWN, 503);
    if (removed === undefined) return c.json(COUNTERS_DOWN, 503);
    if (removed === 0) {
      // During the restore after a start the key's counters may be in the state file, not in memory yet:
      // the reset keeps them from coming back (actors/counters-state.ts), so it is done, not "no counter".
      if (await restoringNow()) return c.json({ key, reset: 0, restoring: true });
      return c.json({ error: `no counter for ${key}` }, 404);
    }
    return c.json({ key, reset: removed });
  };
  app.get("/senders/:key", showSender);
  app.delete("/senders/:key", resetSender);
  app.get("/sender", showSender);
  app.delete("/sender", resetSender);

  app.post("/reload", (c) => {
    const result = deps.reload();
    return result.ok
      ? c.json({ reloaded: true, config: deps.configFile() })
      : c.json({ errors: result.errors }, 400);
  });

  app.get("/metrics", async (c) => {
    const stats = await deps.askCounters<Extract<CountersQuery, { type: "stats" }>>({ type: "stats" });
    const states = deps.actorStates();
    const body = renderPrometheus(deps.metrics, {
      version: deps.version,
      now: now(),
      trackedKeys: (stats as CountersStats | undefined)?.perRule ?? {},
      pendingAlerts: (stats as CountersStats | undefined)?.pendingAlerts,
      stateWriteFailing: (stats as CountersStats | undefined)?.stateWrites?.failing,
      actorsUp: Object.fromEntries(
        Object.entries(states).map(([actor, state]) => [actor, state === "active"]),
      ),
      actorRestarts: deps.actorRestarts(),
      concerns: deps.concernHealth(),
    });
    return c.body(body, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  });

  app.get("/", (c) => c.html(DASHBOARD_HTML));
  // A path that is there, asked with a method it does not take: 405 naming the ones it takes (RFC 9110),
  // not "no such endpoint", which sent `curl …/reload` (a GET) looking for an endpoint that exists.
  // OPTIONS is answered with the Allow header alone. After every route: it takes what they left.
  for (const [path, methods] of allowedMethods(app.routes)) {
    const allow = methods.join(", ");
    app.all(path, (c) => {
      c.header("allow", allow);
      // 200 with an empty body: a 204 may carry no Content-Length, and every answer here has one (RFC 9110).
      if (c.req.method === "OPTIONS") return c.body(null, 200);
      return c.json({ error: `${c.req.method} ${c.req.path}: not allowed; it takes ${allow}` }, 405);
    });
  }
  app.notFound((c) => c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404));
  app.onError((error, c) => c.json({ error: error.message }, 500));
  return app;
}
