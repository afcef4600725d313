import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  decideVerdict,
  type LimitOutcome,
  refuses,
  renderMessage,
  sameRefusal,
  verdictFor,
} from "../../../src/policy/verdict.ts";
// The limits' verdict is a ConcernAnswer: its reply is the engine's, as a lone answer is the decision.
import { formatDecision as formatVerdict } from "../../../src/engine/reply.ts";
import type { LimitConfig } from "../../../src/model/limit.ts";
import { limitConfig } from "../../helpers/limit-config.ts";

const limit = limitConfig;

function outcome(
  overrides: Partial<LimitConfig> = {},
  { key = "bob@example.org", count = 21, over = true }: { key?: string; count?: number; over?: boolean } = {},
): LimitOutcome {
  return { limit: limit(overrides), key, count, over };
}

describe("renderMessage", () => {
  it("by default names the key, its count, the window as written and the limit", () => {
    assert.equal(renderMessage(outcome()), "bob@example.org over limit: 21 messages in 5m (limit 20)");
    assert.equal(
      renderMessage(
        outcome({ keyText: "client_address/24", count: 100, window: "300s" }, {
          key: "192.0.2.0/24",
          count: 101,
        }),
      ),
      "192.0.2.0/24 over limit: 101 messages in 300s (limit 100)",
    );
  });

  it("counts recipients for per = recipient", () => {
    assert.equal(
      renderMessage(outcome({ per: "recipient", window: "1h", count: 250 }, { count: 250 })),
      "bob@example.org over limit: 250 recipients in 1h (limit 250)",
    );
  });

  it("shows the window exactly as the config wrote it", () => {
    for (const window of ["90m", "1.5h", "3600s", "1d"]) {
      assert.equal(renderMessage(outcome({ window, message: "{window}" })), window);
    }
  });

  it("fills every placeholder of a custom message", () => {
    const message = "{rule}: {key} sent {count} {unit} (limit {limit}) in {window}, keyed by {what}";
    assert.equal(
      renderMessage(outcome({ message, name: "outbound" })),
      "outbound: bob@example.org sent 21 messages (limit 20) in 5m, keyed by sender",
    );
  });

  it("the limit of a bucket is its burst", () => {
    assert.equal(
      renderMessage(
        outcome({ algorithm: "bucket", count: 10, burst: 30, message: "{count}/{limit}" }, { count: 31 }),
      ),
      "31/30",
    );
  });

  it("never lets a key make the text start with a reply code; the template's own code stays", () => {
    // Exim takes a `message` starting with three digits and a space as the SMTP reply's code: a recipient
    // "550 5.1.1 x"@example.net (Exim's $local_part has no quotes) under key = recipient chose the code.
    const key = "550 5.1.1 no such user@example.net";
    assert.equal(
      renderMessage(outcome({ key: [{ kind: "recipient" }] }, { key })),
      `mailpolicyd: ${key} over limit: 21 messages in 5m (limit 20)`,
    );
    assert.equal(
      renderMessage(outcome({ message: "{count}\t{key}" }, { count: 421 })),
      "mailpolicyd: 421\tbob@example.org",
    );
    assert.equal(
      renderMessage(outcome({ message: "451 4.7.1 {key} waits" }, { key })),
      `451 4.7.1 ${key} waits`,
    );
    assert.equal(
      renderMessage(outcome({}, { key: "4500 x@example.org" })),
      "4500 x@example.org over limit: 21 messages in 5m (limit 20)",
    );
  });

  it("fills a placeholder used twice, and leaves unknown braces alone", () => {
    assert.equal(renderMessage(outcome({ message: "{count}={count} {nope} {}" })), "21=21 {nope} {}");
  });

  it("inserts values verbatim in one pass: a key with {count} or $& is not expanded", () => {
    const message = "slow down, {key} ({count})";
    assert.equal(
      renderMessage(outcome({ message }, { key: "{count}@example.org" })),
      "slow down, {count}@example.org (21)",
    );
    assert.equal(renderMessage(outcome({ message }, { key: "$&$1$$@x" })), "slow down, $&$1$$@x (21)");
    assert.equal(renderMessage(outcome({ message: "{key}" }, { key: "{rule}" })), "{rule}");
  });
});

