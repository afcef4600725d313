// One story for the numbers: for every algorithm and mode, the count in the reply, its message, the
// "limit passed" log line, the alert notice and the status row of the same key agree (docs/decisions.md,
// issue 15). A leaky limit's first refusal says count = limit; a strict one counts the refused attempt.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { createActor } from "xstate";
import { countersActor } from "../../../src/actors/counters.ts";
import { parseConfig } from "../../../src/config/load.ts";
import { createLogger } from "../../../src/log.ts";
import type { AlertNotice } from "../../../src/policy/alert-notice.ts";
import type { SenderRow } from "../../../src/policy/sender-report.ts";
import type { Verdict } from "../../../src/policy/verdict.ts";
import { formatDecision } from "../../../src/engine/reply.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

interface Numbers {
  replies: string[];
  log: string[];
  row: SenderRow;
  notice: AlertNotice;
}

/** Sends alice's RCPT requests at `times` (ms from the start) and collects every surface's numbers. */
async function run(limit: string, times: number[]): Promise<Numbers> {
  const dir = makeTempDir();
  try {
    const parsed = parseConfig(`[daemon]\nstate_file = state.json\n[limit out]\n${limit}`, "t", dir.path);
    assert.ok(parsed.ok, JSON.stringify(parsed));
    const start = 1_000_000_000;
    let clock = start;
    const log: string[] = [];
    const actor = createActor(countersActor, {
      input: { config: parsed.config, log: createLogger("warn", (line) => log.push(line)), now: () => clock },
    });
    actor.start();
    const replies: string[] = [];
    for (const [i, at] of times.entries()) {
      clock = start + at;
      const verdict = await new Promise<Verdict | undefined>((resolve) =>
        actor.send({
          type: "hit",
          request: {
            form: "attributes",
            stage: "rcpt",
            attributes: { sender: "alice@example.org", recipient: "bob@example.net", instance: `m${i}` },
          },
          reply: resolve,
        })
      );
      replies.push(formatDecision(verdict!));
    }
    const [row] = (await new Promise<SenderRow[] | undefined | null>((resolve) =>
      actor.send({ type: "senders", top: 1, reply: resolve })
    ))!;
    actor.stop();
    const state = JSON.parse(readFileSync(dir.file("state.json"), "utf8"));
    return { replies, log, row, notice: state.outbox[0] };
  } finally {
    dir.remove();
  }
}

function assertAgree(numbers: Numbers, count: number, limit: number, window: string) {
  const last = numbers.replies.at(-1)!;
  assert.match(last, new RegExp(` count=${count} limit=${limit}$`), last);
  const passed = numbers.log.find((line) => / limit passed /.test(line));
  assert.match(passed ?? "", new RegExp(` count=${count} limit=${limit} window=${window} `));
  assert.deepEqual([numbers.row.count, numbers.row.limit, numbers.row.window], [count, limit, window]);
  assert.deepEqual(
    [numbers.notice.count, numbers.notice.limitCount, numbers.notice.window],
    [count, limit, window],
  );
}

const together = (n: number) => Array<number>(n).fill(0);

describe("the numbers of a limit, on every surface", () => {
  it("leaky (the default): the first refusal and every retry say count = limit", async () => {
    const numbers = await run("count = 5\ntime = 1h\n", together(7));
    assert.deepEqual(numbers.replies.slice(0, 5), Array(5).fill("action=accept"));
    const refusal = 'action=defer message="alice@example.org over limit: 5 messages in 1h (limit 5)" ' +
      "rule=out count=5 limit=5";
    assert.deepEqual(numbers.replies.slice(5), [refusal, refusal]);
    assertAgree(numbers, 5, 5, "1h");
    assert.deepEqual([numbers.row.atLimit, numbers.row.over], [true, false]);
  });

  it("strict: a refused attempt is counted, so the first refusal says limit + 1", async () => {
    const numbers = await run("count = 5\ntime = 90m\nmode = strict\n", together(7));
    assert.match(numbers.replies[5], / 6 messages in 90m \(limit 5\)" rule=out count=6 limit=5$/);
    assert.match(numbers.replies[6], / count=7 limit=5$/);
    // The alert went out at the crossing (6); status shows the count now (7).
    assert.deepEqual([numbers.notice.count, numbers.row.count, numbers.row.over], [6, 7, true]);
  });

  it("alert: nothing is refused, so every message is counted", async () => {
    const numbers = await run("count = 5\ntime = 300\naction = alert\n", together(6));
    assertAgree(numbers, 6, 5, "300s");
    assert.equal(numbers.replies[5], "action=accept rule=out count=6 limit=5");
  });

  it("bucket: a fractional level is shown rounded up, the same in reply, log, alert and status", async () => {
    // 5 per hour drains 1/720 of a message per 5 s: the sixth request finds ~4.97 + 1 > 5.
    const numbers = await run(
      "count = 5\ntime = 1h\nalgorithm = bucket\n",
      [0, 5, 10, 15, 20, 25].map((s) => s * 1000),
    );
    assert.match(numbers.replies[5], /over limit: 5 messages in 1h \(limit 5\)" rule=out count=5 limit=5$/);
    assertAgree(numbers, 5, 5, "1h");
    assert.equal(numbers.row.atLimit, true, "a refused bucket reads 'at limit', not 'ok'");
  });

  it("sliding: the previous window's fading share is counted, rounded up", async () => {
    // Five in the first hour; half an hour into the next, 2.5 remain: 3.5, 4.5 pass, 5.5 does not.
    const numbers = await run("count = 5\ntime = 1h\nalgorithm = sliding\n", [
      ...together(5),
      ...Array(3).fill(5_400_000),
    ]);
    assert.deepEqual(numbers.replies.slice(5, 7), ["action=accept", "action=accept"]);
    assert.match(numbers.replies[7], /over limit: 5 messages in 1h \(limit 5\)" rule=out count=5 limit=5$/);
    assertAgree(numbers, 5, 5, "1h");
  });
});
