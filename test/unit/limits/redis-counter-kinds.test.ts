// Which name a limit's shared counters have: without a kind when the limit counts by the key Redis records
// for its name (or none is recorded yet), with its own key as the kind when it counts by another.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { counterKinds, kindsCover } from "../../../src/limits/redis-counter-kinds.ts";
import { limitsOf } from "../../helpers/redis-engines.ts";

describe("the kinds of a limit's shared counters", () => {
  const limits = limitsOf(
    "[limit out]\nkey = recipient\ncount = 3\ntime = 1h\n" +
      "[limit net]\nkey = client_address/24\ncount = 9\ntime = 1h\n" +
      "[limit login]\nkey = sasl_username\ncount = 9\ntime = 1h\n",
  );

  it("names counters as before where Redis records the same key or none, apart where another", () => {
    const kinds = counterKinds(limits, ["sender", "client_address/24/64", null]);
    assert.deepEqual([...kinds], [
      ["out", { keyText: "recipient", kind: "recipient" }],
      ["net", { keyText: "client_address/24/64", kind: undefined }],
      ["login", { keyText: "sasl_username", kind: undefined }],
    ]);
  });

  it("covers a config only while every limit counts by the key its kind was learned for", () => {
    const kinds = counterKinds(limits, ["recipient", "client_address/24/64", null]);
    assert.equal(kindsCover(kinds, limits), true);
    assert.equal(kindsCover(kinds, limits.slice(1)), true, "a limit removed");
    const changed = limitsOf("[limit out]\nkey = sender\ncount = 3\ntime = 1h\n");
    assert.equal(kindsCover(kinds, changed), false, "a key changed");
    const added = limitsOf("[limit other]\nkey = sender\ncount = 3\ntime = 1h\n");
    assert.equal(kindsCover(kinds, added), false, "a limit added");
  });
});