describe("decideVerdict", () => {
  it("accepts when nothing is over", () => {
    assert.deepEqual(decideVerdict([]), { action: "accept", over: false });
    assert.deepEqual(
      decideVerdict([outcome({}, { over: false }), outcome({ action: "reject" }, { count: 3, over: false })]),
      { action: "accept", over: false },
    );
  });

  it("defers with the message of the limit that is over", () => {
    const over = outcome({ action: "defer" });
    const verdict = decideVerdict([outcome({ name: "other", action: "reject" }, { over: false }), over]);
    assert.deepEqual(verdict, {
      action: "defer",
      over: true,
      outcome: over,
      message: "bob@example.org over limit: 21 messages in 5m (limit 20)",
      // As a ConcernAnswer (engine/answer.ts): the metrics' rule, the reply's fields and the log's.
      rule: "outbound",
      flagged: true,
      fields: [["rule", "outbound"], ["count", 21], ["limit", "20"]],
      logFields: { rule: "outbound", key: "bob@example.org", count: 21, limit: 20 },
    });
  });

  it("rejects with the message of a reject limit", () => {
    const verdict = decideVerdict([outcome({ action: "reject", message: "go away" })]);
    assert.equal(verdict.action, "reject");
    assert.equal(verdict.message, "go away");
    assert.equal(verdict.headers, undefined);
  });

  it("an alert limit that is over still accepts, but says it is over and has no message", () => {
    const over = outcome({ action: "alert" });
    const verdict = decideVerdict([over]);
    assert.equal(verdict.action, "accept");
    assert.equal(verdict.over, true);
    assert.equal(verdict.outcome, over);
    assert.equal(verdict.message, undefined);
    assert.equal(verdict.headers, undefined);
  });

  it("warn accepts with a warning header carrying the message", () => {
    const verdict = decideVerdict([outcome({ action: "warn" })]);
    assert.equal(verdict.action, "warn");
    assert.equal(verdict.over, true);
    assert.equal(verdict.message, "bob@example.org over limit: 21 messages in 5m (limit 20)");
    assert.deepEqual(
      verdict.headers,
      ["X-Mailpolicyd-Warning: bob@example.org over limit: 21 messages in 5m (limit 20)"],
    );
  });

  it("the strictest action among the limits that are over wins: reject > defer > warn > alert", () => {
    const actions = ["alert", "warn", "defer", "reject"] as const;
    const expected = { alert: "accept", warn: "warn", defer: "defer", reject: "reject" } as const;
    // Every pair, in both orders: the stricter one decides.
    for (const [i, a] of actions.entries()) {
      for (const b of actions.slice(i)) {
        for (const order of [[a, b], [b, a]]) {
          const outcomes = order.map((action) => outcome({ name: action, action }));
          const verdict = decideVerdict(outcomes);
          assert.equal(verdict.action, expected[b], order.join(","));
          assert.equal(verdict.outcome?.limit.name, b, order.join(","));
        }
      }
    }
  });

  it("a stricter limit that is not over does not count", () => {
    const verdict = decideVerdict([
      outcome({ name: "hard", action: "reject" }, { over: false, count: 5 }),
      outcome({ name: "soft", action: "warn" }),
    ]);
    assert.equal(verdict.action, "warn");
    assert.equal(verdict.outcome?.limit.name, "soft");
  });

  it("the winner's own message and numbers are used", () => {
    const verdict = decideVerdict([
      outcome({ name: "a", action: "warn", message: "warned" }, { count: 99 }),
      outcome({ name: "b", action: "defer", message: "{rule} {count}/{limit}", count: 5, burst: 5 }, {
        count: 6,
      }),
    ]);
    assert.equal(verdict.message, "b 6/5");
    assert.equal(verdict.headers, undefined);
  });
});

describe("refuses", () => {
  it("only defer and reject refuse the mail", () => {
    assert.deepEqual(
      (["accept", "alert", "warn", "defer", "reject"] as const).map(refuses),
      [false, false, false, true, true],
    );
  });
});

