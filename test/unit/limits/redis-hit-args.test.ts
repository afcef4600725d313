// A request's arguments to the hit script: numbers and flags as one text of words, texts (which may hold
// spaces) each an argument of their own. The script's side is tested against a real Redis
// (test/integration/redis-merged-hits.test.ts, redis-store.test.ts's equivalence with the memory store).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pushHitArgs, readNumbers, WORDS_PER_COUNTER } from "../../../src/limits/redis-hit-args.ts";
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
      `2 1 1 1780000000123 1 ${outbound.algorithm} 100 3600000 ${outbound.burst} 1 0 0 1 1 1 0 bucket 0.5 1000 3 3 2 1 0 0 0 1`,
      "Cheap pills now",
      "192.0.2.7",
      "4cf7.6b103b15.9f290.0",
      "a message id",
    ]);
    assert.equal(argv[1].split(" ").length, 5 + 2 * WORDS_PER_COUNTER);
  });

  it("says when a request has no subject or client address, so that an empty one is still one", () => {
    const argv: string[] = [];
    pushHitArgs({ subject: "", clientAddress: undefined, deadline: 0, refused: false }, [], argv);
    assert.deepEqual(argv, ["0 1 0 0 0", ""]);
    argv.length = 0;
    pushHitArgs({ subject: undefined, clientAddress: "192.0.2.7", deadline: 0, refused: false }, [], argv);
    assert.deepEqual(argv, ["0 0 1 0 0", "192.0.2.7"]);
  });

  it("sends only the instances a counter has, and says which (an empty one is none)", () => {
    const argv: string[] = [];
    pushHitArgs(
      { subject: undefined, clientAddress: undefined, deadline: 0, refused: false },
      [
        hitCounter(outbound, { instance: "" }),
        hitCounter(outbound, { instance: "m1" }),
        hitCounter(network, { carry: 1, carryInstance: "m0" }),
        hitCounter(network, { instance: "m2", carry: 1, carryInstance: "m1" }),
      ],
      argv,
    );
    const flags = argv[0].split(" ").slice(5).filter((_, i) => i % WORDS_PER_COUNTER >= 9);
    assert.deepEqual(flags, ["0", "0", "1", "0", "0", "1", "1", "1"]);
    assert.deepEqual(argv.slice(1), ["m1", "m0", "m2", "m1"]);
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

  it("gives each counter its own flags, cost and carry when the usual ones are made once per limit", () => {
    const words = (extra: Parameters<typeof hitCounter>[1]) => {
      const argv: string[] = [];
      pushHitArgs(
        { subject: undefined, clientAddress: undefined, deadline: 0, refused: false },
        [hitCounter(outbound, extra)],
        argv,
      );
      return argv[0].split(" ").slice(9).join(" ");
    };
    const seen = new Set<string>();
    for (let flags = 0; flags < 8; flags++) {
      const extra = { strict: (flags & 4) !== 0, refuses: (flags & 2) !== 0, alerts: (flags & 1) !== 0 };
      const usual = words(extra);
      assert.equal(usual, `1 0 ${extra.strict ? 1 : 0} ${extra.refuses ? 1 : 0} ${extra.alerts ? 1 : 0} 0 0`);
      assert.equal(words(extra), usual); // the second time from the memo
      seen.add(usual);
      assert.equal(words({ ...extra, cost: 2 }), `2 0 ${usual.slice(4)}`);
      assert.equal(words({ ...extra, carry: 5 }), `1 5 ${usual.slice(4)}`);
      const withInstance = `${usual.slice(0, -3)}1 0`;
      assert.equal(words({ ...extra, instance: "m1" }), withInstance);
      assert.equal(words({ ...extra, instance: "m1" }), withInstance);
      assert.equal(words({ ...extra, carryInstance: "m0" }), `${usual.slice(0, -3)}0 1`);
      assert.equal(words(extra), usual);
    }
    assert.equal(seen.size, 8);
  });
});

describe("the hit's answer: its numbers", () => {
  const read = (text: string) => {
    const into = [99, 99, 99, 99, 99, 99, 99, 99, 99, 99]; // reused: only the first `count` are the answer's
    const count = readNumbers(text, into);
    return into.slice(0, count);
  };
  const bySplit = (text: string) => text.split(" ").map(Number);

  it("reads whole numbers digit by digit and the others as Number does", () => {
    assert.deepEqual(read("1 0 21 1 3599871 0 1780000000123"), [1, 0, 21, 1, 3599871, 0, 1780000000123]);
    assert.deepEqual(read("0 1 2.5000000000000004 0 0 0 1e+21"), [0, 1, 2.5000000000000004, 0, 0, 0, 1e21]);
    assert.deepEqual(read("-3 -0.25 1234567890123456"), [-3, -0.25, 1234567890123456]);
    assert.ok(Object.is(read("-0")[0], -0));
    assert.deepEqual(read("inf nan -"), bySplit("inf nan -"));
    assert.deepEqual(read(""), [0]);
    assert.deepEqual(read("7 "), [7, 0]);
  });

  it("agrees with split and Number on any text of numbers the script may write", () => {
    let seed = 27;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const numberText = () => {
      const kind = Math.floor(random() * 6);
      if (kind === 0) return String(Math.floor(random() * 10));
      if (kind === 1) return String(Math.floor(random() * 1e16) * (random() < 0.3 ? -1 : 1));
      if (kind === 2) return String(random() * 1000);
      if (kind === 3) return (random() * 1e-5).toPrecision(17);
      if (kind === 4) return (random() * 1e25).toPrecision(17);
      return String(Math.floor(random() * 1e17)); // 17 digits: past the digit-by-digit bound
    };
    for (let i = 0; i < 2000; i++) {
      const text = Array.from({ length: 1 + Math.floor(random() * 20) }, numberText).join(" ");
      assert.deepEqual(read(text), bySplit(text), text);
    }
  });
});
