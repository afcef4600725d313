// The daemon's own alert mail is recognised so narrowly that forging it gains nothing: from fromAddr, from
// this host, to the alert recipients only.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AlertsConfig } from "../../../src/config/types.ts";
import { isOwnAlert, isOwnAlertMessage, ownAlertMail } from "../../../src/policy/own-alert.ts";
import type { PolicyRequest } from "../../../src/policy/request.ts";
import type { Attributes, Stage } from "../../../src/protocols/attributes.ts";

const ALERTS: AlertsConfig = {
  from: "Postmaster@Example.org",
  to: ["boss@example.org"],
  cc: ["it@example.org"],
  subject: "Mail Abuse Alert",
  smtpHost: "127.0.0.1",
  smtpPort: 25,
  smtpTimeoutMs: 10_000,
  smtpCommandTimeoutMs: 60_000,
  retryMinMs: 10_000,
  retryMaxMs: 600_000,
  exemptAlerts: true,
  tlsVerify: true,
};
const OWN = ownAlertMail(ALERTS);

const request = (stage: Stage, attributes: Attributes): PolicyRequest => ({
  form: "attributes",
  stage,
  attributes,
});
const alert = { sender: "postmaster@example.org", client_address: "127.0.0.1" };

describe("isOwnAlert", () => {
  it("recognises each step of the alert handed to the local MTA", () => {
    assert.equal(isOwnAlert(request("mail", alert), OWN), true);
    assert.equal(isOwnAlert(request("rcpt", { ...alert, recipient: "boss@example.org" }), OWN), true);
    assert.equal(
      isOwnAlert(request("rcpt", { ...alert, recipient: "IT@example.org" }), OWN),
      true,
      "any case",
    );
    assert.equal(isOwnAlert(request("data", { ...alert, recipient_count: "2" }), OWN), true);
    assert.equal(
      isOwnAlert(request("rcpt", { ...alert, client_address: "::1", recipient: "boss@example.org" }), OWN),
      true,
    );
    assert.equal(
      isOwnAlert(
        request("rcpt", { ...alert, client_address: "::ffff:127.0.0.2", recipient: "boss@example.org" }),
        OWN,
      ),
      true,
    );
    assert.equal(
      isOwnAlert(request("rcpt", { ...alert, client_address: "", recipient: "boss@example.org" }), OWN),
      true,
      "a local submission",
    );
    assert.equal(
      isOwnAlert(request("rcpt", { sender: alert.sender, recipient: "boss@example.org" }), OWN),
      true,
    );
  });

  it("does not exempt a message whose one recipient, named at DATA (Postfix), is another", () => {
    const data = (recipient: string) => request("data", { ...alert, recipient_count: "1", recipient });
    assert.equal(isOwnAlert(data("victim@example.net"), OWN), false);
    assert.equal(isOwnAlert(data("Boss@example.org"), OWN), true, "an alert recipient, any case");
    assert.equal(isOwnAlert(data(""), OWN), true, "none named: more than one recipient, or Exim");
  });

  it("does not exempt other recipients, other senders, remote clients or more recipients at DATA", () => {
    assert.equal(isOwnAlert(request("rcpt", { ...alert, recipient: "victim@example.net" }), OWN), false);
    assert.equal(isOwnAlert(request("rcpt", { ...alert, recipient: "" }), OWN), false);
    assert.equal(
      isOwnAlert(
        request("rcpt", { ...alert, sender: "alice@example.org", recipient: "boss@example.org" }),
        OWN,
      ),
      false,
    );
    for (const client of ["192.0.2.7", "2001:db8::1", "::2", "128.0.0.1", "localhost"]) {
      assert.equal(
        isOwnAlert(request("rcpt", { ...alert, client_address: client, recipient: "boss@example.org" }), OWN),
        false,
        client,
      );
      assert.equal(isOwnAlert(request("mail", { ...alert, client_address: client }), OWN), false, client);
    }
    for (const count of ["3", "0", "", "two"]) {
      assert.equal(isOwnAlert(request("data", { ...alert, recipient_count: count }), OWN), false, count);
    }
    assert.equal(isOwnAlert(request("data", alert), OWN), false, "no recipient_count");
    assert.equal(isOwnAlert(request("connect", { client_address: "127.0.0.1" }), OWN), false);
    assert.equal(
      isOwnAlert({ form: "legacy", key: "postmaster@example.org" }, OWN),
      false,
      "one token says too little",
    );
  });

  it("is off without [alerts] and with exempt_alerts = no", () => {
    const rcpt = request("rcpt", { ...alert, recipient: "boss@example.org" });
    assert.equal(isOwnAlert(rcpt, ownAlertMail(undefined)), false);
    assert.equal(isOwnAlert(rcpt, ownAlertMail({ ...ALERTS, exemptAlerts: false })), false);
  });
});

