// The control plane's HTTP API against a real daemon process: health, status, senders, reset, reload,
// Prometheus metrics and the dashboard, over the control socket (node:http) and the loopback TCP listener
// (fetch). One in-process daemon whose counters actor stays down checks the 503 answers.
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { chmodSync, existsSync, statSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { parseConfig } from "../../src/config/load.ts";
import { type Daemon, startDaemon } from "../../src/daemon.ts";
import { createLogger } from "../../src/log.ts";
import { VERSION } from "../../src/version.ts";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { askMany, askPolicy } from "../helpers/policy-client.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { faultyCounters } from "../helpers/faulty-counters.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

interface HttpReply {
  status: number;
  contentType: string;
  /** The status line's reason phrase, and the Allow header: what a 405 names. */
  statusMessage: string | undefined;
  allow: string | undefined;
  body: string;
  // deno-lint-ignore no-explicit-any
  json(): any;
}

/** One HTTP request over a Unix socket, as the CLI's control client sends it. */
function overSocket(socketPath: string, method: string, path: string): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const request = http.request({ socketPath, method, path, timeout: 10_000 }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => body += chunk);
      response.on("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          contentType: String(response.headers["content-type"] ?? ""),
          statusMessage: response.statusMessage,
          allow: response.headers.allow,
          body,
          json: () => JSON.parse(body),
        }));
    });
    request.on("timeout", () => request.destroy(new Error(`no answer to ${method} ${path} within 10 s`)));
    request.on("error", reject);
    request.end();
  });
}

const ALL_ACTIVE = { counters: "active", alerter: "active", policy: "active", control: "active" };
const ACTORS = ["counters", "alerter", "policy", "control"];

const RCPT_A = "rcpt sender=a@example.org recipient=x@example.net client_address=192.0.2.7\n";
const DATA_A = 'data sender=a@example.org client_address=192.0.2.7 subject="Hello"\n';
const RCPT_B = "rcpt sender=b@example.org recipient=y@example.net client_address=198.51.100.9\n";
const DEFER_A =
  'action=defer message="a@example.org over limit: 3 messages in 1h (limit 2)" rule=outbound count=3 limit=2';

