// The counting engine over the memory store, without the actor: the two passes (check, then commit with
// the final verdict), what a commit does when other requests came between, held checks and their
// bounds, and an asynchronous store (as Redis will be) behind the same engine.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../../../src/config/load.ts";
import type { CounterStore, Probe } from "../../../src/limits/counter-store.ts";
import { createLimitEngine, type LimitsCheck } from "../../../src/limits/limit-engine.ts";
import { type HeldIncident, HOLD_MS, MAX_HELD } from "../../../src/limits/held-checks.ts";
import type { MemoryStore } from "../../../src/limits/memory-store.ts";
import { bareMemoryStore } from "../../helpers/bare-memory-store.ts";
import { MESSAGES_REMEMBERED } from "../../../src/policy/counted-messages.ts";
import type { PolicyRequest } from "../../../src/policy/request.ts";
import type { SenderDetail } from "../../../src/policy/sender-report.ts";
import type { Verdict } from "../../../src/policy/verdict.ts";
import { ownAlertMail } from "../../../src/policy/own-alert.ts";

const LEAKY = "[limit out]\nkey = sender\ncount = 2\ntime = 1h\n";
const STRICT = "[limit out]\nkey = sender\ncount = 2\ntime = 1h\nmode = strict\n";

/** An engine over a fresh memory store, on a clock the test moves. */
function setUp(
  limits: string,
  options: { maxKeys?: number; store?: (store: MemoryStore) => CounterStore } = {},
) {
  const parsed = parseConfig(limits, "t", "/tmp");
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.errors.join("; "));
  const config = parsed.config;
  const clock = { now: 1_000_000 };
  const now = () => clock.now;
  const memory = bareMemoryStore(now);
  memory.configure(config.limits, options.maxKeys ?? 1000);
  const crossings: { rule: string; key: string; count: number }[] = [];
  const incidents: HeldIncident[] = [];
  const engine = createLimitEngine(options.store?.(memory) ?? memory, now, {
    crossed: (probe: Probe) => crossings.push({ rule: probe.limit.name, key: probe.key, count: probe.count }),
    ownAlert: () => {},
    heldIncident: (incident) => incidents.push(incident),
  });
  engine.configure(config.limits, undefined);
  const request = (sender: string, extra: Record<string, string> = {}): PolicyRequest => ({
    form: "attributes",
    stage: "rcpt",
    attributes: { sender, ...extra },
  });
  // The memory store answers at once: so does the engine.
  const hit = (sender: string, extra?: Record<string, string>): Verdict => {
    let answer: Verdict | undefined;
    engine.hit(request(sender, extra), (verdict) => answer = verdict);
    assert.ok(answer, "answered at once");
    return answer;
  };
  const check = (sender: string, extra?: Record<string, string>): LimitsCheck => {
    let answer: LimitsCheck | undefined;
    engine.check(request(sender, extra), (result) => answer = result);
    assert.ok(answer, "answered at once");
    return answer;
  };
  const counts = (key: string) => {
    let rows: SenderDetail[] = [];
    memory.show(key, (found) => rows = found ?? []);
    return Object.fromEntries(rows.map((row) => [row.rule, row.count]));
  };
  return { engine, memory, clock, hit, check, counts, crossings, incidents, request };
}

