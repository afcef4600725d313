// A request's arguments to the hit script: numbers and flags as one text of words, texts (which may hold
// spaces) each an argument of their own. The script's side is tested against a real Redis
// (test/integration/redis-merged-hits.test.ts, redis-store.test.ts's equivalence with the memory store).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pushHitArgs, WORDS_PER_COUNTER } from "../../../src/limits/redis-hit-args.ts";
import { limitConfig } from "../../helpers/limit-config.ts";
import { hitCounter } from "../../helpers/hit-counter.ts";

const outbound = limitConfig({ count: 100, windowMs: 3_600_000 });
const network = limitConfig({ name: "network", count: 0.5, windowMs: 1000, algorithm: "bucket", burst: 3 });

describe("redis hit arguments", () => {
  it("puts a request's numbers in one text and its texts apart, after what is already there", () => {
    const argv = ["before"];
    pushHitArgs(
      { subject: "Cheap pills now", clientAddress: "192.0.2.7", deadline: 1_780_000_000_123, refused: true },
      [
        hitCounter(outbound, { instance: "4cf7.6b103b15.9f290.0" }),
        hitCounter(network, {
          cost: 3,
          carry: 2,
          carryInstance: "a message id",
          strict: true,
          refuses: false,
          alerts: false,
        }),
      ],
      argv,
    );
    assert.deepEqual(argv, [
      "before",
      `2 1 1 1780000000123 1 ${outbound.algorithm} 100 3600000 ${outbound.burst} 1 0 0 1 1 bucket 0.5 1000 3 3 2 1 0 0`,
      "Cheap pills now",
      "192.0.2.7",
      "4cf7.6b103b15.9f290.0",
      "",
      "",
      "a message id",
    ]);
    assert.equal(argv[1].split(" ").length, 5 + 2 * WORDS_PER_COUNTER);
  });

  it("says when a request has no subject or client address, so that an empty one is still one", () => {
    const argv: string[] = [];
    pushHitArgs({ subject: "", clientAddress: undefined, deadline: 0, refused: false }, [], argv);
    assert.deepEqual(argv, ["0 1 0 0 0", "", ""]);
  });

  it("gives a limit changed by a reload its new numbers", () => {
    const words = (limit: typeof outbound) => {
      const argv: string[] = [];
      pushHitArgs(
        { subject: undefined, clientAddress: undefined, deadline: 0, refused: false },
        [hitCounter(limit, { alerts: false })],
        argv,
      );
      return argv[0].split(" ").slice(5, 9);
    };
    assert.deepEqual(words(outbound).slice(1, 3), ["100", "3600000"]);
    assert.deepEqual(words({ ...outbound, count: 7 }).slice(1, 3), ["7", "3600000"]);
    assert.deepEqual(words(outbound).slice(1, 3), ["100", "3600000"]);
  });
});
