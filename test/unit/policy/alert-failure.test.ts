import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { afterFailure, failureKind, relayWantsLogin } from "../../../src/policy/alert-failure.ts";

const smtp = (responseCode: number) => Object.assign(new Error(`${responseCode} no`), { responseCode });

describe("failureKind", () => {
  it("takes an SMTP 5xx for permanent, except 503 (a new session may pass)", () => {
    assert.equal(failureKind(smtp(554)), "permanent");
    assert.equal(failureKind(smtp(550)), "permanent");
    assert.equal(failureKind(smtp(503)), "temporary");
    assert.equal(failureKind(smtp(451)), "temporary");
    assert.equal(failureKind(smtp(421)), "temporary");
  });

  it("takes a lost connection, a timeout or anything unknown for temporary", () => {
    assert.equal(
      failureKind(Object.assign(new Error("connect ECONNREFUSED"), { code: "ESOCKET" })),
      "temporary",
    );
    assert.equal(failureKind(new Error("Greeting never received")), "temporary");
    assert.equal(failureKind(undefined), "temporary");
    assert.equal(failureKind("a string"), "temporary");
  });

  it("reads sendmail's exit status: bad data, user or host are permanent, EX_TEMPFAIL is not", () => {
    assert.equal(failureKind(new Error("Sendmail exited with code 67")), "permanent");
    assert.equal(failureKind(new Error("Sendmail exited with code 65")), "permanent");
    assert.equal(failureKind(new Error("Sendmail exited with code 75")), "temporary");
    assert.equal(failureKind(new Error("Sendmail exited with code 1")), "temporary");
    assert.equal(
      failureKind(new Error("Sendmail command not found, process exited with code 127")),
      "temporary",
    );
  });

  it("takes a notice that cannot be made into a mail for permanent", () => {
    assert.equal(
      failureKind(Object.assign(new Error("Invalid time value"), { cannotCompose: true })),
      "permanent",
    );
  });
});

describe("afterFailure", () => {
  const DAY = 86_400_000;
  it("parks what is permanent at once", () => {
    assert.equal(afterFailure("permanent", 1000, 1001, DAY), "park");
  });

  it("retries a temporary failure until retry_for after the key crossed, then parks", () => {
    assert.equal(afterFailure("temporary", 0, DAY - 1, DAY), "retry");
    assert.equal(afterFailure("temporary", 0, DAY, DAY), "park");
    assert.equal(afterFailure("temporary", Number.NaN, 5, DAY), "park", "no usable time: no endless retry");
  });
});

describe("relayWantsLogin", () => {
  // As nodemailer reports a refused MAIL FROM: the reply in `response`, its code in `responseCode`.
  const refused = (response: string) =>
    Object.assign(new Error(`Mail command failed: ${response}`), {
      response,
      responseCode: Number(response.slice(0, 3)),
    });

  it("reads a 530 that asks for authentication, as each relay words it", () => {
    assert.ok(relayWantsLogin(refused("530 Error: authentication Required"))); // smtp-server
    assert.ok(relayWantsLogin(refused("530 5.7.0 Authentication required")));
    assert.ok(relayWantsLogin(refused("530 5.7.57 Client was not authenticated to send anonymous mail")));
    assert.ok(relayWantsLogin(refused("550 5.7.0 Authentication required"))); // another 5xx saying so
  });

  it("not a 530 for STARTTLS, a refused login, a 4xx or anything else", () => {
    assert.ok(!relayWantsLogin(refused("530 5.7.0 Must issue a STARTTLS command first")));
    assert.ok(!relayWantsLogin(refused("535 5.7.8 Authentication credentials invalid")));
    assert.ok(!relayWantsLogin(refused("454 4.7.0 Temporary authentication failure")));
    assert.ok(!relayWantsLogin(refused("550 5.7.1 Relay access denied")));
    assert.ok(!relayWantsLogin(new Error("connect ECONNREFUSED")));
    assert.ok(!relayWantsLogin(undefined));
  });
});