describe("limit engine: check, then commit with the final verdict", () => {
  it("answers check with the verdict hit would give, and a ticket", () => {
    const alone = setUp(LEAKY);
    const twoPass = setUp(LEAKY);
    for (let i = 0; i < 4; i++) {
      const verdict = alone.hit("a@x.org");
      const checked = twoPass.check("a@x.org");
      assert.ok(checked.ticket > 0);
      assert.deepEqual(checked.verdict, verdict, `request ${i + 1}`);
      twoPass.engine.commit(checked.ticket, refusesOf(checked.verdict));
    }
    assert.deepEqual(twoPass.counts("a@x.org"), alone.counts("a@x.org"));
  });

  it("leaky: counts a commit the final verdict lets through, not one it refuses", () => {
    const { engine, check, counts } = setUp(LEAKY);
    engine.commit(check("a@x.org").ticket, false);
    assert.deepEqual(counts("a@x.org"), { out: 1 });
    engine.commit(check("a@x.org").ticket, true); // another concern refused it
    assert.deepEqual(counts("a@x.org"), { out: 1 });
    engine.commit(check("a@x.org").ticket, false);
    assert.deepEqual(counts("a@x.org"), { out: 2 });
  });

  it("strict: counts every commit, refused or not", () => {
    const { engine, check, counts } = setUp(STRICT);
    engine.commit(check("a@x.org").ticket, true);
    engine.commit(check("a@x.org").ticket, false);
    engine.commit(check("a@x.org").ticket, true);
    assert.deepEqual(counts("a@x.org"), { out: 3 });
  });

  it("stores nothing for a new key whose only commit is refused by a leaky limit", () => {
    const { engine, check, counts, memory } = setUp(LEAKY);
    engine.commit(check("a@x.org").ticket, true);
    assert.deepEqual(counts("a@x.org"), {});
    assert.equal(memory.keyCount(), 0);
  });

  it("gives ticket 0 when no limit applies, and commits nothing for it", () => {
    const { engine, check, memory } = setUp("[limit out]\nkey = sasl_username\ncount = 2\ntime = 1h\n");
    const checked = check("a@x.org"); // no sasl_username: the limit does not apply
    assert.equal(checked.ticket, 0);
    assert.equal(checked.verdict!.action, "accept");
    engine.commit(0, false);
    assert.equal(memory.keyCount(), 0);
    assert.equal(engine.heldCount, 0);
  });

  it("ignores a ticket committed twice", () => {
    const { engine, check, counts } = setUp(STRICT);
    const { ticket } = check("a@x.org");
    engine.commit(ticket, false);
    engine.commit(ticket, false);
    assert.deepEqual(counts("a@x.org"), { out: 1 });
  });
});