/** A sample's value from Prometheus text, by its exact series name and labels. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("control API (real daemon process)", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;
  let configFile: string;
  let controlSocket: string;
  let port: number;
  const get = (path: string) => overSocket(controlSocket, "GET", path);

  // outbound: strict, so the deferred third request counts and the key is "over" (3/2).
  const limits = (outboundCount: number) =>
    `control_listen = 127.0.0.1:${port}\n` +
    `[limit outbound]\nkey = sender\ncount = ${outboundCount}\ntime = 1h\nmode = strict\n` +
    `[limit net]\nkey = client_address/24\ncount = 100\ntime = 1h\naction = warn\n` +
    `[alerts]\nfromAddr = pm@example.org\ntoAddr = boss@example.org\nsendmail = ${dir.file("sendmail")}\n`;

  before(async () => {
    dir = makeTempDir();
    port = await freePort();
    controlSocket = dir.file("control.sock");
    writeFileSync(dir.file("sendmail"), "#!/bin/sh\ncat > /dev/null\n");
    chmodSync(dir.file("sendmail"), 0o755);
    configFile = writeTestConfig(dir, limits(2));
    daemon = await startDaemonProcess(dir, configFile);
    await daemon.waitForLog(/info control: listening address=127\.0\.0\.1:\d+/);

    // 5 requests: a@ three times at RCPT (the third is deferred), once at DATA with a subject; b@ once.
    const replies = await askMany(daemon.policySocket, RCPT_A, 3);
    assert.deepEqual(replies, ["action=accept", "action=accept", DEFER_A]);
    assert.equal(await askPolicy(daemon.policySocket, DATA_A), "action=accept");
    assert.equal(await askPolicy(daemon.policySocket, RCPT_B), "action=accept");
    await daemon.waitForLog(/alert mail sent key=a@example\.org rule=outbound/);
  }, { timeout: 30_000 });

  after(async () => {
    await daemon?.stop();
    dir?.remove();
  });

  it("GET /health: 200, status ok, uptime, all four actors active", async () => {
    const reply = await get("/health");
    assert.equal(reply.status, 200);
    assert.match(reply.contentType, /^application\/json/);
    const body = reply.json();
    assert.equal(body.status, "ok");
    assert.ok(Number.isInteger(body.uptimeSeconds) && body.uptimeSeconds >= 0, reply.body);
    assert.deepEqual(body.actors, ALL_ACTIVE);
  });

  it("serves the same /health on the control_listen TCP port", async () => {
    const response = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.equal(body.status, "ok");
    assert.deepEqual(body.actors, ALL_ACTIVE);
  });

  it("keeps the TCP listener read-only and refuses foreign Host headers (DNS rebinding)", async () => {
    const reset = await fetch(`http://127.0.0.1:${port}/senders/a%40example.org`, { method: "DELETE" });
    assert.equal(reset.status, 403);
    assert.match((await reset.json()).error, /read-only listener/);
    assert.equal((await fetch(`http://127.0.0.1:${port}/reload`, { method: "POST" })).status, 403);
    const { request } = await import("node:http");
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port, path: "/health", headers: { host: "evil.example" } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end();
    });
    assert.equal(status, 421);
  });

  // `ssh -L 8080:127.0.0.1:PORT host`, then http://localhost:8080/ in a browser: Host is localhost:8080.
  it("serves a loopback name at another port in Host (an SSH tunnel), refuses another name", async () => {
    const { request } = await import("node:http");
    const ask = (host: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port, path: "/health", headers: { host } }, (res) => {
          let body = "";
          res.on("data", (chunk) => body += chunk);
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("error", reject);
        req.end();
      });
    assert.equal((await ask("localhost:8080")).status, 200);
    const foreign = await ask("evil.example:8080");
    assert.equal(foreign.status, 421);
    assert.match(
      JSON.parse(foreign.body).error,
      /^unexpected Host header "evil\.example:8080": ask for 127\.0\.0\.1/,
    );
  });

  it("rejects a top that is not a whole number from 1", async () => {
    for (const top of ["0", "-3", "abc"]) {
      const response = await fetch(`http://127.0.0.1:${port}/senders?top=${top}`);
      assert.equal(response.status, 400, top);
    }
  });

  it("creates the control socket with mode 0660", () => {
    const stat = statSync(controlSocket);
    assert.ok(stat.isSocket(), "a Unix socket");
    assert.equal((stat.mode & 0o777).toString(8), "660");
  });

  it("GET /status: version, config, requests by action, tracked keys, top senders, alerts", async () => {
    const reply = await get("/status");
    assert.equal(reply.status, 200);
    const status = reply.json();
    assert.equal(status.version, VERSION);
    assert.equal(status.pid, daemon.pid);
    assert.equal(status.config, configFile);
    assert.deepEqual(status.actors, ALL_ACTIVE);
    assert.deepEqual(status.restarts, { counters: 0, alerter: 0, policy: 0, control: 0 });
    assert.deepEqual(status.requests, { total: 5, byAction: { accept: 4, defer: 1 }, badRequests: 0 });
    // outbound: a@, b@; net: 192.0.2.0/24, 198.51.100.0/24
    assert.equal(status.trackedKeys, 4);
    assert.equal(status.pendingAlerts, 0);
    assert.equal(status.alerts.sent, 1);
    assert.equal(status.alerts.failed, 0);
    assert.equal(status.alerts.recent.length, 1);
    assert.equal(status.alerts.recent[0].key, "a@example.org");
    assert.equal(status.alerts.recent[0].rule, "outbound");
    assert.equal(status.alerts.recent[0].status, "sent");
    assert.deepEqual(
      status.topSenders.map((row: { key: string; rule: string; count: number; limit: number }) =>
        `${row.key} ${row.rule} ${row.count}/${row.limit}`
      ),
      [
        "a@example.org outbound 3/2",
        "b@example.org outbound 1/2",
        "192.0.2.0/24 net 2/100",
        "198.51.100.0/24 net 1/100",
      ],
    );
    const minuteTotal = status.minutes.reduce(
      (sum: number, entry: { requests: number }) => sum + entry.requests,
      0,
    );
    assert.equal(minuteTotal, 5, "per-minute counts add up to the total");
  });

  it("GET /senders?top=N: the key over its limit first, at most N rows", async () => {
    const all = await get("/senders");
    assert.equal(all.status, 200);
    const rows = all.json();
    assert.equal(rows.length, 4);
    assert.equal(rows[0].key, "a@example.org");
    assert.equal(rows[0].over, true);
    assert.ok(rows.slice(1).every((row: { over: boolean }) => !row.over), "only a@ is over");

    const top2 = (await get("/senders?top=2")).json();
    assert.deepEqual(top2.map((row: { key: string }) => row.key), ["a@example.org", "b@example.org"]);
    const top1 = (await get("/senders?top=1")).json();
    assert.equal(top1.length, 1);
    assert.deepEqual(top1[0], top2[0]);
    assert.equal(top1[0].rule, "outbound");
    assert.equal(top1[0].count, 3);
    assert.equal(top1[0].limit, 2);
    assert.equal(top1[0].windowSeconds, 3600);
    assert.equal(top1[0].action, "defer");
    assert.equal(top1[0].alert, "sent");
  });

  it("GET /senders?rule=net lists only that rule's keys", async () => {
    const reply = await get("/senders?rule=net");
    assert.equal(reply.status, 200);
    const rows = reply.json();
    assert.deepEqual(
      rows.map((
        row: { key: string; rule: string; count: number; action: string },
      ) => [row.key, row.rule, row.count, row.action]),
      [["192.0.2.0/24", "net", 2, "warn"], ["198.51.100.0/24", "net", 1, "warn"]],
    );
    const unknown = await get("/senders?rule=no-such-rule");
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.json(), { error: "no rule named no-such-rule; rules: outbound, net" });
  });

  it("GET /senders/:key: count, limit, window, last seen, alert state, subjects, client IPs", async () => {
    const reply = await get(`/senders/${encodeURIComponent("a@example.org")}`);
    assert.equal(reply.status, 200);
    const body = reply.json();
    assert.equal(body.key, "a@example.org");
    assert.equal(body.limits.length, 1, "a@ is a key of outbound only");
    const [detail] = body.limits;
    assert.equal(detail.rule, "outbound");
    assert.equal(detail.count, 3);
    assert.equal(detail.limit, 2);
    assert.equal(detail.algorithm, "fixed");
    assert.equal(detail.over, true);
    assert.equal(detail.alert, "sent");
    const windowStart = Date.parse(detail.windowStart);
    const lastSeen = Date.parse(detail.lastSeen);
    assert.ok(Number.isFinite(windowStart) && Number.isFinite(lastSeen), reply.body);
    assert.ok(windowStart <= lastSeen && lastSeen <= Date.now(), reply.body);
    assert.ok(Date.now() - windowStart < 60_000, "the window started with this test's requests");
    assert.deepEqual(detail.subjects, [["Hello", 1]]);
    assert.deepEqual(detail.clientIps, [["192.0.2.7", 3]]);

    const mixedCase = await get(`/senders/${encodeURIComponent("A@Example.ORG")}`);
    assert.equal(mixedCase.status, 200, "keys are case-insensitive");
    assert.equal(mixedCase.json().key, "a@example.org");
  });

  it("GET /senders/:key takes a key with a slash, URL-encoded (192.0.2.0%2F24)", async () => {
    const reply = await get(`/senders/${encodeURIComponent("192.0.2.0/24")}`);
    assert.equal(reply.status, 200, reply.body);
    const body = reply.json();
    assert.equal(body.key, "192.0.2.0/24");
    assert.equal(body.limits.length, 1);
    const [detail] = body.limits;
    assert.equal(detail.rule, "net");
    assert.equal(detail.count, 2, "net is leaky: the deferred request did not count");
    assert.equal(detail.limit, 100);
    assert.equal(detail.over, false);
    assert.equal(detail.alert, "none");
    assert.deepEqual(detail.subjects, [["Hello", 1]]);
    assert.deepEqual(detail.clientIps, [["192.0.2.7", 3]]);
  });

  it("GET /senders/:key answers 404 JSON for an unknown key", async () => {
    const reply = await get(`/senders/${encodeURIComponent("nobody@example.org")}`);
    assert.equal(reply.status, 404);
    assert.match(reply.contentType, /^application\/json/);
    assert.deepEqual(reply.json(), { error: "no counter for nobody@example.org" });
  });

  it("GET /metrics: Prometheus text with requests, latency histogram, tracked keys, alerts, actors", async () => {
    const reply = await get("/metrics");
    assert.equal(reply.status, 200);
    assert.match(reply.contentType, /^text\/plain; version=0\.0\.4/);
    const text = reply.body;
    assert.equal(sample(text, `mailpolicyd_build_info{version="${VERSION}"}`), 1);
    assert.equal(sample(text, 'mailpolicyd_requests_total{action="accept",rule=""}'), 4);
    assert.equal(sample(text, 'mailpolicyd_requests_total{action="defer",rule="outbound"}'), 1);
    assert.equal(sample(text, "mailpolicyd_bad_requests_total"), 0);
    assert.match(text, /^# TYPE mailpolicyd_request_duration_seconds histogram$/m);

    const buckets = [
      ...text.matchAll(/^mailpolicyd_request_duration_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm),
    ]
      .map(([, le, count]) => ({ le, count: Number(count) }));
    assert.ok(buckets.length >= 2, text);
    assert.equal(buckets[buckets.length - 1].le, "+Inf");
    const bounds = buckets.slice(0, -1).map((bucket) => Number(bucket.le));
    assert.ok(bounds.every((bound, i) => Number.isFinite(bound) && (i === 0 || bound > bounds[i - 1])), text);
    assert.ok(buckets.every((bucket, i) => i === 0 || bucket.count >= buckets[i - 1].count), "cumulative");
    const count = sample(text, "mailpolicyd_request_duration_seconds_count");
    assert.equal(count, 5);
    assert.equal(buckets[buckets.length - 1].count, count);
    const sum = sample(text, "mailpolicyd_request_duration_seconds_sum")!;
    assert.ok(sum > 0 && sum < 5, `sum ${sum}`);

    assert.equal(sample(text, 'mailpolicyd_tracked_keys{rule="outbound"}'), 2);
    assert.equal(sample(text, 'mailpolicyd_tracked_keys{rule="net"}'), 2);
    assert.equal(sample(text, 'mailpolicyd_alerts_total{result="sent"}'), 1);
    assert.equal(sample(text, 'mailpolicyd_alerts_total{result="failed"}'), 0);
    for (const actor of ACTORS) {
      assert.equal(sample(text, `mailpolicyd_actor_up{actor="${actor}"}`), 1, actor);
      assert.equal(sample(text, `mailpolicyd_actor_restarts_total{actor="${actor}"}`), 0, actor);
    }
  });

  it("GET / returns the HTML dashboard", async () => {
    const reply = await get("/");
    assert.equal(reply.status, 200);
    assert.match(reply.contentType, /^text\/html/);
    assert.ok(reply.body.includes("<title>mailpolicyd</title>"));
  });

  it("answers an unknown path with 404 JSON, a method the path does not take with 405 and Allow", async () => {
    const reply = await get("/no/such/thing");
    assert.equal(reply.status, 404);
    assert.match(reply.contentType, /^application\/json/);
    assert.deepEqual(reply.json(), { error: "no such endpoint: GET /no/such/thing" });
    const wrongMethod = await overSocket(controlSocket, "POST", "/health");
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.statusMessage, "Method Not Allowed");
    assert.equal(wrongMethod.allow, "GET, HEAD");
    assert.deepEqual(wrongMethod.json(), { error: "POST /health: not allowed; it takes GET, HEAD" });
    const reloadByGet = await overSocket(controlSocket, "GET", "/reload");
    assert.equal(reloadByGet.status, 405);
    assert.equal(reloadByGet.allow, "POST");
    // A path, not the host x and the path /sender (a@example.org reset, where the DELETE test below finds it).
    const twoSlashes = await overSocket(controlSocket, "DELETE", "//x/sender?key=a@example.org");
    assert.equal(twoSlashes.status, 404);
    assert.deepEqual(twoSlashes.json(), { error: "no such endpoint: DELETE //x/sender" });
  });

  it("answers a key not percent-encoded UTF-8 with 400, not 'no counter for %ff'", async () => {
    for (const path of ["/sender?key=%FF", "/sender?key=a%zz@example.org", "/senders/%FF"]) {
      const reply = await overSocket(controlSocket, "DELETE", path);
      assert.equal(reply.status, 400, path);
      assert.match(reply.json().error, /^the request's path or query is not percent-encoded UTF-8/, path);
    }
  });

  it("DELETE /senders/:key resets the key: its next request is accepted; a second DELETE is 404", async () => {
    assert.equal(
      await askPolicy(daemon.policySocket, RCPT_A),
      'action=defer message="a@example.org over limit: 4 messages in 1h (limit 2)" rule=outbound count=4 limit=2',
      "still over before the reset",
    );
    const path = `/senders/${encodeURIComponent("a@example.org")}`;
    const reset = await overSocket(controlSocket, "DELETE", path);
    assert.equal(reset.status, 200);
    assert.deepEqual(reset.json(), { key: "a@example.org", reset: 1 });
    assert.equal((await get(path)).status, 404, "no counter left");

    assert.equal(await askPolicy(daemon.policySocket, RCPT_A), "action=accept");
    assert.equal((await get(path)).json().limits[0].count, 1, "counting starts again");

    assert.equal(
      (await overSocket(controlSocket, "DELETE", `/senders/${encodeURIComponent("b@example.org")}`)).status,
      200,
    );
    const again = await overSocket(
      controlSocket,
      "DELETE",
      `/senders/${encodeURIComponent("b@example.org")}`,
    );
    assert.equal(again.status, 404);
    assert.deepEqual(again.json(), { error: "no counter for b@example.org" });
  });

  it("POST /reload applies a valid edited config", async () => {
    writeTestConfig(dir, limits(1));
    const reply = await overSocket(controlSocket, "POST", "/reload");
    assert.equal(reply.status, 200, reply.body);
    assert.deepEqual(reply.json(), { reloaded: true, config: configFile });
    assert.deepEqual(await askMany(daemon.policySocket, RCPT_A.replace("a@", "c@"), 2), [
      "action=accept",
      'action=defer message="c@example.org over limit: 2 messages in 1h (limit 1)" rule=outbound count=2 limit=1',
    ]);
  });

  it("POST /reload refuses a broken config with FILE:LINE errors (400) and keeps the running one", async () => {
    writeFileSync(
      configFile,
      `[daemon]\ncontrol_socket = ${controlSocket}\n[limit outbound]\nkey = sender\ncount = many\ntime = 1h\n` +
        `[limit net]\nkey = client_address/24/200\ncount = 1\ntime = 1h\n`,
    );
    const reply = await overSocket(controlSocket, "POST", "/reload");
    assert.equal(reply.status, 400);
    assert.match(reply.contentType, /^application\/json/);
    const { errors } = reply.json();
    assert.ok(Array.isArray(errors) && errors.length === 2, reply.body);
    for (const error of errors) {
      assert.ok(error.startsWith(`${configFile}:`), error);
      assert.match(
        error.slice(configFile.length),
        /^:\d+: [a-z ]+\.[a-z_]+: \S.*$/,
        "FILE:LINE: key: problem",
      );
    }
    assert.ok(errors.includes(`${configFile}:5: limit outbound.count: expected a whole number`), reply.body);
    assert.ok(errors.includes(`${configFile}:8: limit net.key: prefix too long`), reply.body);
    await daemon.waitForLog(/reload refused: new config invalid, keeping the running one/);

    // The config of the previous (valid) reload still applies: outbound count = 1.
    assert.deepEqual(await askMany(daemon.policySocket, RCPT_A.replace("a@", "d@"), 2), [
      "action=accept",
      'action=defer message="d@example.org over limit: 2 messages in 1h (limit 1)" rule=outbound count=2 limit=1',
    ]);
    const health = await get("/health");
    assert.equal(health.status, 200);
    assert.deepEqual(health.json().actors, ALL_ACTIVE);
    writeTestConfig(dir, limits(1));
  });

  it("removes the control socket on SIGTERM", async () => {
    assert.ok(existsSync(controlSocket));
    await daemon.stopCleanly("SIGTERM");
    assert.equal(existsSync(controlSocket), false, "control socket removed");
    await assert.rejects(fetch(`http://127.0.0.1:${port}/health`), "the TCP listener is closed too");
  });
});

describe("control API while the counters actor is down (in-process daemon)", () => {
  let dir: TempDir;
  let daemon: Daemon;
  const lines: string[] = [];
  const get = (path: string, method = "GET") => overSocket(dir.file("control.sock"), method, path);

  before(async () => {
    dir = makeTempDir();
    const parsed = parseConfig(
      `[daemon]\npolicy_socket = policy.sock\ncontrol_socket = control.sock\npidfile = d.pid\n` +
        `state_file = state.json\n[thresholds]\ntime = 300\ncount = 3\n`,
      "test.conf",
      dir.path,
    );
    assert.ok(parsed.ok);
    daemon = startDaemon({
      config: parsed.config,
      log: createLogger("debug", (line) => lines.push(line)),
      overrides: { counters: faultyCounters },
      restartMinMs: 5000, // stays down for the whole test
    });
    await waitFor(() => lines.some((line) => line.includes("policy: listening")), 5000, "listener");
    await waitFor(() => lines.some((line) => line.includes("control: listening")), 5000, "control");
  });

  after(() => {
    daemon?.stop();
    dir?.remove();
  });

  it("answers 503 on /health (degraded, counters down) and on the counter queries", async () => {
    assert.equal((await get("/health")).status, 200, "healthy before the fault");
    assert.equal(await askPolicy(dir.file("policy.sock"), "someone@example.org\n"), "no");
    assert.equal(await askPolicy(dir.file("policy.sock"), "crash@test\n"), "no", "answered fail-open");
    await waitFor(() => daemon.actorStates().counters !== "active", 5000, "counters down");

    const health = await get("/health");
    assert.equal(health.status, 503);
    const body = health.json();
    assert.equal(body.status, "degraded");
    assert.equal(body.actors.counters, "down");
    assert.equal(body.actors.policy, "active");
    assert.equal(body.actors.control, "active");

    for (
      const [method, path] of [["GET", "/senders"], ["GET", "/senders/someone%40example.org"], [
        "DELETE",
        "/senders/someone%40example.org",
      ]]
    ) {
      const reply = await get(path, method);
      assert.equal(reply.status, 503, `${method} ${path}`);
      assert.match(reply.contentType, /^application\/json/);
      assert.match(reply.json().error, /counters actor is down/, `${method} ${path}`);
    }

    // /status still answers, without what only the counters actor knows.
    const status = await get("/status");
    assert.equal(status.status, 200);
    assert.equal(status.json().topSenders, null);
    assert.equal(status.json().trackedKeys, null);
    assert.equal(status.json().actors.counters, "down");

    const metrics = await get("/metrics");
    assert.equal(metrics.status, 200);
    assert.equal(sample(metrics.body, 'mailpolicyd_actor_up{actor="counters"}'), 0);
    assert.equal(sample(metrics.body, 'mailpolicyd_actor_up{actor="policy"}'), 1);
    // The request that crashed the actor was still answered, and counted as decided by fail-open.
    assert.equal(sample(metrics.body, 'mailpolicyd_requests_total{action="accept",rule="fail-open"}'), 1);
    assert.equal(sample(metrics.body, 'mailpolicyd_requests_total{action="accept",rule=""}'), 1);
    assert.equal(sample(metrics.body, 'mailpolicyd_actor_restarts_total{actor="counters"}'), 0, "not yet");
  });
});

describe("control socket when the control_listen port is taken (real daemon process)", () => {
  it("keeps serving /health on the control socket", { timeout: 30_000 }, async () => {
    const dir = makeTempDir();
    const holder = net.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => holder.listen(port, "127.0.0.1", resolve));
    const config = writeTestConfig(dir, `control_listen = 127.0.0.1:${port}\n[thresholds]\ncount = 3\n`);
    const daemon = await startDaemonProcess(dir, config);
    try {
      await daemon.waitForLog(/info control: listening socket=/);
      for (let poll = 0; poll < 8; poll++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        const health = await overSocket(dir.file("control.sock"), "GET", "/health").catch((error) => error);
        assert.equal(health.status, 200, `poll ${poll}: ${health.message ?? health.body}`);
      }
      assert.equal(await askPolicy(daemon.policySocket, "someone@example.org\n"), "no");
    } finally {
      await daemon.stop();
      await new Promise((resolve) => holder.close(resolve));
      dir.remove();
    }
  });
});
