// The command line's usage errors (exit 64): options that contradict each other are refused rather than
// one of them silently ignored.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { main } from "../../../src/cli/command-line.ts";
import { MAX_CONFIG_BYTES } from "../../../src/config/config-file.ts";
import { captureOutput } from "../../helpers/captured-output.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

const dir = makeTempDir();
after(() => dir.remove());

/** Runs main(argv) in this process: its exit code, and what it wrote to stdout and stderr. */
async function cli(argv: string[]) {
  const { result, stdout, stderr } = await captureOutput(() => main(argv));
  return { status: result, stdout, stderr };
}

/**
 * Config paths that cannot be read, with what the error says: missing, a directory, a FIFO `fifoName`, a file
 * larger than a config may be.
 */
function unreadableConfigs(fifoName: string) {
  const fifo = dir.file(fifoName);
  execFileSync("mkfifo", [fifo]);
  // Read whole before, as if it were the config: 3 GiB took Bun 26 s and 3 GB, to read as empty.
  const huge = dir.file(`${fifoName}.huge`);
  writeFileSync(huge, "");
  truncateSync(huge, MAX_CONFIG_BYTES + 1);
  const dangling = dir.file(`${fifoName}.link`);
  symlinkSync("moved.conf", dangling);
  return [
    [dir.file("absent.conf"), /ENOENT/],
    [dir.path, /is a directory, not a regular file/],
    [fifo, /is a FIFO \(named pipe\), not a regular file/], // used to wait for a writer for ever
    [huge, /: 16777217 bytes, more than the 16 MiB a config file may hold\n$/],
    // Said as ENOENT, "no such file or directory", of a file `ls` shows.
    [dangling, /: is a symbolic link to moved\.conf, which leads to no file\n$/],
  ] as const;
}