describe("limit engine: a commit after other requests", () => {
  it("counts into a key another request created between check and commit (2, not 1)", () => {
    const { engine, hit, check, counts } = setUp(LEAKY);
    const first = check("new@x.org"); // the key is new here
    hit("new@x.org"); // and created here
    engine.commit(first.ticket, false);
    assert.deepEqual(counts("new@x.org"), { out: 2 });
  });

  it("adds to what other requests counted on an existing key meanwhile", () => {
    const { engine, hit, check, counts } = setUp("[limit out]\nkey = sender\ncount = 100\ntime = 1h\n");
    hit("a@x.org");
    const held = check("a@x.org");
    hit("a@x.org");
    hit("a@x.org");
    engine.commit(held.ticket, false);
    assert.deepEqual(counts("a@x.org"), { out: 4 });
  });

  it("creates an evicted key again, max_keys holding (another key gives way)", () => {
    const { engine, hit, check, counts, memory } = setUp(
      "[limit out]\nkey = sender\ncount = 100\ntime = 1h\n",
      {
        maxKeys: 1,
      },
    );
    hit("a@x.org");
    const held = check("a@x.org");
    hit("b@x.org"); // max_keys 1: a gives way to b
    assert.deepEqual(counts("a@x.org"), {});
    engine.commit(held.ticket, false);
    assert.deepEqual(counts("a@x.org"), { out: 1 }, "counted in the table, not into the evicted counter");
    assert.deepEqual(counts("b@x.org"), {}, "b gave way in turn");
    assert.equal(memory.keyCount(), 1);
  });

  it("keeps an earlier limit's count when a later limit of the same request evicts its key", () => {
    const { hit, counts, clock } = setUp(
      "[limit out]\nkey = sender\ncount = 100\ntime = 1h\n" +
        "[limit ip]\nkey = client_address\ncount = 1\ntime = 1h\naction = warn\n",
      { maxKeys: 3 },
    );
    hit("a@x.org", { client_address: "192.0.2.1" });
    clock.now++;
    hit("b@x.org", { client_address: "192.0.2.1" }); // 192.0.2.1 is over its limit: it never gives way
    clock.now++;
    // Full (a, b, 192.0.2.1): the new address makes room in the largest table, where a is the oldest.
    hit("a@x.org", { client_address: "192.0.2.2" });
    assert.deepEqual(
      counts("a@x.org"),
      { out: 1 },
      "a was evicted and counted again, not into the dropped counter",
    );
    assert.deepEqual(counts("b@x.org"), { out: 1 });
  });

  it("creates a key reset meanwhile again", () => {
    const { engine, hit, check, counts, memory } = setUp(LEAKY);
    hit("a@x.org");
    const held = check("a@x.org");
    memory.reset("a@x.org", () => {});
    engine.commit(held.ticket, false);
    assert.deepEqual(counts("a@x.org"), { out: 1 });
  });

  it("rolls the counter to the commit time: a window that ended meanwhile starts afresh", () => {
    const { engine, hit, check, counts, clock } = setUp(
      "[limit out]\nkey = sender\ncount = 100\ntime = 10s\n",
    );
    hit("a@x.org");
    hit("a@x.org");
    const held = check("a@x.org");
    clock.now += 10_000;
    engine.commit(held.ticket, false);
    assert.deepEqual(counts("a@x.org"), { out: 1 });
  });

  it("counts a message once when two recipients' checks are committed (per = message)", () => {
    const { engine, check, counts } = setUp(
      "[limit out]\nkey = sender\ncount = 100\ntime = 1h\nper = message\n",
    );
    const first = check("a@x.org", { instance: "m1" });
    const second = check("a@x.org", { instance: "m1" });
    engine.commit(first.ticket, false);
    engine.commit(second.ticket, false);
    assert.deepEqual(counts("a@x.org"), { out: 1 });
  });

  it("counts each message once when two sessions' recipients interleave (per = message)", () => {
    const { hit, counts } = setUp("[limit out]\nkey = sender\ncount = 2\ntime = 1h\nper = message\n");
    const verdicts = [];
    for (let recipient = 0; recipient < 3; recipient++) {
      for (const message of ["A", "B"]) verdicts.push(hit("a@x.org", { instance: message }).action);
    }
    assert.deepEqual(verdicts, Array(6).fill("accept"), "two messages, within a count of 2");
    assert.deepEqual(counts("a@x.org"), { out: 2 });
    assert.equal(hit("a@x.org", { instance: "C" }).action, "defer", "a third message is over");
  });

  it("forgets the oldest of more messages than it remembers: its late recipients count again", () => {
    const { hit, counts } = setUp("[limit out]\nkey = sender\ncount = 100\ntime = 1h\nper = message\n");
    const messages = Array.from({ length: MESSAGES_REMEMBERED + 1 }, (_, i) => `m${i}`);
    for (const message of messages) hit("a@x.org", { instance: message });
    hit("a@x.org", { instance: messages[1] });
    assert.deepEqual(counts("a@x.org"), { out: MESSAGES_REMEMBERED + 1 }, "m1 is still remembered");
    hit("a@x.org", { instance: messages[0] });
    assert.deepEqual(counts("a@x.org"), { out: MESSAGES_REMEMBERED + 2 }, "m0 was forgotten");
  });

  it("reports the crossing on the level after the commit, once", () => {
    const { engine, check, crossings } = setUp(
      "[limit out]\nkey = sender\ncount = 1\ntime = 1h\nmode = strict\n",
    );
    const first = check("a@x.org");
    const second = check("a@x.org");
    assert.equal(first.verdict!.over, false);
    assert.equal(second.verdict!.over, true, "the first, held, counts at the second's check");
    engine.commit(first.ticket, false);
    assert.deepEqual(crossings, []);
    engine.commit(second.ticket, false);
    assert.deepEqual(crossings, [{ rule: "out", key: "a@x.org", count: 2 }]);
    engine.commit(check("a@x.org").ticket, true);
    assert.equal(crossings.length, 1, "one crossing per window");
  });
});

