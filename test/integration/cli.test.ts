// The command line as a postmaster uses it: version, help, config-test, default-config, run.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { VERSION } from "../../src/version.ts";
import { SECTIONS } from "../../src/config/schema.ts";
import { startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { askPolicy } from "../helpers/policy-client.ts";
import { mainCommand, ROOT } from "../helpers/runtime.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

function cli(args: string[], cwd = ROOT) {
  const [command, ...rest] = mainCommand(args);
  const result = spawnSync(command, rest, { cwd, encoding: "utf8", timeout: 20_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("mailpolicyd command line", () => {
  const dir = makeTempDir();
  after(() => dir.remove());

  it("prints its version", () => {
    const result = cli(["version"]);
    assert.equal(result.status, 0);
    assert.equal(result.stdout, `mailpolicyd ${VERSION}\n`);
  });

  it("has --help for every command and refuses unknown commands and options", () => {
    for (const command of ["run", "config-test", "version", "default-config"]) {
      const result = cli([command, "--help"]);
      assert.equal(result.status, 0, command);
      assert.match(result.stdout, new RegExp(`^Usage: mailpolicyd ${command}`), command);
    }
    assert.match(cli(["--help"]).stdout, /Commands:\n\s+run/);
    // `help COMMAND` is that command's help (it printed the general usage).
    const helpStatus = cli(["help", "status"]);
    assert.equal(helpStatus.status, 0);
    assert.equal(helpStatus.stdout, cli(["status", "--help"]).stdout);
    const noHelp = cli(["help", "frobnicate"]);
    assert.equal(noHelp.status, 64);
    assert.match(noHelp.stderr, /no help for 'frobnicate'/);
    const unknown = cli(["frobnicate"]);
    assert.equal(unknown.status, 64);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const badOption = cli(["run", "--no-such-option"]);
    assert.equal(badOption.status, 64);
    assert.match(badOption.stderr, /Usage: mailpolicyd run/);
  });

  // `reset --socket "$SOCK" KEY` with $SOCK unset asked the default config's daemon, maybe another one.
  it("an empty --socket, --config, --confdir or FILE is a usage error (64), never a default or ''", () => {
    for (
      const args of [
        ["reset", "--socket", "", "a@example.org"],
        ["status", "--socket", ""],
        ["status", "--config", ""],
        ["scan", "--config", "", "m.eml"],
        ["run", "--config", ""],
        ["exim-setup", "--add", "--confdir", ""],
      ]
    ) {
      const result = cli(args);
      assert.equal(result.status, 64, `${args.join(" ")}: ${result.stderr}`);
      const option = args[args.indexOf("") - 1];
      assert.match(
        result.stderr,
        new RegExp(`^mailpolicyd: ${args[0]}: ${option} is empty\n`),
        args.join(" "),
      );
    }
    for (const command of ["config-test", "scan"]) {
      const result = cli([command, ""]);
      assert.equal(result.status, 64, `${command} '': ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`^mailpolicyd: ${command}: FILE is empty\n`));
    }
  });

  it("a --socket path longer than a Unix socket's may be: exit 2 saying so, not 'connect EINVAL'", () => {
    const path = `${dir.path}/${"s".repeat(120)}.sock`;
    for (const args of [["status", "--socket", path], ["check", "--socket", path, "a@example.org"]]) {
      const result = cli(args);
      assert.equal(result.status, 2, result.stderr);
      assert.equal(
        result.stderr,
        `mailpolicyd: cannot reach mailpolicyd on ${path}: the path has ${path.length} bytes, and a Unix ` +
          `socket's may have at most 107\n`,
      );
    }
  });

  it("config-test accepts the seed's sender_warn.conf unchanged", () => {
    const result = cli(["config-test", `${ROOT}test/fixtures/sender_warn.conf`]);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /sender_warn\.conf: OK/);
  });

  it("config-test warns at its line of a [redis] tls_ca_file it cannot read (the daemon logs it once itself)", () => {
    const file = dir.file("redis-ca.conf");
    writeFileSync(file, "[redis]\nurl = rediss://redis.example.org\ntls_ca_file = absent-ca.pem\n");
    const result = cli(["config-test", file]);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(
      result.stdout,
      /^\S+redis-ca\.conf:3: redis\.tls_ca_file: warning: cannot read \S*absent-ca\.pem: .*\n\S+redis-ca\.conf: OK\n$/,
    );
  });

  it("config-test lists every error as FILE:LINE: key: problem and exits 1", () => {
    const file = dir.file("broken.conf");
    writeFileSync(
      file,
      "[daemon]\nlog_level = chatty\nsocket_mode = 999\n[thresholds]\ntime = soon\ncount = -1\nwhatever = 1\n" +
        "[alerts]\nfromAddr = not-an-address\n[nonsense]\n",
    );
    const result = cli(["config-test", file]);
    assert.equal(result.status, 1);
    // In file order, whichever check found each.
    assert.deepEqual(result.stdout.trim().split("\n"), [
      `${file}:2: daemon.log_level: expected one of: debug, info, warn, error`,
      `${file}:3: daemon.socket_mode: expected an octal mode such as 0660`,
      `${file}:5: thresholds.time: expected a duration such as 300, 30s, 5m, 1h or 1d`,
      `${file}:6: thresholds.count: expected a whole number`,
      `${file}:7: thresholds.whatever: unknown key (known: time, count)`,
      `${file}:8: alerts.toaddr: required key missing`,
      `${file}:9: alerts.fromAddr: expected an e-mail address`,
      `${file}:10: [nonsense]: unknown section (known: ${
        Object.keys(SECTIONS).join(", ")
      }, limit NAME, rule NAME)`,
    ]);
  });

  it("config-test names, at their line, sender exemptions that whatever a limit counts may claim", () => {
    const file = dir.file("exemptions.conf");
    writeFileSync(
      file,
      "[limit sites]\nkey = local_user\ncount = 200\ntime = 1h\nexempt = noreply@example.org, local_user:app\n" +
        "[limit logins]\nkey = sasl_username\ncount = 300\ntime = 1h\nexempt = @lists.example.org\n" +
        "[limit outbound]\nkey = sender\ncount = 200\ntime = 1h\nexempt = newsletter@example.org\n",
    );
    const result = cli(["config-test", file]);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    const lines = result.stdout.trim().split("\n");
    assert.equal(lines.length, 3, result.stdout);
    assert.match(
      lines[0],
      /:5: limit sites\.exempt: warning: noreply@example\.org: not exempt from this limit, /,
    );
    assert.match(
      lines[1],
      /:10: limit logins\.exempt: warning: @lists\.example\.org: this limit counts sasl_username, /,
    );
    assert.match(lines[2], /exemptions\.conf: OK$/);
  });

  // Accepted before without a word; the alerts then failed only when one was sent, hours later.
  it("config-test warns at its line about a sendmail that is no program, and still exits 0", () => {
    const file = dir.file("sendmail.conf");
    writeFileSync(
      file,
      "[alerts]\nfromAddr = a@example.org\ntoAddr = b@example.org\nsendmail = /nonexistent\n",
    );
    const result = cli(["config-test", file]);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.deepEqual(result.stdout.trim().split("\n"), [
      `${file}:4: alerts.sendmail: warning: /nonexistent does not exist; every alert would fail when sent`,
      `${file}: OK`,
    ]);
  });

  it("config-test reports a missing file", () => {
    const result = cli(["config-test", dir.file("absent.conf")]);
    assert.equal(result.status, 1);
    assert.match(result.stdout, /absent\.conf:0: \(file\): cannot read: .*no such file/i);
  });

  it("config-test refuses a FILE together with --default-config (exit 64), rather than ignore the file", () => {
    const result = cli(["config-test", dir.file("absent.conf"), "--default-config"]);
    assert.equal(result.status, 64);
    assert.match(result.stderr, /^mailpolicyd: give a FILE or --default-config, not both\n/);
    assert.equal(cli(["config-test", "--default-config"]).status, 0);
  });

  it("run refuses an invalid config with the errors and exit 1", () => {
    const file = dir.file("bad-run.conf");
    writeFileSync(file, "[thresholds]\ncount = many\n");
    const result = cli(["run", "--config", file]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /bad-run\.conf:2: thresholds\.count: expected a whole number/);
    assert.match(result.stderr, /config invalid, not starting/);
  });

  it("default-config prints a config that config-test accepts", () => {
    const printed = cli(["default-config"]);
    assert.equal(printed.status, 0);
    const file = dir.file("printed.conf");
    writeFileSync(file, printed.stdout);
    assert.equal(cli(["config-test", file]).status, 0);
  });

  it("run --default-config serves under ./run of the current directory, and refuses a second instance", async () => {
    const work = makeTempDir();
    let child: import("node:child_process").ChildProcess | undefined;
    try {
      const [command, ...rest] = mainCommand(["run", "--default-config"]);
      const { spawn } = await import("node:child_process");
      child = spawn(command, rest, { cwd: work.path, stdio: ["ignore", "ignore", "pipe"] });
      let output = "";
      child.stderr!.on("data", (chunk) => output += chunk);
      const { waitFor } = await import("../helpers/daemon-process.ts");
      await waitFor(() => /policy: listening/.test(output), 15_000, "the default-config daemon");
      assert.equal(await askPolicy(work.file("run/policy.sock"), "someone@example.org\n"), "no");

      const second = cli(["run", "--default-config"], work.path);
      assert.equal(second.status, 1);
      assert.match(second.stderr, /already running, not starting a second instance pid=\d+/);

      process.kill(child.pid!, "SIGTERM");
      await waitFor(() => /info daemon: stopped/.test(output), 10_000, "shutdown");
    } finally {
      // A failed assertion must not leave it serving the default port: it failed the next runs.
      if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      work.remove();
    }
  });

  it("SIGHUP applies a valid edited config and refuses an invalid one, keeping the old", async () => {
    const work = makeTempDir();
    const config = writeTestConfig(work, "[thresholds]\ntime = 300\ncount = 10\n");
    const daemon = await startDaemonProcess(work, config);
    try {
      assert.equal(await askPolicy(daemon.policySocket, "hup@example.org\n"), "no");
      assert.equal(await askPolicy(daemon.policySocket, "hup@example.org\n"), "no");

      writeFileSync(config, writeTestConfigText(work.path, "[thresholds]\ntime = 300\ncount = 2\n"));
      daemon.signal("SIGHUP");
      await daemon.waitForLog(/config reloaded/);
      assert.equal(await askPolicy(daemon.policySocket, "hup@example.org\n"), "yes", "new limit 2 applies");

      writeFileSync(config, "[thresholds]\ncount = lots\n");
      daemon.signal("SIGHUP");
      await daemon.waitForLog(/reload refused: new config invalid, keeping the running one/);
      assert.match(daemon.logs(), /error config: .*:2: thresholds\.count: expected a whole number/);
      assert.equal(await askPolicy(daemon.policySocket, "other@example.org\n"), "no");
      assert.equal(
        await askPolicy(daemon.policySocket, "hup@example.org\n"),
        "yes",
        "old config still serves",
      );
    } finally {
      await daemon.stopCleanly();
      work.remove();
    }
  });
});

function writeTestConfigText(path: string, extra: string): string {
  return `[daemon]\npolicy_socket = ${path}/policy.sock\ncontrol_socket = ${path}/control.sock\n` +
    `pidfile = ${path}/mailpolicyd.pid\nstate_file = ${path}/state.json\nstate_interval = 200ms\n` +
    `log_level = debug\n${extra}`;
}