describe("mailpolicyd's command line", () => {
  it("answers help --help, help -h and help help with the list of commands (exit 0)", async () => {
    for (const topic of ["--help", "-h", "help"]) {
      const result = await cli(["help", topic]);
      assert.equal(result.status, 0, `help ${topic}: ${result.stderr}`);
      assert.match(result.stdout, /^Usage: mailpolicyd <command> \[options\]\n/);
      assert.equal(result.stderr, "");
    }
    assert.equal((await cli(["help", "bogus"])).status, 64);
  });

  it("run without its config file says there is none and how to make one, not 'config invalid'", async () => {
    const absent = dir.file("nowhere/mailpolicyd.conf");
    const result = await cli(["run", "--config", absent]);
    assert.equal(result.status, 1);
    assert.doesNotMatch(result.stderr, /config invalid/);
    assert.match(
      result.stderr,
      new RegExp(
        `\\nmailpolicyd: no config file ${absent}, not starting: give --config FILE \\(\`mailpolicyd ` +
          "default-config` prints a commented starting point\\), or try --default-config\\n$",
      ),
    );
  });

  it("run with a config that is a symbolic link looping says so, not that there is no config file", async () => {
    const loop = dir.file("loop.conf");
    execFileSync("ln", ["-s", loop, loop]);
    const result = await cli(["run", "--config", loop]);
    assert.equal(result.status, 1);
    assert.match(result.stderr, /ELOOP|symbolic links/);
    assert.doesNotMatch(result.stderr, /no config file/);
    assert.match(result.stderr, /\nmailpolicyd: config invalid, not starting\n$/);
  });

  it("refuses top -n that is not written in digits (0x10, 1e3, a space) as a usage error", async () => {
    for (const n of ["0x10", "1e3", " 5", "5 ", "+5"]) {
      const result = await cli(["top", "-n", n, "--socket", dir.file("none.sock")]);
      assert.equal(result.status, 64, `-n ${JSON.stringify(n)}: ${result.stderr}`);
      assert.match(result.stderr, /^mailpolicyd: -n takes a whole number from 1 to \d+\n/);
    }
  });

  it("refuses config-test FILE --default-config (exit 64) instead of checking the embedded config", async () => {
    for (
      const argv of [["config-test", "/etc/x.conf", "--default-config"], [
        "config-test",
        "--default-config",
        "x",
      ]]
    ) {
      const result = await cli(argv);
      assert.equal(result.status, 64, argv.join(" "));
      assert.match(
        result.stderr,
        /^mailpolicyd: give a FILE or --default-config, not both\n\nUsage: mailpolicyd config-test/,
      );
      assert.equal(result.stdout, "");
    }
  });

  it("refuses --socket with --config for the commands that read only the socket's path from the config", async () => {
    const socket = dir.file("control.sock");
    const config = dir.file("absent.conf");
    const commands = [["status"], ["top"], ["show", "alice@example.org"], ["reset", "alice@example.org"], [
      "reload",
    ]];
    for (const command of commands) {
      for (const options of [["--socket", socket, "--config", config], ["-c", config, "--socket", socket]]) {
        const result = await cli([...command, ...options]);
        assert.equal(result.status, 64, [...command, ...options].join(" "));
        assert.match(
          result.stderr,
          new RegExp(
            `^mailpolicyd: give --config or --socket, not both\\n\\nUsage: mailpolicyd ${command[0]} `,
          ),
        );
      }
    }
  });

  // `mailpolicyd reset "$KEY"` with $KEY empty: "no counter for " and exit 1 read as "nothing to reset".
  it("refuses show and reset of an empty or blank KEY (exit 64) before asking the daemon", async () => {
    for (const command of ["show", "reset"]) {
      for (const key of ["", "  "]) {
        const result = await cli([command, key, "--socket", dir.file("absent.sock")]);
        assert.equal(result.status, 64, `${command} '${key}': ${result.stderr}`);
        assert.match(
          result.stderr,
          new RegExp(`^mailpolicyd: ${command}: KEY is empty\\n\\nUsage: mailpolicyd ${command} `),
        );
      }
    }
  });

  // A monitoring script's `status --timeout 1` that was taken as 1 ms, or a typo taken as the default,
  // would report a healthy daemon as down, or hang the script for the default's 5 s.
  it("refuses a --timeout that is no duration or out of range (exit 64) before asking the daemon", async () => {
    const cases = [
      ["soon", /--timeout soon: expected a duration such as 300, 30s, 5m, 1h or 1d/],
      ["5ms", /--timeout 5ms: must be at least 10 ms/],
      ["1h", /--timeout 1h: must be at most 10m/],
    ] as const;
    for (
      const command of [["status"], ["top"], ["show", "k"], ["reset", "k"], ["reload"], ["check", "a@b"]]
    ) {
      for (const [timeout, said] of cases) {
        const result = await cli([...command, "--socket", dir.file("absent.sock"), "--timeout", timeout]);
        assert.equal(result.status, 64, `${command[0]} --timeout ${timeout}: ${result.stderr}`);
        assert.match(
          result.stderr,
          new RegExp(`^mailpolicyd: ${said.source}\\n\\nUsage: mailpolicyd ${command[0]} `),
        );
      }
      // A valid one gets past the usage check: nothing listens, so the daemon cannot be reached.
      const valid = await cli([...command, "--socket", dir.file("absent.sock"), "--timeout", "1"]);
      assert.equal(valid.status, 2, `${command[0]} --timeout 1: ${valid.stderr}`);
    }
    assert.equal((await cli(["spf", "192.0.2.1", "a@example.org", "--timeout", "1s"])).status, 64);
  });

  it("lets check take both: it asks --socket, and reads [spf] from --config", async () => {
    const config = dir.file("spf.conf");
    writeFileSync(config, "[spf]\ntimeout = 2s\n");
    const result = await cli([
      "check",
      "alice@example.org",
      "--socket",
      dir.file("policy.sock"),
      "--config",
      config,
    ]);
    // Past the usage check: nothing listens on the socket, so the daemon cannot be reached.
    assert.equal(result.status, 2, result.stderr);
    assert.doesNotMatch(result.stderr, /not both/);
    assert.match(result.stderr, /policy\.sock/);
  });

  it("refuses a --config the snippet commands cannot read (exit 66) instead of printing the defaults", async () => {
    const unreadable = unreadableConfigs("config.fifo");
    const commands = [
      ["postfix-snippet", "--listen", "127.0.0.1:10040"],
      ["postfix-snippet"],
      ["exim-snippet", "--listen", "127.0.0.1:10037"],
      ["exim-snippet", "--plain"],
      ["exim-setup", "--add", "--confdir", dir.file("exim4")],
    ];
    for (const command of commands) {
      for (const [config, reason] of unreadable) {
        const result = await cli([...command, "--config", config]);
        const argv = [...command, "--config", config].join(" ");
        assert.equal(result.status, 66, argv);
        assert.equal(result.stdout, "", argv);
        assert.match(result.stderr, new RegExp(`^mailpolicyd ${command[0]}: cannot read `), argv);
        assert.match(result.stderr, reason, argv);
      }
    }
  });

  it("refuses a --config the client commands cannot read (exit 66) instead of asking the default socket", async () => {
    const unreadable = unreadableConfigs("client.fifo");
    const commands = [["status"], ["top"], ["show", "alice@example.org"], ["reset", "alice@example.org"], [
      "reload",
    ], ["check", "alice@example.org"]];
    for (const command of commands) {
      for (const [config, reason] of unreadable) {
        const argv = [...command, "--config", config];
        const result = await cli(argv);
        assert.equal(result.status, 66, argv.join(" "));
        assert.equal(result.stdout, "", argv.join(" "));
        // Not "mailpolicyd is not running (nothing listens on /run/mailpolicyd/control.sock)", the default.
        assert.match(result.stderr, new RegExp(`^mailpolicyd ${command[0]}: cannot read `), argv.join(" "));
        assert.match(result.stderr, reason, argv.join(" "));
      }
    }
  });

  // The daemon refuses such a file; a snippet with the default address instead would send every request
  // to a port nothing listens on, and Exim would accept all mail unasked (fail-open) without a word.
  it("refuses exim-snippet and exim-setup --add on a policy_listen that is no address (exit 1)", async () => {
    const config = dir.file("typo.conf");
    writeFileSync(config, "[daemon]\npolicy_listen = 127.0.0.1:99999\n");
    const problem = `${config}:2: daemon.policy_listen: port must be 0-65535\n`;
    const snippet = await cli(["exim-snippet", "--config", config]);
    assert.equal(snippet.status, 1, snippet.stdout);
    assert.equal(snippet.stdout, "");
    assert.equal(snippet.stderr, `mailpolicyd: ${problem}`);
    const setup = await cli(["exim-setup", "--add", "--config", config, "--confdir", dir.file("exim4")]);
    assert.equal(setup.status, 1, setup.stdout);
    assert.equal(setup.stderr, `mailpolicyd exim-setup: ${problem}`);
  });

  it("still prints the snippets from --listen alone, and from a readable --config", async () => {
    const config = dir.file("readable.conf");
    writeFileSync(config, "[postfix]\nidle_timeout = 120s\n");
    const postfix = await cli(["postfix-snippet", "--listen", "127.0.0.1:10040", "--config", config]);
    assert.equal(postfix.status, 0, postfix.stderr);
    assert.match(postfix.stdout, /inet:127\.0\.0\.1:10040/);
    assert.match(postfix.stdout, /max_idle=120s/);
    const exim = await cli(["exim-snippet", "--listen", "127.0.0.1:10037", "--config", config]);
    assert.equal(exim.status, 0, exim.stderr);
    assert.match(exim.stdout, /MAILPOLICYD_ADDRESS = inet:127\.0\.0\.1:10037/);
  });
});
