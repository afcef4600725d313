// The Redis key of a counter: one hash tag per counter, whatever bytes the key holds, and back.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkPrefix, counterKey, counterPattern, parseCounterKey } from "../../../src/limits/redis-keys.ts";

/** Redis Cluster's hash tag rule: the inside of the first { … } when it is not empty, else the whole key. */
function hashTag(key: string): string {
  const open = key.indexOf("{");
  if (open < 0) return key;
  const close = key.indexOf("}", open + 1);
  return close <= open + 1 ? key : key.slice(open + 1, close);
}

describe("redis counter keys", () => {
  const keys = ["a@x.org", "{evil}@x.org", "}{", "50%off@x.org", "a:b@x.org", "%7b@x.org", "", "ü@例え.jp"];

  it("puts the whole counter (limit and key) in the hash tag, braces in the key or not", () => {
    for (const key of keys) {
      const redisKey = counterKey("mpd:", "out", key);
      assert.equal(hashTag(redisKey), redisKey.slice("mpd:{".length, -1), key);
      assert.notEqual(hashTag(redisKey), hashTag(counterKey("mpd:", "out", `${key}x`)));
    }
  });

  it("reads back the limit and the key unchanged", () => {
    for (const key of keys) {
      assert.deepEqual(parseCounterKey("mpd:", counterKey("mpd:", "out", key)), { limit: "out", key });
      assert.deepEqual(parseCounterKey("mpd:", counterKey("mpd:", "a:b", key)), { limit: "a:b", key });
    }
    assert.equal(parseCounterKey("mpd:", "mpd:other"), undefined);
    assert.equal(parseCounterKey("mpd:", "other:{out:a}"), undefined);
  });

  it("keeps limits apart: a key cannot pose as another limit's", () => {
    assert.notEqual(counterKey("p:", "out", "x:y"), counterKey("p:", "out:x", "y"));
  });

  it("matches every counter, or one limit's, with SCAN's glob", () => {
    assert.equal(counterPattern("mpd:"), "mpd:\\{*");
    assert.equal(counterPattern("m*d:", "out"), "m\\*d:\\{out:*");
  });

  it("refuses a prefix with a brace", () => {
    assert.throws(() => checkPrefix("mpd{1}:"), /no \{ or \}/);
    checkPrefix("mpd:");
  });
});
