import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hasLeadingZeroPart } from "../../../src/spf/ip-address.ts";

describe("hasLeadingZeroPart", () => {
  it("finds a dotted quad's part written with a leading zero, also in an IPv6 address's IPv4 tail", () => {
    for (
      const ip of ["01.2.3.4", "1.2.3.04", "192.0.2.010", "192.000.2.1", "[01.2.3.4]", "::ffff:192.0.02.1"]
    ) {
      assert.equal(hasLeadingZeroPart(ip), true, ip);
    }
  });

  it("leaves a zero part, and an IPv6 group's leading zeros (hexadecimal, never ambiguous), alone", () => {
    for (
      const ip of ["0.0.0.0", "10.0.0.1", "192.0.2.100", "2001:0db8::0001", "::ffff:192.0.2.1", "not-an-ip"]
    ) {
      assert.equal(hasLeadingZeroPart(ip), false, ip);
    }
  });
});