describe("isOwnAlert, handed to sendmail (stage local)", () => {
  const own = ownAlertMail(ALERTS, "mailpolicyd");
  const local = (attributes: Attributes) => request("local", attributes);
  // The packaged daemon is an untrusted caller: Exim ignores its -f and makes the sender its login's.
  const daemon = {
    sender: "mailpolicyd@mx.example.org",
    local_user: "mailpolicyd",
    recipient_count: "2",
    recipients: "boss@example.org, IT@example.org",
  };
  it("is known by the daemon's own login and the alert's recipients, whatever sender Exim gave it", () => {
    assert.equal(isOwnAlert(local(daemon), own), true);
    assert.equal(isOwnAlert(local({ ...daemon, sender: alert.sender }), own), true, "a trusted caller's -f");
    const one = { ...daemon, recipient_count: "1", recipients: "boss@example.org" };
    assert.equal(isOwnAlert(local(one), own), true);
  });
  it("is not another login naming the alert's sender and recipient, nor mail to anyone else", () => {
    const forged = { ...daemon, sender: alert.sender, local_user: "site1" };
    assert.equal(isOwnAlert(local(forged), own), false, "a script's -f postmaster@");
    assert.equal(isOwnAlert(local({ ...daemon, local_user: undefined }), own), false);
    const elsewhere = { ...daemon, recipients: "boss@example.org, victim@example.net" };
    assert.equal(isOwnAlert(local(elsewhere), own), false, "the daemon's login, to someone else");
    assert.equal(isOwnAlert(local({ ...daemon, recipients: undefined }), own), false, "over 10: no list");
    assert.equal(isOwnAlert(local({ ...daemon, recipient_count: "1" }), own), false, "list and count differ");
    for (const count of ["3", "0", "", "x"]) {
      assert.equal(isOwnAlert(local({ ...daemon, recipient_count: count }), own), false, count);
    }
    assert.equal(isOwnAlert(local(daemon), OWN), false, "own login unknown");
  });
});

describe("isOwnAlert, handed to Postfix's sendmail (the milter: local_user is the sender)", () => {
  const own = ownAlertMail(ALERTS, "mailpolicyd");
  const milter = (attributes: Attributes): PolicyRequest => ({
    form: "attributes",
    stage: "local",
    attributes: { local_user: attributes.sender, ...attributes },
    localUserIsSender: true,
  });
  const sent = { sender: alert.sender, recipient_count: "2", recipients: "boss@example.org, IT@example.org" };
  it("is known by fromAddr and the alert's recipients, every one listed, whatever login handed it over", () => {
    assert.equal(isOwnAlert(milter(sent), own), true);
    assert.equal(isOwnAlert(milter({ ...sent, sender: "PostMaster@Example.org" }), own), true);
    assert.equal(isOwnAlert(milter(sent), OWN), true, "own login unknown: not needed here");
    const one = { ...sent, recipient_count: "1", recipients: "it@example.org" };
    assert.equal(isOwnAlert(milter(one), own), true);
  });
  it("is not fromAddr to anyone else, another sender, nor a login taken for one", () => {
    const elsewhere = { ...sent, recipients: "boss@example.org, victim@example.net" };
    assert.equal(isOwnAlert(milter(elsewhere), own), false, "fromAddr to someone else");
    assert.equal(isOwnAlert(milter({ ...sent, recipients: undefined }), own), false, "over 10: no list");
    assert.equal(isOwnAlert(milter({ ...sent, recipient_count: "1" }), own), false, "list and count differ");
    assert.equal(isOwnAlert(milter({ ...sent, sender: "www-data@example.org" }), own), false);
    assert.equal(isOwnAlert(milter({ ...sent, sender: "mailpolicyd" }), own), false, "the daemon's login");
    assert.equal(isOwnAlert(milter(sent), ownAlertMail({ ...ALERTS, exemptAlerts: false })), false);
  });
  it("is known under a sender Postfix rewrote while an alert handed over is unseen, to alert recipients only", () => {
    const rewritten = { ...sent, sender: "alerts@example.org" }; // sender_canonical_maps, masquerade_domains
    assert.equal(isOwnAlert(milter(rewritten), own), false, "no alert on its way");
    assert.equal(isOwnAlert(milter(rewritten), own, true), true);
    const elsewhere = { ...rewritten, recipients: "boss@example.org, victim@example.net" };
    assert.equal(isOwnAlert(milter(elsewhere), own, true), false, "to someone else");
    assert.equal(isOwnAlert(milter({ ...rewritten, recipients: undefined }), own, true), false, "not listed");
  });
});

describe("isOwnAlertMessage (the spamd front's whole messages)", () => {
  const envelope = {
    sender: "postmaster@example.org",
    recipients: ["boss@example.org", "IT@example.org"],
    clientAddress: "127.0.0.1",
  };
  it("recognises the alert as Exim's rspamd head describes it", () => {
    assert.equal(isOwnAlertMessage(envelope, OWN), true);
    assert.equal(isOwnAlertMessage({ ...envelope, recipients: ["boss@example.org"] }, OWN), true);
    assert.equal(isOwnAlertMessage({ ...envelope, clientAddress: "::1" }, OWN), true);
    assert.equal(isOwnAlertMessage({ ...envelope, sender: "PostMaster@example.org" }, OWN), true);
  });
  it("scans anything else: another client, sender or recipient, or no client address", () => {
    assert.equal(isOwnAlertMessage({ ...envelope, clientAddress: "192.0.2.7" }, OWN), false);
    assert.equal(isOwnAlertMessage({ ...envelope, clientAddress: undefined }, OWN), false, "SPAMC: unknown");
    assert.equal(isOwnAlertMessage({ ...envelope, clientAddress: "" }, OWN), false);
    assert.equal(isOwnAlertMessage({ ...envelope, sender: "boss@example.org" }, OWN), false);
    assert.equal(
      isOwnAlertMessage({ ...envelope, recipients: ["boss@example.org", "user@example.net"] }, OWN),
      false,
      "one recipient beyond the alert's",
    );
    assert.equal(isOwnAlertMessage({ ...envelope, recipients: [] }, OWN), false);
    assert.equal(isOwnAlertMessage(envelope, ownAlertMail({ ...ALERTS, exemptAlerts: false })), false);
    assert.equal(isOwnAlertMessage(envelope, undefined), false);
  });
});
