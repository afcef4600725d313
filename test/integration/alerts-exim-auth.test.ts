// The alert mail's SMTP AUTH at a real Exim on loopback (Debian's exim4-daemon-heavy, `exim -bd`): the local
// MTA a postmaster points [alerts] at. Exim's mainlog tells whether it took the alert, and with which login
// (`A=authenticator:user` on the `<=` line, written before Exim answers the message's end).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { createAlertTransport } from "../../src/actors/alert-transport.ts";
import { failureKind } from "../../src/policy/alert-failure.ts";
import {
  type EximDaemon,
  maildirDelivery,
  prepareEximDir,
  startEximDaemon,
  writeEximConfig,
} from "../helpers/exim.ts";
import { alertsConfig } from "../helpers/alerts-config.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const USER = "alerts@example.org";
const PASSWORD = "s3cret-Pa55word";

const AUTHENTICATOR = `test_plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and {{eq{$auth2}{${USER}}}{eq{$auth3}{${PASSWORD}}}}}
  server_set_id = $auth2
`;
/** As Debian's exim4.conf.template has its authenticators (commented out): offered over TLS only. */
const TLS_ONLY = "  server_advertise_condition = ${if eq{$tls_in_cipher}{}{}{*}}\n";

interface EximSetup {
  /** A PLAIN authenticator, and RCPT refused without a login. */
  auth: boolean;
  /** tls_certificate names a file that is not there: Exim announces STARTTLS and answers it 454. */
  brokenTls?: boolean;
  /** The authenticator offered over TLS only. */
  authOverTlsOnly?: boolean;
}

const mail = {
  from: "postmaster@example.org",
  to: ["boss@example.net"],
  cc: [],
  subject: "Mail Abuse Alert",
  text: "body\n",
};

describe("alert mail with auth_user through a real Exim on loopback", { timeout: 90_000 }, () => {
  const dirs: TempDir[] = [];
  const exims: EximDaemon[] = [];
  after(async () => {
    await Promise.all(exims.map((exim) => exim.stop()));
    dirs.forEach((dir) => dir.remove());
  });

  /** An Exim on a loopback port delivering example.net into its maildir; its mainlog and what it took. */
  const startExim = async (setup: EximSetup) => {
    const dir = makeTempDir();
    dirs.push(dir);
    prepareEximDir(dir);
    const config = writeEximConfig(dir, {
      address: "inet:127.0.0.1:1", // no snippet: the daemon is not asked here
      withSnippet: false,
      ...maildirDelivery(dir),
      authenticators: setup.auth ? AUTHENTICATOR + (setup.authOverTlsOnly ? TLS_ONLY : "") : undefined,
      siteRcptAcl: setup.auth
        ? "  accept authenticated = *\n  deny message = authentication required\n"
        : "  accept domains = +local_domains\n  deny message = relay not permitted\n",
      mainExtra: setup.brokenTls
        ? `tls_certificate = ${dir.file("missing.pem")}\ntls_privatekey = ${dir.file("missing.key")}\n`
        : "",
    });
    const exim = await startEximDaemon(dir, config, await freePort());
    exims.push(exim);
    const mainlog = () =>
      existsSync(dir.file("log/mainlog")) ? readFileSync(dir.file("log/mainlog"), "latin1") : "";
    /** Exim's `<=` lines: the messages it took. */
    const taken = () => mainlog().split("\n").filter((line) => / <= postmaster@example\.org /.test(line));
    return { port: exim.port, mainlog, taken };
  };

  const alerts = (port: number) =>
    alertsConfig({ to: ["boss@example.net"], smtpPort: port, auth: { user: USER, password: PASSWORD } });

  it("sends no alert to an Exim that offers no AUTH: retried, saying so", async () => {
    // Debian's Exim ships its authenticators commented out and takes local mail from loopback: the alert
    // went in without a login (`P=esmtps`, no `A=`), the configured auth_user silently unused.
    const exim = await startExim({ auth: false });
    const error = await createAlertTransport(alerts(exim.port))(mail).then(() => undefined, (e) => e);
    assert.deepEqual(exim.taken(), [], "Exim took no alert without the login");
    assert.match(
      String(error?.message),
      new RegExp(
        `^127\\.0\\.0\\.1:${exim.port} offers no SMTP AUTH mechanism .*logging in as ${USER}; retried$`,
      ),
    );
    assert.equal(failureKind(error), "temporary");
  });

  it("logs in with PLAIN at an Exim with a PLAIN authenticator", async () => {
    const exim = await startExim({ auth: true });
    await createAlertTransport(alerts(exim.port))(mail);
    const taken = exim.taken();
    assert.equal(taken.length, 1, exim.mainlog());
    assert.match(taken[0], new RegExp(` A=test_plain:${USER} `));
  });

  it("logs in over plaintext at an Exim that cannot read its certificate (STARTTLS 454)", async () => {
    // nodemailer went on after the 454 in the same session without the AUTH Exim offered in plaintext: RCPT
    // was refused (550 authentication required) and the alert parked as refused for good.
    const exim = await startExim({ auth: true, brokenTls: true });
    await createAlertTransport(alerts(exim.port))(mail);
    const taken = exim.taken();
    assert.equal(taken.length, 1, exim.mainlog());
    assert.match(taken[0], new RegExp(` P=esmtpa A=test_plain:${USER} `), "in plaintext, logged in");
  });

  it("names the failed STARTTLS when Exim offers AUTH over TLS only and its TLS is broken", async () => {
    // The plaintext connection after the 454 finds no AUTH: the error said only that Exim "offers no SMTP
    // AUTH mechanism", which its authenticators contradict; the cause to fix, Exim's TLS, went unnamed.
    const exim = await startExim({ auth: true, brokenTls: true, authOverTlsOnly: true });
    const error = await createAlertTransport(alerts(exim.port))(mail).then(() => undefined, (e) => e);
    assert.deepEqual(exim.taken(), []);
    assert.match(
      String(error?.message),
      new RegExp(
        `^Error upgrading connection with STARTTLS: 454 TLS currently unavailable; in plaintext: ` +
          `127\\.0\\.0\\.1:${exim.port} offers no SMTP AUTH mechanism .*; retried$`,
      ),
    );
    assert.equal(failureKind(error), "temporary");
  });
});
