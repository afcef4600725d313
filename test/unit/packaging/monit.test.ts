// The shipped monit check (packaging/monit/mailpolicyd) restarts the daemon when its HTTP request to the
// control socket answers 400 or more. A restart helps when one of the daemon's actors is down; it does
// not bring back Redis or spamd, and after 5 restarts in 10 cycles monit stops watching the daemon for
// good. So the path monit asks must answer 503 for an actor down, and 200 while only an outside service
// fails (the fallback answers meanwhile; /health still says "degraded" to a person or a dashboard).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { type ControlDeps, createControlApp } from "../../../src/control/app.ts";
import { createMetrics } from "../../../src/control/metrics.ts";
import type { ConcernHealth } from "../../../src/engine/concern-health.ts";
import type { RedisHealth } from "../../../src/limits/shared-store.ts";

const MONIT = readFileSync(new URL("../../../packaging/monit/mailpolicyd", import.meta.url), "utf8");
const ACTIVE = { counters: "active", alerter: "active", policy: "active", control: "active" };
const OK: ConcernHealth = {
  state: "ok",
  answered: 1,
  failures: { down: 0, timeout: 0, error: 0 },
  failedInIncident: 0,
};
const FAILING: ConcernHealth = { ...OK, state: "failing", since: 0, reason: "timeout", failedInIncident: 3 };

function app(overrides: Partial<ControlDeps>, redis?: RedisHealth["state"]) {
  const metrics = createMetrics(0);
  if (redis) {
    metrics.redisHealth = () => ({
      state: redis,
      since: 0,
      fallback: "local",
      incidents: 1,
      fallbackChecks: 0,
      merged: 0,
      store: { roundTrips: 0, cacheHits: 0, carried: 0 },
    } as unknown as RedisHealth);
  }
  return createControlApp({
    version: "t",
    configFile: () => "/etc/mailpolicyd/mailpolicyd.conf",
    ruleNames: () => [],
    metrics,
    actorStates: () => ACTIVE,
    actorRestarts: () => ({}),
    concernHealth: () => ({ limits: OK }),
    askCounters: (() => Promise.resolve(undefined)) as ControlDeps["askCounters"],
    reload: () => ({ ok: true }),
    ...overrides,
  });
}

describe("the shipped monit check's /health request", () => {
  const path = /protocol http request "([^"]+)"/.exec(MONIT)?.[1];

  it("is on the control socket", () => {
    assert.ok(path?.startsWith("/health"), MONIT);
  });

  it("answers 503 when an actor is down: monit restarts the daemon", async () => {
    const response = await app({ actorStates: () => ({ ...ACTIVE, counters: "down" }) }).request(path!);
    assert.equal(response.status, 503);
  });

  it("answers 200 while Redis is away or a concern fails: a restart would not help", async () => {
    assert.equal((await app({}, "down").request(path!)).status, 200);
    const spamd = { limits: OK, spamassassin: FAILING };
    assert.equal((await app({ concernHealth: () => spamd }).request(path!)).status, 200);
    // The full /health still says degraded.
    assert.equal((await app({}, "down").request("/health")).status, 503);
  });
});
