// [alerts] tls_ca_file rotated in place, against a real SMTP relay over STARTTLS (the npm smtp-server, a
// certificate made by openssl) on this host's address off loopback, where the relay's certificate is
// checked before the login goes. The file is read at each attempt: once the relay's certificate and the CA
// file have rotated, the next attempt checks against the new CA, with or without a reload. A CA file that is
// garbage (a rotation half written, an error page saved in its place) or gone fails the attempt for now,
// saying so, with no credentials sent and never in plaintext.
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { createAlertTransport } from "../../src/actors/alert-transport.ts";
import { failureKind } from "../../src/policy/alert-failure.ts";
import { alertsConfig } from "../helpers/alerts-config.ts";
import { alertMail, noRemoteRelay, remoteRelayHost } from "../helpers/remote-relay.ts";
import { type SmtpReceiver, startSmtpReceiver } from "../helpers/smtp-receiver.ts";
import { makeCertificates } from "../helpers/test-ca.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const USER = "alerts@example.org";
const PASSWORD = "s3cret-Pa55word";

const NEEDS_REMOTE = { skip: noRemoteRelay };
const host = remoteRelayHost;

describe("[alerts] tls_ca_file rotated in place (real relay over STARTTLS)", () => {
  let dir: TempDir;
  let rotated: TempDir; // the new CA and the relay certificate it signed
  const receivers: SmtpReceiver[] = [];
  before(() => {
    dir = makeTempDir();
    rotated = makeTempDir();
    const names = ["DNS:localhost", `IP:${host}`];
    makeCertificates(dir, names);
    makeCertificates(rotated, names);
    copyFileSync(dir.file("ca.pem"), dir.file("relay-ca.pem"));
  });
  after(async () => {
    await Promise.all(receivers.map((smtp) => smtp.close()));
    dir.remove();
    rotated.remove();
  });

  const relay = async (certificates: TempDir) => {
    const tls = {
      cert: readFileSync(certificates.file("server.pem")),
      key: readFileSync(certificates.file("server.key")),
    };
    const smtp = await startSmtpReceiver(0, { host, tls, auth: { user: USER, password: PASSWORD } });
    receivers.push(smtp);
    return smtp;
  };
  const send = (port: number) =>
    createAlertTransport(
      alertsConfig({
        smtpHost: host,
        smtpPort: port,
        auth: { user: USER, password: PASSWORD },
        tlsCaFile: dir.file("relay-ca.pem"),
      }),
    )(alertMail).then(() => undefined, (error) => error as Error);

  it("checks the relay against the CA the file holds at each attempt", NEEDS_REMOTE, async () => {
    const before = await relay(dir);
    assert.equal(await send(before.port), undefined, "the relay's certificate checked against the first CA");
    const after = await relay(rotated); // the relay's certificate, signed by the new CA
    const refused = await send(after.port);
    assert.match(String(refused?.message), /the certificate of .* is not trusted/);
    copyFileSync(rotated.file("ca.pem"), dir.file("relay-ca.pem"));
    assert.equal(await send(after.port), undefined, "the new CA, read from the same path");
    assert.equal(after.mails.length, 1);
    assert.ok(after.logins.every((login) => login.secure), "no login in clear");
  });

  it("says a CA file that is garbage or gone: retried, no credentials sent", NEEDS_REMOTE, async () => {
    const smtp = await relay(rotated);
    writeFileSync(dir.file("relay-ca.pem"), "<html>502 Bad Gateway</html>\n");
    const garbage = await send(smtp.port);
    assert.match(
      String(garbage?.message),
      /^cannot use \[alerts\] tls_ca_file .*relay-ca\.pem: it holds no PEM certificate/,
    );
    assert.equal(failureKind(garbage), "temporary", "retried, not parked");
    rmSync(dir.file("relay-ca.pem"));
    const gone = await send(smtp.port);
    assert.match(String(gone?.message), /^cannot read \[alerts\] tls_ca_file .*relay-ca\.pem: .*ENOENT/);
    assert.equal(failureKind(gone), "temporary", "retried, not parked");
    assert.equal(smtp.logins.length, 0, "no credentials to an unchecked relay");
    assert.equal(smtp.mails.length, 0);
  });
});
