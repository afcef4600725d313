// SMTP AUTH at the alert relay against a real SMTP server (the npm smtp-server) that requires it, over a
// real STARTTLS with a certificate made by openssl (helpers/test-ca.ts). The relay listens on this host's
// non-loopback address, so the transport treats it as a relay across the network: credentials only over
// TLS, to a checked certificate. Before: the keys were unknown, and a relay that requires AUTH answered
// every alert "530 authentication required" at MAIL FROM: parked, refused for good; the postmaster got none.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { createAlertTransport } from "../../src/actors/alert-transport.ts";
import type { AlertsConfig } from "../../src/config/types.ts";
import { failureKind } from "../../src/policy/alert-failure.ts";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { alertsConfig } from "../helpers/alerts-config.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { alertMail, noRemoteRelay, remoteRelayHost } from "../helpers/remote-relay.ts";
import { runMain } from "../helpers/runtime.ts";
import { type ReceiverOptions, type SmtpReceiver, startSmtpReceiver } from "../helpers/smtp-receiver.ts";
import { makeCertificates } from "../helpers/test-ca.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const SLOW = { timeout: 90_000 }; // the daemon and the CLI are spawned; Deno starts slower than Bun

const USER = "alerts@example.org";
const PASSWORD = "s3cret-Pa55word";
const WRONG = "wrong-Pa55word";
const KEY = "spammer@example.org";
const RCPT = `rcpt sender=${KEY} recipient=x@example.net client_address=192.0.2.7\n`;

const NEEDS_REMOTE = { ...SLOW, skip: noRemoteRelay };
const host = remoteRelayHost;
const mail = alertMail;