describe("limit engine: checks held for their commit count at the checks made meanwhile", () => {
  it("defers the request past the limit while the others are held (leaky)", () => {
    const { engine, check, hit, counts } = setUp(LEAKY);
    const first = check("a@x.org");
    const second = check("a@x.org");
    assert.equal(second.verdict!.action, "accept");
    assert.equal(check("a@x.org").verdict!.action, "defer", "a third while two are held: over");
    assert.equal(hit("a@x.org").action, "defer", "a hit too");
    engine.commit(first.ticket, false);
    engine.commit(second.ticket, false);
    assert.deepEqual(counts("a@x.org"), { out: 2 });
  });

  it("gives the allowance back when the final verdict refuses a held check (leaky)", () => {
    const { engine, check, hit, counts } = setUp(LEAKY);
    const first = check("a@x.org");
    engine.commit(first.ticket, true); // another concern refused it
    assert.equal(hit("a@x.org").action, "accept");
    assert.equal(hit("a@x.org").action, "accept");
    assert.equal(hit("a@x.org").action, "defer");
    assert.deepEqual(counts("a@x.org"), { out: 2 });
  });

  it("counts a held recipient of the same message once (per = message)", () => {
    const { engine, check } = setUp("[limit out]\nkey = sender\ncount = 1\ntime = 1h\nper = message\n");
    const first = check("a@x.org", { instance: "m1" });
    const second = check("a@x.org", { instance: "m1" });
    assert.equal(second.verdict!.action, "accept", "the same message");
    assert.equal(check("a@x.org", { instance: "m2" }).verdict!.action, "defer", "another message");
    engine.commit(first.ticket, false);
    engine.commit(second.ticket, false);
  });

  it("releases what a held check reserved when it expires", () => {
    const { engine, check, hit, clock, counts } = setUp(LEAKY);
    check("a@x.org");
    clock.now += HOLD_MS;
    engine.expireHeld(); // committed as its own verdict said: counted
    assert.equal(engine.heldCount, 0);
    assert.equal(hit("a@x.org").action, "accept", "counted once, no longer held as well");
    assert.deepEqual(counts("a@x.org"), { out: 2 });
  });
});

describe("limit engine: the subject at DATA", () => {
  const subjects = (memory: MemoryStore, key: string) => {
    let rows: SenderDetail[] = [];
    memory.show(key, (found) => rows = found ?? []);
    return rows.map((row) => [row.rule, row.subjects]);
  };
  const data = (sender: string, subject: string): PolicyRequest => ({
    form: "attributes",
    stage: "data",
    attributes: { sender, subject },
  });

  it("gives it to a limit counted at RCPT, also when no limit applies at DATA", () => {
    const { engine, hit, memory } = setUp(LEAKY);
    hit("a@x.org");
    engine.hit(data("a@x.org", "Hello"), () => {});
    assert.deepEqual(subjects(memory, "a@x.org"), [["out", [["Hello", 1]]]]);
  });

  it("gives it to the RCPT limit when a DATA limit counts it too", () => {
    const { engine, hit, memory } = setUp(
      LEAKY + "[limit body]\nkey = sender\ncount = 9\ntime = 1h\nstage = data\n",
    );
    hit("a@x.org");
    engine.hit(data("a@x.org", "Hello"), () => {});
    assert.deepEqual(subjects(memory, "a@x.org"), [["out", [["Hello", 1]]], ["body", [["Hello", 1]]]]);
  });
});

