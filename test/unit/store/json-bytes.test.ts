import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { JsonBytes } from "../../../src/store/json-bytes.ts";

const text = (out: JsonBytes) => new TextDecoder().decode(out.bytes());

describe("JsonBytes", () => {
  it("writes strings exactly as JSON.stringify does, escapes and non-ASCII included", () => {
    const samples = [
      "",
      "user@example.org",
      'a"b',
      "back\\slash",
      "tab\there\nnew\rline\u0000\u001f",
      "\u007f del",
      "Grüße € 😀",
      "lone \ud800 surrogate",
      "x".repeat(5000),
    ];
    for (const sample of samples) {
      const out = new JsonBytes(8); // tiny, so every write also has to grow the buffer
      out.string(sample);
      assert.equal(text(out), JSON.stringify(sample), `for ${JSON.stringify(sample)}`);
      assert.equal(JSON.parse(text(out)), sample);
    }
  });

  it("writes numbers as JSON does, and null for what JSON cannot hold", () => {
    // Around 1e8, where a number is written in two parts, the low part keeps its leading zeros.
    const samples = [
      0,
      1,
      9,
      10,
      42,
      -7,
      99_999_999,
      100_000_000,
      100_000_001,
      1_700_000_000_005,
      -1_700_000_000_005,
      1732253000123,
      2 ** 31,
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_SAFE_INTEGER,
    ];
    for (const sample of samples) {
      const out = new JsonBytes(4);
      out.number(sample);
      assert.equal(text(out), JSON.stringify(sample));
    }
    for (const sample of [0.5, 1e21, 2 ** 60, -3.25, 1 / 3]) {
      assert.equal(text(new JsonBytes().number(sample)), JSON.stringify(sample));
    }
    assert.equal(text(new JsonBytes().number(-0)), "0");
    assert.equal(text(new JsonBytes().number(Number.NaN)), "null");
    assert.equal(text(new JsonBytes().number(Number.POSITIVE_INFINITY)), "null");
  });

  it("keeps earlier bytes when it grows, and starts over after clear()", () => {
    const out = new JsonBytes(16);
    out.raw("[");
    for (let i = 0; i < 1000; i++) out.raw(i === 0 ? "" : ",").string(`k${i}`).raw(",").number(i);
    out.raw("]");
    const parsed = JSON.parse(text(out));
    assert.equal(parsed.length, 2000);
    assert.equal(parsed[1998], "k999");
    assert.equal(parsed[1999], 999);
    out.clear();
    assert.equal(out.length, 0);
    out.value({ a: [1, "b"] }).byte(0x2c).byte(0x5d);
    assert.equal(text(out), '{"a":[1,"b"]},]');
    out.clear();
    out.value({ a: [1, "b"] });
    assert.equal(text(out), '{"a":[1,"b"]}');
  });
});