describe("alert mail through a relay that requires SMTP AUTH", () => {
  const dir = makeTempDir();
  const receivers: SmtpReceiver[] = [];
  const daemons: DaemonProcess[] = [];
  let tls: { cert: Buffer; key: Buffer };
  before(() => {
    makeCertificates(dir, ["DNS:localhost", "IP:127.0.0.1", `IP:${host}`]);
    tls = { cert: readFileSync(dir.file("server.pem")), key: readFileSync(dir.file("server.key")) };
  });
  after(async () => {
    await Promise.all(daemons.map((daemon) => daemon.stop("SIGKILL")));
    await Promise.all(receivers.map((smtp) => smtp.close()));
    [dir, ...daemonDirs].forEach((each) => each.remove());
  });

  const relay = async (options: ReceiverOptions) => {
    const smtp = await startSmtpReceiver(0, { host, auth: { user: USER, password: PASSWORD }, ...options });
    receivers.push(smtp);
    return smtp;
  };

  const alerts = (port: number, more: Partial<AlertsConfig> = {}): AlertsConfig =>
    alertsConfig({
      smtpHost: host,
      smtpPort: port,
      auth: { user: USER, password: PASSWORD },
      tlsCaFile: dir.file("ca.pem"),
      ...more,
    });

  /** A limit of 1 and alerts through the relay at relayHost:port, without credentials. */
  const configWithoutAuth = (relayHost: string, port: number) =>
    `[limit out]\nkey = sender\ncount = 1\ntime = 1h\naction = defer\n` +
    `[alerts]\nfromAddr = 'postmaster@example.org'\ntoAddr = 'boss@example.org'\n` +
    `smtp_host = ${relayHost}\nsmtp_port = ${port}\nsmtp_timeout = 5s\nretry_min = 200ms\nretry_max = 1s\n`;
  const configText = (port: number, password: string) =>
    configWithoutAuth(host, port) +
    `auth_user = ${USER}\nauth_password = ${password}\ntls_ca_file = ${dir.file("ca.pem")}\n`;

  /**
   * What every CLI view prints of the daemon, also as JSON (the dashboard's /status), and config-test of
   * its file; none may hold a password.
   */
  const VIEWS = [["status"], ["status", "--json"], ["show", KEY], ["show", KEY, "--json"], ["top"]];
  const cliOutput = (config: string) =>
    [...VIEWS, ["config-test", config]].map((args) => {
      const result = runMain(args[0] === "config-test" ? args : [...args, "--config", config]);
      assert.equal(result.status, 0, `${args.join(" ")}: ${result.stderr}`);
      return result.stdout + result.stderr;
    }).join("\n");

  const daemonDirs = [makeTempDir(), makeTempDir(), makeTempDir()];
  /** A daemon in daemonDir with this config whose limit has been crossed: its alert is on its way. */
  const crossed = async (daemonDir: TempDir, text: string) => {
    const config = writeTestConfig(daemonDir, text);
    const daemon = await startDaemonProcess(daemonDir, config);
    daemons.push(daemon);
    await askPolicy(daemon.policySocket, RCPT);
    assert.match(await askPolicy(daemon.policySocket, RCPT), /^action=defer/, "crossed");
    return { config, daemon };
  };
  const crossWith = async (password: string, relayOptions: ReceiverOptions = { tls }) => {
    const daemonDir = daemonDirs[!relayOptions.tls ? 2 : password === PASSWORD ? 0 : 1];
    const smtp = await relay(relayOptions);
    return { smtp, ...await crossed(daemonDir, configText(smtp.port, password)) };
  };

  it("delivers the alert with good credentials, logged in over STARTTLS", NEEDS_REMOTE, async () => {
    const { smtp, config, daemon } = await crossWith(PASSWORD);
    await daemon.waitForLog(/alert mail sent key=spammer@example\.org/, 20_000);
    assert.equal(smtp.mails.length, 1);
    assert.deepEqual(smtp.logins.map(({ username, secure, taken }) => ({ username, secure, taken })), [
      { username: USER, secure: true, taken: true },
    ]);
    const shown = cliOutput(config);
    assert.match(shown, /spammer@example\.org/, "the views ran");
    assert.ok(!shown.includes(PASSWORD), "no CLI output holds the password");
    assert.ok(!daemon.logs().includes(PASSWORD), "no log line holds the password");
  });

  it("parks the alert when the relay refuses the login (535), saying so", NEEDS_REMOTE, async () => {
    const { smtp, config, daemon } = await crossWith(WRONG);
    await daemon.waitForLog(/alert mail given up, parked key=spammer@example\.org/, 20_000);
    const parked = daemon.logs().split("\n").filter((line) => /given up, parked/.test(line));
    assert.equal(parked.length, 1, parked.join("\n"));
    assert.match(
      parked[0],
      new RegExp(
        `via=${host.replaceAll(".", "\\.")}:${smtp.port} reason="refused for good" ` +
          `error="authentication failed at ${host.replaceAll(".", "\\.")}:${smtp.port} as ${USER}: .*535`,
      ),
    );
    assert.equal(smtp.mails.length, 0);
    assert.equal(smtp.logins.length, 1, "tried once: a refused login is not retried");
    const shown = cliOutput(config);
    assert.match(
      shown,
      /^PARKED ALERTS \(given up, not retried\)\n.*spammer@example\.org.*authentication failed/m,
    );
    assert.match(shown, /at limit \(alert not sent\)/);
    for (const password of [PASSWORD, WRONG]) {
      assert.ok(!shown.includes(password), "no CLI output holds the password");
      assert.ok(!daemon.logs().includes(password), "no log line holds the password");
    }
  });

  it("sends no credentials to a relay off loopback without STARTTLS: retried", NEEDS_REMOTE, async () => {
    const smtp = await relay({}); // AUTH offered in clear, no STARTTLS
    const error = await createAlertTransport(alerts(smtp.port))(mail).then(() => undefined, (error) => error);
    assert.match(String(error?.message), /no TLS with .*credentials are never sent in clear/);
    assert.equal(failureKind(error), "temporary", "retried, not parked");
    assert.equal(smtp.logins.length, 0, "the relay saw no AUTH");
    assert.equal(smtp.mails.length, 0);
  });

  it(
    "retries, never logging in, at a relay off loopback without STARTTLS (daemon)",
    NEEDS_REMOTE,
    async () => {
      const { smtp, daemon } = await crossWith(PASSWORD, {}); // AUTH offered in clear, no STARTTLS
      const retried =
        /error alerter: alert mail failed, will retry key=spammer@example\.org .*error="no TLS with .*credentials are never sent in clear/g;
      await waitFor(() => (daemon.logs().match(retried) ?? []).length >= 2, 20_000, "two attempts");
      assert.doesNotMatch(daemon.logs(), /given up, parked/);
      assert.equal(smtp.logins.length, 0, "the relay saw no AUTH");
      assert.equal(smtp.mails.length, 0);
    },
  );

  it(
    "refuses a certificate from an unknown CA unless tls_ca_file names it or tls_verify = no",
    NEEDS_REMOTE,
    async () => {
      const smtp = await relay({ tls });
      for (const more of [{ tlsCaFile: undefined }, { tlsCaFile: dir.file("other.pem") }]) {
        const error = await createAlertTransport(alerts(smtp.port, more))(mail).then(
          () => undefined,
          (e) => e,
        );
        assert.match(String(error?.message), /the certificate of .* is not trusted .*tls_ca_file/);
        assert.equal(failureKind(error), "temporary", "retried, not parked");
      }
      assert.equal(smtp.logins.length, 0, "no credentials to an unchecked relay");
      await createAlertTransport(alerts(smtp.port, { tlsCaFile: undefined, tlsVerify: false }))(mail);
      // tls_verify = no never reads tls_ca_file: one gone fails no alert (config-test says it is not read).
      await createAlertTransport(alerts(smtp.port, { tlsCaFile: dir.file("gone.pem"), tlsVerify: false }))(
        mail,
      );
      await createAlertTransport(alerts(smtp.port))(mail);
      assert.equal(smtp.mails.length, 3);
      assert.ok(smtp.logins.every((login) => login.secure && login.taken));
    },
  );

  it("without auth_user, parks the alert saying which settings the relay wants (530)", SLOW, async () => {
    // The relay answers MAIL FROM "530 Error: authentication Required": refused for good. The alert was
    // parked with those words only, and the postmaster had to guess what to set.
    const smtp = await startSmtpReceiver(0, { auth: { user: USER, password: PASSWORD } });
    receivers.push(smtp);
    const daemonDir = makeTempDir();
    daemonDirs.push(daemonDir);
    const { config, daemon } = await crossed(daemonDir, configWithoutAuth("127.0.0.1", smtp.port));
    await daemon.waitForLog(/alert mail given up, parked key=spammer@example\.org/, 20_000);
    const said = `530 Error: authentication Required; 127\\.0\\.0\\.1:${smtp.port} requires SMTP AUTH: ` +
      `set \\[alerts\\] auth_user and auth_password`;
    const parked = daemon.logs().split("\n").filter((line) => /given up, parked/.test(line));
    assert.equal(parked.length, 1, parked.join("\n"));
    assert.match(parked[0], new RegExp(`reason="refused for good" error="Mail command failed: ${said}"`));
    assert.match(
      cliOutput(config),
      new RegExp(`^PARKED ALERTS \\(given up, not retried\\)\n.*spammer@example\\.org.*${said}$`, "m"),
    );
    assert.equal(smtp.mails.length, 0);
    assert.equal(smtp.logins.length, 0, "no login tried: none configured");
  });

  /** The attempt's error, or undefined when the relay took the alert. */
  const failure = (config: AlertsConfig) =>
    createAlertTransport(config)(mail).then(() => undefined, (error) => error);
  const offersNoLogin = (port: number, relayHost = "127\\.0\\.0\\.1") =>
    new RegExp(
      `^${relayHost}:${port} offers no SMTP AUTH mechanism to log in with a password \\(PLAIN, LOGIN or ` +
        `CRAM-MD5\\)[^:]*: the alert is not sent without logging in as ${USER}; retried$`,
    );

  it("sends no alert without the login to a relay that offers no AUTH: retried, saying so", async () => {
    // No AUTH in the relay's EHLO reply, mail taken from anyone: nodemailer logs in only where AUTH is
    // offered, and the alert went out without a login, the configured auth_user silently unused.
    const smtp = await startSmtpReceiver(0);
    receivers.push(smtp);
    const error = await failure(alerts(smtp.port, { smtpHost: "127.0.0.1" }));
    assert.equal(smtp.mails.length, 0, "not delivered without the login");
    assert.match(String(error?.message), offersNoLogin(smtp.port));
    assert.equal(failureKind(error), "temporary", "retried: the relay may offer AUTH again");
  });

  it(
    "sends no alert without the login to a relay that offers no AUTH after STARTTLS",
    NEEDS_REMOTE,
    async () => {
      const smtp = await relay({ tls, auth: undefined }); // STARTTLS, then an EHLO reply without AUTH
      const error = await failure(alerts(smtp.port));
      assert.equal(smtp.mails.length, 0, "not delivered without the login");
      assert.match(String(error?.message), offersNoLogin(smtp.port, host.replaceAll(".", "\\.")));
      assert.equal(failureKind(error), "temporary");
    },
  );

  it("sends no password with PLAIN to a relay that offers only XOAUTH2", async () => {
    // nodemailer tries PLAIN when the relay offers no mechanism it can use with a password: the password
    // went to the relay under a mechanism it had not offered, and the relay's 504 was parked as a failed
    // login.
    const smtp = await startSmtpReceiver(0, {
      auth: { user: USER, password: PASSWORD },
      authMethods: ["XOAUTH2"],
    });
    receivers.push(smtp);
    const error = await failure(alerts(smtp.port, { smtpHost: "127.0.0.1" }));
    assert.match(String(error?.message), offersNoLogin(smtp.port));
    assert.match(String(error?.message), /\(it offers XOAUTH2\)/);
    assert.equal(failureKind(error), "temporary");
    assert.equal(smtp.mails.length, 0);
  });

  it("logs the alert that a relay offering no AUTH did not get, and retries it (daemon)", SLOW, async () => {
    const smtp = await startSmtpReceiver(0); // no AUTH offered, mail taken from anyone
    receivers.push(smtp);
    const daemonDir = makeTempDir();
    daemonDirs.push(daemonDir);
    const config = configWithoutAuth("127.0.0.1", smtp.port) +
      `auth_user = ${USER}\nauth_password = ${PASSWORD}\n`;
    const { daemon } = await crossed(daemonDir, config);
    // The first attempt's outcome, whichever it is.
    await daemon.waitForLog(
      /alert mail (sent|failed, will retry|given up, parked) key=spammer@example\.org/,
      20_000,
    );
    assert.doesNotMatch(daemon.logs(), /alert mail sent|given up, parked/);
    assert.match(
      daemon.logs(),
      new RegExp(
        `alert mail failed, will retry key=spammer@example\\.org .*error="127\\.0\\.0\\.1:${smtp.port} offers ` +
          `no SMTP AUTH mechanism .*not sent without logging in as ${USER}; retried"`,
      ),
    );
    assert.equal(smtp.mails.length, 0, "not delivered without the login");
  });

  it("says a 421 at AUTH is the relay closing the session, not a failed login: retried", async () => {
    // RFC 5321's "service not available, closing transmission channel" (a relay shutting down) was
    // logged "authentication failed at HOST:PORT as USER: Invalid login: 421 …", which reads as a wrong
    // password, although the alert was retried as it should be.
    for (const authMethods of [["PLAIN"], ["LOGIN"]]) {
      const smtp = await startSmtpReceiver(0, {
        auth: { user: USER, password: PASSWORD },
        authMethods,
        closingAtAuth: true,
      });
      receivers.push(smtp);
      const error = await failure(alerts(smtp.port, { smtpHost: "127.0.0.1" }));
      assert.equal(smtp.logins.length, 1, `${authMethods}: the relay saw the login`);
      assert.equal(
        String(error?.message),
        `127.0.0.1:${smtp.port} answered AUTH ${authMethods[0]} with 421 4.3.2 Service shutting down, ` +
          `closing transmission channel: the relay is closing the session, the login was not refused; retried`,
      );
      assert.equal(failureKind(error), "temporary", "retried, not parked");
      assert.equal(smtp.mails.length, 0);
    }
  });

  // The relay's authentication backend hangs: nodemailer waited for 10 minutes of silence on the socket, and
  // the alerts behind this one with it. HUNG bounds the test where it would wait that long.
  const HUNG = { timeout: 30_000 };
  const didNotAnswer = (port: number, step: string) =>
    `127.0.0.1:${port} did not answer ${step} within 1s ([alerts] smtp_command_timeout); retried`;

  it("ends an attempt whose relay never answers AUTH after smtp_command_timeout: retried", HUNG, async () => {
    // PLAIN: no reply to AUTH at all; LOGIN: the relay's 334s ask for the user and the password, then none.
    for (const method of ["PLAIN", "LOGIN"]) {
      const smtp = await startSmtpReceiver(0, {
        auth: { user: USER, password: PASSWORD },
        authMethods: [method],
        hangAt: "AUTH",
      });
      receivers.push(smtp);
      const error = await failure(alerts(smtp.port, { smtpHost: "127.0.0.1", smtpCommandTimeoutMs: 1000 }));
      assert.deepEqual(smtp.logins.map((login) => login.method), [method], "the relay got the login");
      assert.equal(String(error?.message), didNotAnswer(smtp.port, `AUTH ${method}`));
      assert.equal(failureKind(error), "temporary", "retried, not parked");
      assert.equal(smtp.mails.length, 0);
    }
  });

  it("logs the attempt a relay hung at AUTH, with the relay and the step, and retries it (daemon)", {
    timeout: 90_000,
  }, async () => {
    const smtp = await startSmtpReceiver(0, { auth: { user: USER, password: PASSWORD }, hangAt: "AUTH" });
    receivers.push(smtp);
    const daemonDir = makeTempDir();
    daemonDirs.push(daemonDir);
    const config = configWithoutAuth("127.0.0.1", smtp.port) +
      `auth_user = ${USER}\nauth_password = ${PASSWORD}\nsmtp_command_timeout = 1s\n`;
    const { daemon } = await crossed(daemonDir, config);
    const retried = () =>
      daemon.logs().split("\n").filter((line) => /alert mail failed, will retry/.test(line));
    await waitFor(() => retried().length >= 2, 30_000, "two attempts");
    for (const line of retried()) {
      assert.match(line, /^.*error alerter: alert mail failed, will retry key=spammer@example\.org /);
      assert.ok(line.includes(` via=127.0.0.1:${smtp.port} `), line);
      assert.ok(line.includes(` error="${didNotAnswer(smtp.port, "AUTH PLAIN")}"`), line);
    }
    assert.doesNotMatch(daemon.logs(), /alert mail sent|given up, parked/);
    assert.ok(smtp.logins.length >= 2, "each attempt logged in again");
    assert.equal(smtp.mails.length, 0);
  });

  it("logs in with PLAIN where the relay lists CRAM-MD5 first, else with what it offers", async () => {
    for (const authMethods of [["CRAM-MD5", "PLAIN", "LOGIN"], ["LOGIN"], ["CRAM-MD5"]]) {
      const smtp = await startSmtpReceiver(0, { auth: { user: USER, password: PASSWORD }, authMethods });
      receivers.push(smtp);
      await createAlertTransport(alerts(smtp.port, { smtpHost: "127.0.0.1" }))(mail);
      assert.equal(smtp.mails.length, 1);
      assert.deepEqual(smtp.logins.map(({ method, taken }) => ({ method, taken })), [
        { method: authMethods.length > 1 ? "PLAIN" : authMethods[0], taken: true },
      ]);
    }
  });

  it("logs in in plaintext at a loopback relay whose STARTTLS fails (454 or a broken handshake)", async () => {
    // After "454 TLS currently unavailable" (Exim without a readable certificate) nodemailer went on in
    // plaintext without the AUTH the relay offered there: the relay answered MAIL FROM 530 and the alert was
    // parked as refused for good, where the plaintext session the transport falls back to logs in.
    for (const starttls of ["unavailable", "handshake fails"] as const) {
      const smtp = await startSmtpReceiver(0, { auth: { user: USER, password: PASSWORD }, starttls });
      receivers.push(smtp);
      await createAlertTransport(alerts(smtp.port, { smtpHost: "127.0.0.1" }))(mail);
      assert.equal(smtp.mails.length, 1, starttls);
      assert.deepEqual(smtp.logins.map(({ secure, taken }) => ({ secure, taken })), [
        { secure: false, taken: true },
      ]);
    }
  });

  it("authenticates in clear to a loopback relay (the local MTA)", async () => {
    const smtp = await startSmtpReceiver(0, { auth: { user: USER, password: PASSWORD } });
    receivers.push(smtp);
    await createAlertTransport(alerts(smtp.port, { smtpHost: "127.0.0.1" }))(mail);
    assert.equal(smtp.mails.length, 1);
    assert.deepEqual(smtp.logins.map(({ secure, taken }) => ({ secure, taken })), [
      { secure: false, taken: true },
    ]);
  });
});
