// The SpamAssassin actor against a real spamd (Debian's spamd 4.0.1, test/helpers/spamd.ts), over TCP and
// a Unix socket: GTUBE and a clean message; spamd hung (SIGSTOP: its kernel still accepts) within the
// timeout, bounded by max_in_flight and max_queue, the breaker opening, failing fast and closing again
// after a probe; spamd slow (SIGCONT before the timeout); spamd stopped (connection refused).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type AnyActorRef, createActor } from "xstate";
import { spamAssassinActor } from "../../src/actors/spamassassin.ts";
import { parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/types.ts";
import { createMetrics, type Metrics } from "../../src/control/metrics.ts";
import { createLogger } from "../../src/log.ts";
import type { ConcernAnswer } from "../../src/model/answer.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { type Spamd, spamdFixture, startSpamd } from "../helpers/spamd.ts";

const GTUBE = spamdFixture("gtube.eml");
const CLEAN = spamdFixture("clean.eml");

function configFor(section: string): Config {
  const parsed = parseConfig(`[spamassassin]\n${section}\n`, "test.conf", "/tmp");
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed.config;
}

describe("the SpamAssassin actor against a real spamd", () => {
  let spamd: Spamd;
  let actor: AnyActorRef;
  let metrics: Metrics;
  const lines: string[] = [];

  const start = (section: string) => {
    actor?.stop();
    metrics = createMetrics();
    actor = createActor(spamAssassinActor, {
      input: { config: configFor(section), log: createLogger("debug", (line) => lines.push(line)), metrics },
    });
    actor.start();
  };
  const tcp = () => `address = ${spamd.tcp.host}:${spamd.tcp.port}`;
  /** The actor's answer, and how long it took in ms. */
  const scan = (message: Uint8Array, user?: string) =>
    new Promise<{ answer: ConcernAnswer | undefined; ms: number }>((resolve) => {
      const started = performance.now();
      actor.send({
        type: "scan",
        request: {
          form: "message",
          envelope: { sender: "a@example.org", recipients: ["b@example.net"], user },
          message,
          size: message.length,
          truncated: false,
        },
        reply: (answer: ConcernAnswer | undefined) => resolve({ answer, ms: performance.now() - started }),
      });
    });
  const live = () => metrics.spamd.live!();

  before(async () => {
    spamd = await startSpamd();
  });
  after(async () => {
    actor?.stop();
    await spamd?.stop();
  });

  it("GTUBE over TCP, REPORT: 1000 points and the GTUBE test with its score", async () => {
    start(tcp());
    const { answer } = await scan(GTUBE, "nobody");
    assert.equal(answer?.action, "accept", spamd.log());
    assert.ok(answer!.score! >= 1000, `${answer!.score}`);
    assert.deepEqual(answer!.symbols!.find((symbol) => symbol.name === "GTUBE"), {
      name: "GTUBE",
      score: 1000,
      description: "BODY: Generic Test for Unsolicited Bulk Email",
    });
    assert.deepEqual(answer!.tags, ["spamassassin:spam"]);
    assert.equal(metrics.spamd.scans.ok, 1);
    assert.equal(metrics.spamd.latencyCount, 1);
  });

  it("a clean message over the Unix socket: a low score, no GTUBE", async () => {
    start(`address = ${spamd.unix.path}`);
    const { answer } = await scan(CLEAN);
    assert.ok(answer !== undefined, spamd.log());
    assert.ok(answer.score! < 5, `${answer.score}`);
    assert.deepEqual(answer.tags, ["spamassassin:ham"]);
    assert.equal(answer.symbols!.some((symbol) => symbol.name === "GTUBE"), false);
  });

  it("command = check: the score alone; symbols: the names, each 0", async () => {
    start(`${tcp()}\ncommand = check`);
    const check = await scan(GTUBE);
    assert.equal(check.answer?.score, 1000);
    assert.deepEqual(check.answer?.symbols, []);
    start(`${tcp()}\ncommand = symbols`);
    const symbols = await scan(GTUBE);
    assert.deepEqual(symbols.answer?.symbols?.find((symbol) => symbol.name === "GTUBE"), {
      name: "GTUBE",
      score: 0,
    });
  });

  it("hung: failures within the timeout, nothing beyond max_in_flight + max_queue, the breaker opens", async () => {
    start(
      `${tcp()}\ntimeout = 1s\nmax_in_flight = 2\nmax_queue = 2\nbreaker_failures = 2\nbreaker_reset = 1500ms`,
    );
    spamd.pause();
    let most = { inFlight: 0, queued: 0 };
    const sampler = setInterval(() => {
      const now = live();
      most = { inFlight: Math.max(most.inFlight, now.inFlight), queued: Math.max(most.queued, now.queued) };
    }, 5);
    const scans = await Promise.all(Array.from({ length: 6 }, () => scan(GTUBE)));
    clearInterval(sampler);
    assert.deepEqual(scans.map((result) => result.answer), new Array(6).fill(undefined));
    assert.deepEqual(most, { inFlight: 2, queued: 2 });
    const { scans: outcomes } = metrics.spamd;
    assert.equal(outcomes.busy, 2, "the fifth and sixth: refused at once");
    assert.equal(outcomes.timeout + outcomes["breaker-open"], 4, JSON.stringify(outcomes));
    assert.ok(outcomes.timeout >= 2, JSON.stringify(outcomes));
    // The actor gives up at nine tenths of [spamassassin] timeout (900 ms), before the engine would; the
    // slack is for timers on a busy machine.
    for (const { ms } of scans) assert.ok(ms < 1250, `${ms} ms`);
    assert.equal(live().breaker, "open");
    assert.equal(live().inFlight, 0, "the sockets of the timed-out scans are gone");
    assert.ok(lines.some((line) => / warn spamassassin: circuit breaker open: /.test(line)));

    // Open: fails at once, without connecting.
    const refusedBefore = outcomes["breaker-open"];
    const fast = await scan(GTUBE);
    assert.equal(fast.answer, undefined);
    assert.equal(metrics.spamd.scans["breaker-open"], refusedBefore + 1);
    assert.equal(live().inFlight, 0);
    assert.ok(fast.ms < 100, `${fast.ms} ms`);
  });

  it("SIGCONT, then after breaker_reset: one probe goes through and closes the breaker", async () => {
    spamd.resume();
    // spamd first scans what it had accepted while paused (the connections are closed, it finds out only
    // when it answers): a reload gives the probe time for that; the breaker keeps its state across it.
    actor.send({
      type: "config",
      config: configFor(
        `${tcp()}\ntimeout = 20s\nmax_in_flight = 2\nbreaker_failures = 2\nbreaker_reset = 1500ms`,
      ),
    });
    assert.notEqual(live().breaker, "closed", "a reload keeps the breaker's state");
    await waitFor(() => live().breaker === "half-open", 5000, "half-open after breaker_reset");
    const probe = await scan(GTUBE);
    assert.equal(probe.answer?.score, 1000, spamd.log());
    assert.equal(live().breaker, "closed");
    assert.ok(
      lines.some((line) => / info spamassassin: circuit breaker closed: spamd answers again/.test(line)),
    );
    assert.equal((await scan(CLEAN)).answer?.action, "accept");
  });

  it("slow: paused, then going on before the timeout: answered", async () => {
    start(`${tcp()}\ntimeout = 20s`);
    spamd.pause();
    const pending = scan(GTUBE);
    await new Promise((done) => setTimeout(done, 1000));
    assert.equal(live().inFlight, 1);
    spamd.resume();
    const { answer, ms } = await pending;
    assert.equal(answer?.score, 1000);
    assert.ok(ms >= 1000, `${ms} ms: it waited for spamd`);
  });

  it("stopped: connection refused at once over TCP, no socket over Unix", async () => {
    await spamd.stop();
    start(tcp());
    const refused = await scan(GTUBE);
    assert.equal(refused.answer, undefined);
    assert.equal(metrics.spamd.scans.refused, 1);
    assert.ok(
      lines.some((line) => / warn spamassassin: scan failed: .*outcome=refused .*ECONNREFUSED/.test(line)),
    );
    start(`address = ${spamd.unix.path}`);
    assert.equal((await scan(GTUBE)).answer, undefined);
    assert.equal(metrics.spamd.scans.refused, 1, "ENOENT: no socket");
  });
});
