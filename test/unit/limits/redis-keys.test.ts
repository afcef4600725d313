// The Redis key of a counter: the key (sender, login, network) is the hash tag, so one sender's counters
// under every limit share a Redis Cluster slot, whatever bytes the key holds; and back.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checkPrefix,
  counterKey,
  counterPattern,
  limitKeysKey,
  mergeTokenKey,
  parseCounterKey,
} from "../../../src/limits/redis-keys.ts";

/** Redis Cluster's hash tag rule: the inside of the first { … } when it is not empty, else the whole key. */
function hashTag(key: string): string {
  const open = key.indexOf("{");
  if (open < 0) return key;
  const close = key.indexOf("}", open + 1);
  return close <= open + 1 ? key : key.slice(open + 1, close);
}

/** Redis's glob as SCAN MATCH applies it, for the patterns made here (`*`, and `\` escapes). */
function globMatches(pattern: string, text: string): boolean {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") source += pattern[++i].replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    else if (c === "*") source += "[\\s\\S]*";
    else source += c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`).test(text);
}

describe("redis counter keys", () => {
  const keys = [
    "a@x.org",
    "{evil}@x.org",
    "}{",
    "50%off@x.org",
    "a:b@x.org",
    "%7b@x.org",
    "%",
    "",
    "<>",
    "ü@例え.jp",
  ];
  const limits = ["out", "a:b", "{x}", "thresholds", "50%"];

  it("makes the key the hash tag: one key's counters under every limit share a slot", () => {
    for (const key of keys) {
      const tags = new Set(limits.map((limit) => hashTag(counterKey("mpd:", limit, key))));
      assert.equal(tags.size, 1, key);
      const [tag] = tags;
      assert.notEqual(tag, counterKey("mpd:", "out", key), `${key}: a tag, not the whole Redis key`);
      assert.notEqual(tag, hashTag(counterKey("mpd:", "out", `${key}x`)), key);
    }
  });

  it("reads back the limit and the key unchanged", () => {
    for (const key of keys) {
      for (const limit of limits) {
        assert.deepEqual(parseCounterKey("mpd:", counterKey("mpd:", limit, key)), { limit, key });
      }
    }
    assert.equal(counterKey("mpd:", "outbound", "{x}@example.org"), "mpd:{%7bx%7d@example.org}:outbound");
    for (
      const other of [
        "mpd:other",
        "other:{a}:out",
        "mpd:{a}out",
        "mpd:{a}:",
        "mpd:{}:out",
        "mpd:{a}:o:",
        "mpd:{a}:o:u:t",
        "mpd:limit-keys",
      ]
    ) {
      assert.equal(parseCounterKey("mpd:", other), undefined, other);
    }
  });

  it("keeps limits and keys apart: neither can pose as another's", () => {
    assert.notEqual(counterKey("p:", "out", "x:y"), counterKey("p:", "out:x", "y"));
    assert.notEqual(counterKey("p:", "out", "x}:y"), counterKey("p:", "y", "x"));
    assert.notEqual(counterKey("p:", "out", ""), counterKey("p:", "out", "%"));
  });

  it("matches every counter, or exactly one limit's, with SCAN's glob", () => {
    assert.equal(counterPattern("mpd:"), "mpd:\\{*}:*");
    assert.equal(counterPattern("m*d:", "out"), "m\\*d:\\{*}:out");
    for (const key of keys) {
      for (const limit of limits) {
        const redisKey = counterKey("m*d:", limit, key);
        assert.ok(globMatches(counterPattern("m*d:"), redisKey), redisKey);
        for (const other of [...limits, "x"]) {
          assert.equal(
            globMatches(counterPattern("m*d:", other), redisKey),
            other === limit,
            `${redisKey} ${other}`,
          );
        }
      }
    }
    assert.equal(globMatches(counterPattern("mpd:"), "mpdx{a}:out"), false);
  });

  it("puts a merge's token in its counter's slot, and among no counters", () => {
    for (const key of keys) {
      const tokenKey = mergeTokenKey("mpd:", key, "Ab-c_d.1z");
      assert.equal(hashTag(tokenKey), hashTag(counterKey("mpd:", "out", key)), tokenKey);
      assert.equal(globMatches(counterPattern("mpd:"), tokenKey), false, tokenKey);
      assert.equal(parseCounterKey("mpd:", tokenKey), undefined, tokenKey);
    }
  });

  it("names a limit's counters of another kind apart, and reads the kind back", () => {
    const kinds = ["recipient", "client_address/24/64", "sender+local_user", "a:b{%}"];
    for (const key of keys) {
      for (const limit of limits) {
        for (const kind of kinds) {
          const redisKey = counterKey("m*d:", limit, key, kind);
          assert.deepEqual(parseCounterKey("m*d:", redisKey), { limit, key, kind });
          assert.equal(hashTag(redisKey), hashTag(counterKey("m*d:", limit, key)), "the key's own slot");
          assert.notEqual(redisKey, counterKey("m*d:", limit, key));
          assert.ok(globMatches(counterPattern("m*d:"), redisKey), redisKey);
          for (const [other, otherKind] of [[limit, undefined], ...kinds.map((k) => [limit, k])]) {
            assert.equal(
              globMatches(counterPattern("m*d:", other, otherKind), redisKey),
              otherKind === kind,
              `${redisKey} ${other} ${otherKind}`,
            );
          }
        }
      }
    }
    assert.equal(
      globMatches(counterPattern("mpd:"), limitKeysKey("mpd:")),
      false,
      "the record is no counter",
    );
  });

  it("refuses a prefix with a brace", () => {
    assert.throws(() => checkPrefix("mpd{1}:"), /no \{ or \}/);
    checkPrefix("mpd:");
  });
});
