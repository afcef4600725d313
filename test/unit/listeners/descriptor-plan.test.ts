// How the file limit is shared: the listeners, DNS and spamd together never past the limit less the 64
// reserved, unless the limit is below what the minimums need (then `short`, which the daemon logs).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { descriptorPlan, RESERVED_FILES } from "../../../src/listeners/descriptor-plan.ts";

describe("descriptorPlan", () => {
  it("keeps 256 DNS queries and spamd's connections out of the listeners' share", () => {
    assert.deepEqual(descriptorPlan(1024, 4), {
      fileLimit: 1024,
      listenerSockets: 1024 - 64 - 4 - 256,
      dnsInFlight: 256,
      spamdConnections: 4,
      short: false,
    });
    assert.equal(descriptorPlan(65536, 0).listenerSockets, 65536 - 64 - 256);
  });

  it("shrinks DNS's share to leave the listeners 64 under a low limit, and says the limit is short", () => {
    const plan = descriptorPlan(200, 0);
    assert.deepEqual([plan.listenerSockets, plan.dnsInFlight, plan.short], [64, 72, true]);
  });

  it("never shares out more than the limit less the reserve while the limit allows the minimums", () => {
    for (const spamd of [0, 4, 1000]) {
      for (let limit = RESERVED_FILES + spamd + 65; limit <= 4096; limit++) {
        const plan = descriptorPlan(limit, spamd);
        assert.ok(
          plan.listenerSockets + plan.dnsInFlight + spamd <= limit - RESERVED_FILES,
          `limit ${limit}`,
        );
        assert.ok(plan.dnsInFlight >= 1 && plan.listenerSockets >= 64, `limit ${limit}`);
      }
    }
  });
});