describe("limit engine: held checks", () => {
  it("commits a check held 30 s as its own verdict said, and logs once per incident", () => {
    const { engine, check, counts, clock, incidents } = setUp(LEAKY);
    check("a@x.org");
    clock.now += HOLD_MS - 1;
    engine.expireHeld();
    assert.equal(engine.heldCount, 1);
    assert.deepEqual(counts("a@x.org"), {});
    clock.now += 1;
    engine.expireHeld();
    assert.equal(engine.heldCount, 0);
    assert.deepEqual(counts("a@x.org"), { out: 1 }, "its own verdict let it through: counted");
    assert.deepEqual(incidents, [{ kind: "expired", count: 1 }]);

    check("b@x.org");
    clock.now += HOLD_MS;
    engine.expireHeld();
    assert.equal(incidents.length, 1, "the same incident: not logged again");
    engine.expireHeld(); // nothing expires: the incident is over
    check("c@x.org");
    clock.now += HOLD_MS;
    engine.expireHeld();
    assert.deepEqual(incidents.at(-1), { kind: "expired", count: 1 });
    assert.equal(incidents.length, 2);
  });

  it("does not count an expired check its own verdict refused (leaky)", () => {
    const { engine, hit, check, counts, clock } = setUp(LEAKY);
    hit("a@x.org");
    hit("a@x.org");
    const held = check("a@x.org");
    assert.equal(held.verdict!.action, "defer");
    clock.now += HOLD_MS;
    engine.expireHeld();
    assert.deepEqual(counts("a@x.org"), { out: 2 });
    engine.commit(held.ticket, false); // too late: given up already
    assert.deepEqual(counts("a@x.org"), { out: 2 });
  });

  it(`holds at most ${MAX_HELD} checks: the oldest is committed as its own verdict said`, () => {
    const { engine, check, counts, incidents } = setUp(
      "[limit out]\nkey = sender\ncount = 1000000\ntime = 1h\n",
    );
    const first = check("a@x.org");
    for (let i = 1; i < MAX_HELD; i++) check("a@x.org");
    assert.equal(engine.heldCount, MAX_HELD);
    assert.deepEqual(counts("a@x.org"), {});
    check("a@x.org");
    assert.equal(engine.heldCount, MAX_HELD);
    assert.deepEqual(counts("a@x.org"), { out: 1 });
    assert.deepEqual(incidents, [{ kind: "full", max: MAX_HELD }]);
    engine.commit(first.ticket, false); // given up already: not counted twice
    assert.deepEqual(counts("a@x.org"), { out: 1 });
    check("a@x.org");
    assert.equal(incidents.length, 1, "one log per incident");
  });

  it("a restarted engine ignores a commit for a check its predecessor held", () => {
    // The counters actor crashed between a check and its commit; the policy engine, which outlives it,
    // commits the old ticket to the restarted actor, whose own checks have tickets too.
    const before = setUp(LEAKY);
    const lost = before.check("a@x.org");
    const after = setUp(LEAKY);
    const fresh = after.check("b@x.org");
    after.engine.commit(lost.ticket, true); // the old request was refused
    after.engine.commit(fresh.ticket, false);
    assert.deepEqual(after.counts("b@x.org"), { out: 1 }, "b's own commit counted it");
    assert.equal(after.engine.heldCount, 0);
  });

  it("hit holds nothing", () => {
    const { engine, hit } = setUp(LEAKY);
    for (let i = 0; i < 5; i++) hit("a@x.org");
    assert.equal(engine.heldCount, 0);
  });
});