describe("formatVerdict", () => {
  it("is a bare action=accept when nothing is over", () => {
    assert.equal(formatVerdict(decideVerdict([])), "action=accept");
    assert.equal(formatVerdict(decideVerdict([outcome({}, { over: false })])), "action=accept");
  });

  it("gives the action, quoted message, rule, count and limit, with no trailing newline", () => {
    assert.equal(
      formatVerdict(decideVerdict([outcome()])),
      'action=defer message="bob@example.org over limit: 21 messages in 5m (limit 20)" rule=outbound count=21 limit=20',
    );
  });

  it("adds the warning header for warn", () => {
    assert.equal(
      formatVerdict(decideVerdict([outcome({ action: "warn", name: "soft", count: 100 }, { count: 101 })])),
      'action=warn message="bob@example.org over limit: 101 messages in 5m (limit 100)" rule=soft count=101 ' +
        'limit=100 header="X-Mailpolicyd-Warning: bob@example.org over limit: 101 messages in 5m (limit 100)"',
    );
  });

  it("an alert limit over answers accept with its rule, count and limit, but no message", () => {
    assert.equal(
      formatVerdict(decideVerdict([outcome({ action: "alert", name: "watch" })])),
      "action=accept rule=watch count=21 limit=20",
    );
  });

  it("gives the bucket's burst as the limit", () => {
    assert.equal(
      formatVerdict(
        decideVerdict([
          outcome({ name: "b", action: "reject", algorithm: "bucket", count: 10, burst: 15, message: "no" }, {
            count: 16,
          }),
        ]),
      ),
      "action=reject message=no rule=b count=16 limit=15",
    );
  });

  it("quotes a message with quotes, backslashes or newlines so it stays on one line", () => {
    const reply = formatVerdict(
      decideVerdict([outcome({ message: "{key} is over" }, { key: 'a"b\\c\nd@x' })]),
    );
    assert.equal(
      reply,
      'action=defer message="a\\"b\\\\c\\nd@x is over" rule=outbound count=21 limit=20',
    );
    assert.doesNotMatch(reply, /[\r\n]/);
  });
});

describe("sameRefusal and the remembered reply", () => {
  it("holds while limit, key and count stay, and not otherwise", () => {
    const first = outcome({ action: "defer" }, { count: 21 });
    const verdict = verdictFor(first);
    assert.ok(
      Object.isFrozen(verdict) && Object.isFrozen(verdict.outcome),
      "a shared answer cannot be changed",
    );
    assert.equal(sameRefusal(verdict, first.limit, "bob@example.org", 21), true);
    assert.equal(sameRefusal(verdict, first.limit, "bob@example.org", 22), false);
    assert.equal(sameRefusal(verdict, first.limit, "eve@example.org", 21), false);
    assert.equal(sameRefusal(verdict, limit({ action: "defer" }), "bob@example.org", 21), false, "a reload");
    assert.equal(sameRefusal(undefined, first.limit, "bob@example.org", 21), false);
    assert.equal(sameRefusal(verdictFor(undefined), first.limit, "bob@example.org", 21), false);
  });

  it("formats each answer by its own content, remembered or not", () => {
    const a = verdictFor(outcome({ action: "defer", name: "a" }, { count: 21 }));
    const b = verdictFor(outcome({ action: "reject", name: "b" }, { count: 30 }));
    const textA = formatVerdict(a);
    assert.match(textA, /^action=defer .* rule=a count=21 /);
    assert.equal(formatVerdict(a), textA);
    assert.match(formatVerdict(b), /^action=reject .* rule=b count=30 /);
    assert.equal(formatVerdict(a), textA);
  });
});

describe("verdictFor", () => {
  it("renders no message for an alert, nor when asked not to (a one-token reply is a bare yes)", () => {
    const alert = verdictFor(outcome({ action: "alert" }));
    assert.equal(alert.action, "accept");
    assert.equal(alert.over, true);
    assert.equal(alert.flagged, true);
    assert.equal(alert.message, undefined);
    assert.equal(alert.headers, undefined);
    const bare = verdictFor(outcome({ action: "reject" }), false);
    assert.equal(bare.action, "reject");
    assert.equal(bare.over, true);
    assert.equal(bare.message, undefined);
    assert.equal(
      verdictFor(outcome({ action: "reject" })).message,
      "bob@example.org over limit: 21 messages in 5m (limit 20)",
    );
  });
});
