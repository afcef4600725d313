// [alerts]' SMTP AUTH keys (config/schema.ts ALERTS_SECTION, config/load.ts): auth_user and auth_password
// both or neither, each error at its line; tls_ca_file and tls_verify only where a certificate is checked
// (credentials to a relay off loopback, model/alert-relay.ts); the password in no error.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../../../src/config/load.ts";
import { relayOnLoopback, relaySecurity } from "../../../src/model/alert-relay.ts";

const load = (text: string) => parseConfig(text, "t.conf", "/etc/mailpolicyd");
const ALERTS = "[alerts]\nfromAddr = a@example.org\ntoAddr = b@example.org\n"; // lines 1-3

function errors(text: string): string[] {
  const result = load(text);
  assert.equal(result.ok, false, text);
  return result.ok ? [] : result.errors;
}

describe("[alerts] SMTP AUTH", () => {
  it("without the keys: no credentials, the certificate not checked", () => {
    const result = load(ALERTS);
    assert.ok(result.ok);
    assert.equal(result.config.alerts!.auth, undefined);
    assert.deepEqual(relaySecurity(result.config.alerts!), { tlsRequired: false, verifyCertificate: false });
  });

  it("takes a user and password, and a CA file relative to the config's folder", () => {
    const result = load(
      `${ALERTS}smtp_host = smtp.example.net\nsmtp_port = 587\nauth_user = alerts\n` +
        `auth_password = 'pa ss # word'\ntls_ca_file = ca.pem\n`,
    );
    assert.ok(result.ok, result.ok ? "" : result.errors.join("\n"));
    const alerts = result.config.alerts!;
    assert.deepEqual(alerts.auth, { user: "alerts", password: "pa ss # word" });
    assert.equal(alerts.tlsCaFile, "/etc/mailpolicyd/ca.pem");
    assert.equal(alerts.tlsVerify, true);
    assert.deepEqual(relaySecurity(alerts), { tlsRequired: true, verifyCertificate: true });
    const unchecked = load(
      `${ALERTS}smtp_host = smtp.example.net\nauth_user = alerts\nauth_password = x\ntls_verify = no\n`,
    );
    assert.ok(unchecked.ok);
    assert.deepEqual(relaySecurity(unchecked.config.alerts!), {
      tlsRequired: true,
      verifyCertificate: false,
    });
  });

  it("to a loopback relay: credentials without TLS required", () => {
    const result = load(`${ALERTS}smtp_host = localhost\nauth_user = alerts\nauth_password = secret\n`);
    assert.ok(result.ok);
    assert.deepEqual(relaySecurity(result.config.alerts!), { tlsRequired: false, verifyCertificate: false });
  });

  it("refuses one of auth_user and auth_password alone, at its line, without the password", () => {
    assert.deepEqual(errors(`${ALERTS}auth_user = alerts\n`), [
      "t.conf:4: alerts.auth_user: auth_user needs auth_password too (both or neither)",
    ]);
    const said = errors(`${ALERTS}smtp_port = 25\nauth_password = secret\n`);
    assert.deepEqual(said, [
      "t.conf:5: alerts.auth_password: auth_password needs auth_user too (both or neither)",
    ]);
    assert.ok(!said.join("\n").includes("secret"));
    assert.deepEqual(errors(`${ALERTS}auth_user = alerts\nauth_password =\n`), [
      "t.conf:5: alerts.auth_password: must not be empty",
    ]);
  });

  it("names a line without = by its first word: a password there is not echoed", () => {
    const said = errors(`${ALERTS}auth_user = alerts\nauth_password  s3cret-Pa55 word\n`);
    assert.ok(said.includes("t.conf:5: auth_password: expected `key = value`"), said.join("\n"));
    // Before: "t.conf:5: auth_password  s3cret-Pa55 word: expected `key = value`", in config-test's answer
    // and, at a reload, in the daemon's log.
    assert.ok(!said.join("\n").includes("s3cret"), said.join("\n"));
    // A colon in the password was taken for the separator: "alerts.auth_password s3cret: unknown key".
    for (const line of ["auth_password s3cret:Pa55", "auth_password\ts3cret:Pa55 = x"]) {
      const colon = errors(`${ALERTS}auth_user = alerts\n${line}\n`);
      assert.ok(colon.includes("t.conf:5: auth_password: expected `key = value`"), colon.join("\n"));
      assert.ok(!colon.join("\n").includes("s3cret"), colon.join("\n"));
    }
  });

  it("refuses credentials with sendmail, and TLS keys where no certificate is checked", () => {
    assert.deepEqual(errors(`${ALERTS}sendmail = /usr/sbin/sendmail\nauth_user = u\nauth_password = p\n`), [
      "t.conf:5: alerts.auth_user: credentials are for smtp_host; with sendmail they are not sent",
    ]);
    assert.deepEqual(
      errors(`${ALERTS}smtp_host = smtp.example.net\ntls_ca_file = ca.pem\ntls_verify = no\n`),
      [
        "t.conf:5: alerts.tls_ca_file: tls_ca_file is read only with auth_user and auth_password (SMTP AUTH)",
        "t.conf:6: alerts.tls_verify: tls_verify is read only with auth_user and auth_password (SMTP AUTH)",
      ],
    );
    assert.deepEqual(errors(`${ALERTS}auth_user = u\nauth_password = p\ntls_ca_file = ca.pem\n`), [
      "t.conf:6: alerts.tls_ca_file: tls_ca_file is read only with a relay off loopback; smtp_host is on " +
      "loopback",
    ]);
    assert.deepEqual(
      errors(`${ALERTS}smtp_host = h.example\nauth_user = u\nauth_password = p\ntls_verify = maybe\n`),
      [
        "t.conf:7: alerts.tls_verify: expected yes or no",
      ],
    );
  });
});

describe("relayOnLoopback", () => {
  it("is 127.0.0.0/8, ::1 and localhost; anything else is off loopback", () => {
    for (
      const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1", "localhost", "LOCALHOST."]
    ) {
      assert.equal(relayOnLoopback(host), true, host);
    }
    for (
      const host of [
        "192.0.2.2",
        "0.0.0.0",
        "::",
        "::2",
        "smtp.example.net",
        "localhost.example.net",
        "128.0.0.1",
      ]
    ) {
      assert.equal(relayOnLoopback(host), false, host);
    }
  });
});