describe("limit engine: over a store that answers later (as Redis will)", () => {
  /** The memory store, with every answer deferred to a microtask. */
  const later = (memory: MemoryStore): CounterStore => ({
    ...memory,
    check: (batch, done) => queueMicrotask(() => memory.check(batch, done)),
    commit: (batch, at, done) => queueMicrotask(() => memory.commit(batch, at, done)),
  });

  it("answers every request in flight from its own probes", async () => {
    const { engine, request, counts } = setUp(LEAKY, { store: later });
    const asked = ["a@x.org", "b@x.org", "a@x.org", "a@x.org"].map((sender) =>
      new Promise<Verdict>((resolve) => engine.hit(request(sender), (verdict) => resolve(verdict!)))
    );
    const answers = await Promise.all(asked);
    assert.deepEqual(answers.map((verdict) => verdict.action), ["accept", "accept", "accept", "accept"]);
    // All four were checked before any commit: none saw the others. The commits all count.
    assert.deepEqual(counts("a@x.org"), { out: 3 });
    assert.deepEqual(counts("b@x.org"), { out: 1 });
    const fourth = await new Promise<Verdict>((resolve) =>
      engine.hit(request("a@x.org"), (verdict) => resolve(verdict!))
    );
    assert.equal(fourth.action, "defer");
    assert.equal(fourth.outcome?.key, "a@x.org");
  });

  it("holds and commits tickets", async () => {
    const { engine, request, counts } = setUp(STRICT, { store: later });
    const checked = await new Promise<LimitsCheck>((resolve) => engine.check(request("a@x.org"), resolve));
    assert.ok(checked.ticket > 0);
    engine.commit(checked.ticket, true);
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(counts("a@x.org"), { out: 1 });
  });
});

function refusesOf(verdict: Verdict): boolean {
  return verdict.action === "defer" || verdict.action === "reject";
}

describe("limit engine: the daemon's alert handed to Postfix's sendmail, its sender rewritten", () => {
  // As the milter asks: local_user is the sender as Postfix's canonical maps left it.
  const milter = (sender: string): PolicyRequest => ({
    form: "attributes",
    stage: "local",
    attributes: { sender, local_user: sender, recipient_count: "1", recipients: "postmaster@example.org" },
    localUserIsSender: true,
  });
  /** An engine with a local_user limit and the alert from mailpolicyd@host.test to postmaster@example.org. */
  const alertSetUp = () => {
    const limits = "[limit site]\nkey = local_user\ncount = 5\ntime = 1h\n";
    const { engine, counts } = setUp(limits);
    const parsed = parseConfig(limits, "t", "/tmp");
    assert.ok(parsed.ok);
    engine.configure(
      parsed.config.limits,
      ownAlertMail({
        from: "mailpolicyd@host.test",
        to: ["postmaster@example.org"],
        cc: [],
        exemptAlerts: true,
      }),
    );
    return { engine, counts, hit: (request: PolicyRequest) => engine.hit(request, () => {}) };
  };

  it("leaves one message to the alert recipients uncounted per alert handed over, whatever its sender", () => {
    const { engine, counts, hit } = alertSetUp();
    hit(milter("mailpolicyd@test")); // no alert on its way: counted
    assert.deepEqual(counts("mailpolicyd@test"), { site: 1 });
    engine.alertHandedOver();
    engine.alertHandedOver();
    hit(milter("mailpolicyd@test"));
    hit(milter("mailpolicyd@test"));
    assert.deepEqual(counts("mailpolicyd@test"), { site: 1 }, "the two alerts");
    hit(milter("mailpolicyd@test"));
    assert.deepEqual(counts("mailpolicyd@test"), { site: 2 }, "no alert left on its way");
  });

  it("is taken by fromAddr itself too, and bounded when alerts never reach the milter", () => {
    const { engine, counts, hit } = alertSetUp();
    engine.alertHandedOver();
    hit(milter("mailpolicyd@host.test")); // the alert, not rewritten: it was the one handed over
    hit(milter("www-data@test"));
    assert.deepEqual(counts("www-data@test"), { site: 1 });
    for (let i = 0; i < 50; i++) engine.alertHandedOver();
    for (let i = 0; i < 12; i++) hit(milter("www-data@test"));
    assert.deepEqual(counts("www-data@test"), { site: 3 }, "ten uncounted, no more");
  });
});
