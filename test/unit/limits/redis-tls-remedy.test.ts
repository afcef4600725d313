// The remedy logged with a Redis incident whose cause is Redis's certificate no trusted CA signed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { redisTlsRemedy } from "../../../src/limits/redis-tls-remedy.ts";

const failure = (code: string) => Object.assign(new Error("a TLS failure"), { code });

describe("the remedy for Redis's certificate", () => {
  it("names tls_ca_file, its path, and the reload for a certificate no trusted CA signed", () => {
    for (
      const code of [
        "SELF_SIGNED_CERT_IN_CHAIN",
        "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
        "DEPTH_ZERO_SELF_SIGNED_CERT",
      ]
    ) {
      assert.match(
        redisTlsRemedy(failure(code), "/etc/ca.pem")!,
        /into \[redis\] tls_ca_file \(\/etc\/ca\.pem\), then reload/,
      );
      assert.match(redisTlsRemedy(failure(code), undefined)!, /with \[redis\] tls_ca_file .*then reload/);
    }
  });

  it("says nothing of the CA file where it would not help", () => {
    for (const code of ["ECONNREFUSED", "ERR_TLS_CERT_ALTNAME_INVALID", "CERT_HAS_EXPIRED", "WRONGPASS"]) {
      assert.equal(redisTlsRemedy(failure(code), "/etc/ca.pem"), undefined, code);
    }
    assert.equal(redisTlsRemedy(new Error("Command timed out"), undefined), undefined);
    assert.equal(redisTlsRemedy(undefined, undefined), undefined);
  });
});
