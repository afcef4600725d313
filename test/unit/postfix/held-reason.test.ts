import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe, it } from "node:test";
import type { Decision } from "../../../src/model/answer.ts";
import { heldReason } from "../../../src/listeners/postfix-milter.ts";

/** What Postfix 3.10 and later keep of a HOLD reason in their maillog line: its first 100 bytes. */
const logged = (reason: string) => Buffer.from(reason, "utf8").subarray(0, 100).toString("latin1");

const over = (rule: string): Decision => ({
  action: "defer",
  rule,
  fields: [["rule", rule], ["count", 2], ["limit", 2]],
});

describe("heldReason", () => {
  it("says how to release the message and what held it", () => {
    assert.equal(
      heldReason(over("site"), "9D3A520C073"),
      "mailpolicyd: held (postsuper -H 9D3A520C073 to release) by rule site: 2/2",
    );
    assert.equal(
      heldReason({ action: "defer", rule: "fail-closed", message: "mail policy service unavailable" }, "A2"),
      "mailpolicyd: held (postsuper -H A2 to release) by rule fail-closed: mail policy service unavailable",
    );
  });

  it("keeps the postsuper -H hint within the first 100 bytes, for a long rule name and a long queue ID", () => {
    const rule = `outbound-web-applications-${"x".repeat(60)}`;
    for (const queueId of ["9D3A520C073", "4VdnTz2QSHz9sW3yt5"]) { // a short and a long (enable_long_queue_ids) ID
      const reason = heldReason(over(rule), queueId);
      assert.ok(logged(reason).includes(`(postsuper -H ${queueId} to release)`), reason);
      assert.ok(reason.includes(`by rule ${rule}: 2/2`), reason); // whole, past the 100 bytes
    }
  });
});
