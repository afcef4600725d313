// The client commands (status, top, show, reset, reload, check) against a running daemon process, as a
// postmaster types them: sockets from --config or --socket, exit 0 / 1 (refused) / 2 (not running) / 64.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { VERSION } from "../../src/version.ts";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { mainCommand, ROOT } from "../helpers/runtime.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

function cli(args: string[]) {
  const [command, ...rest] = mainCommand(args);
  const result = spawnSync(command, rest, { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const SLOW = { timeout: 60_000 }; // every step spawns the CLI; Deno starts slower than Bun

const RCPT_A = ["rcpt", "sender=a@example.org", "recipient=x@example.net", "client_address=192.0.2.7"];
const DEFER_A =
  'action=defer message="a@example.org over limit: 3 messages in 1h (limit 2)" rule=outbound count=3 limit=2';

describe("client commands against a running daemon", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;
  let config: string;
  let controlSocket: string;
  // [thresholds] (strict, alert only) answers the one-token form and counts attribute requests too;
  // outbound is strict so the deferred request counts: a@ shows 3/2.
  const configText = (outboundCount: number) =>
    `[thresholds]\ntime = 1h\ncount = 3\n` +
    `[limit outbound]\nkey = sender\ncount = ${outboundCount}\ntime = 1h\nmode = strict\n` +
    `[limit net]\nkey = client_address/24\ncount = 100\ntime = 1h\naction = warn\n`;
  const withConfig = (...args: string[]) => cli([...args, "--config", config]);

  before(async () => {
    dir = makeTempDir();
    controlSocket = dir.file("control.sock");
    config = writeTestConfig(dir, configText(2));
    daemon = await startDaemonProcess(dir, config);
    await daemon.waitForLog(/info control: listening socket=/);
  }, SLOW);

  after(async () => {
    await daemon?.stop();
    dir?.remove();
  });

  it("check sends an attribute request to the policy socket and prints the reply", SLOW, () => {
    const replies = [1, 2, 3].map(() => withConfig("check", ...RCPT_A));
    for (const result of replies) assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(replies.map((result) => result.stdout), [
      "action=accept\n",
      "action=accept\n",
      `${DEFER_A}\n`,
    ]);

    const data = withConfig(
      "check",
      "data",
      "sender=a@example.org",
      "client_address=192.0.2.7",
      "subject=Hello world",
    );
    assert.equal(data.status, 0, data.stderr);
    assert.equal(data.stdout, "action=accept\n");
  });

  it("check with one token asks the [thresholds] limit and prints yes/no", SLOW, () => {
    const answers = [1, 2, 3, 4].map(() => withConfig("check", "alice@example.org"));
    for (const result of answers) assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(answers.map((result) => result.stdout), ["no\n", "no\n", "no\n", "yes\n"]);
  });

  it("status prints version, actors, requests and the top sender as COUNT/LIMIT", SLOW, () => {
    const result = withConfig("status");
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.split("\n");
    assert.match(
      lines[0],
      new RegExp(`^mailpolicyd ${VERSION.replace(/\./g, "\\.")}, pid ${daemon.pid}, up `),
    );
    assert.ok(lines[0].endsWith(`, config ${config}`), lines[0]);
    assert.equal(
      lines[1],
      "actors: counters active, alerter active, policy active, control active; restarts: 0",
    );
    assert.equal(lines[2], "concerns: limits ok");
    assert.match(lines[3], /^requests: 8 \(accept 7, defer 1\); /);
    assert.match(lines[4], /^tracked keys: 4; alerts sent 0, failed 0, parked 0, dropped 0, pending 0$/);
    const header = lines.findIndex((line) =>
      /^KEY\s+RULE\s+COUNT\/LIMIT\s+WINDOW\s+ACTION\s+STATE$/.test(line)
    );
    assert.ok(header > 0, result.stdout);
    // No [alerts]: the alert was only logged. Before: "(alert sent)".
    assert.match(
      lines[header + 1],
      /^a@example\.org\s+outbound\s+3\/2\s+1h\s+defer\s+over \(alert not sent\)$/,
    );
    assert.match(result.stdout, /^alice@example\.org\s+thresholds\s+4\/3\s+1h\s+alert\s+over/m);
    assert.match(result.stdout, /^RECENT ALERTS$/m);
  });

  it("status --json prints the control API's /status", SLOW, () => {
    const result = withConfig("status", "--json");
    assert.equal(result.status, 0, result.stderr);
    const status = JSON.parse(result.stdout);
    assert.equal(status.version, VERSION);
    assert.equal(status.config, config);
    assert.equal(status.requests.total, 8);
    assert.deepEqual(status.requests.byAction, { accept: 7, defer: 1 });
    assert.equal(status.trackedKeys, 4);
    assert.equal(status.topSenders[0].key, "a@example.org");
  });

  it("top -n 1 shows one row; --rule and --json narrow and change the output", SLOW, () => {
    const one = withConfig("top", "-n", "1");
    assert.equal(one.status, 0, one.stderr);
    const lines = one.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 2, one.stdout);
    assert.match(lines[0], /^KEY\s+RULE\s+COUNT\/LIMIT/);
    assert.match(lines[1], /^a@example\.org\s+outbound\s+3\/2\s/);

    const net = cli(["top", "--rule", "net", "--json", "--socket", controlSocket]);
    assert.equal(net.status, 0, net.stderr);
    assert.deepEqual(
      JSON.parse(net.stdout).map((row: { key: string; rule: string; count: number }) =>
        `${row.key} ${row.rule} ${row.count}`
      ),
      ["192.0.2.0/24 net 2"],
    );
  });

  it("top --rule with an unknown rule exits 1 and names the rules there are", SLOW, () => {
    const result = withConfig("top", "--rule", "nosuch");
    assert.equal(result.status, 1);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr, "mailpolicyd: no rule named nosuch; rules: thresholds, outbound, net\n");
  });

  it("show KEY prints the key's limits, subjects and client IPs; a key with a slash works", SLOW, () => {
    const result = withConfig("show", "a@example.org");
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^a@example\.org$/m);
    assert.match(
      result.stdout,
      /^ {2}rule outbound: 3\/2 per 1h \(fixed, action defer\), over \(alert not sent\)$/m,
    );
    assert.match(result.stdout, /^ {2}rule thresholds: 3\/3 per 1h \(fixed, action alert\), at limit$/m);
    assert.match(
      result.stdout,
      /^ {2}window start \d{4}-\d\d-\d\dT[\d:.]+Z, last seen \d{4}-\d\d-\d\dT[\d:.]+Z$/m,
    );
    assert.match(result.stdout, /^ {2}subjects: 1× Hello world$/m);
    assert.match(result.stdout, /^ {2}client IPs: 3× 192\.0\.2\.7$/m);

    const network = withConfig("show", "192.0.2.0/24");
    assert.equal(network.status, 0, network.stderr);
    assert.match(network.stdout, /^ {2}rule net: 2\/100 per 1h \(fixed, action warn\), ok$/m);

    const json = withConfig("show", "a@example.org", "--json");
    assert.equal(json.status, 0, json.stderr);
    assert.deepEqual(
      JSON.parse(json.stdout).limits.map((row: { rule: string }) => row.rule).sort(),
      ["outbound", "thresholds"],
    );
  });

  it("show and reset reach the keys `.` and `..` (no counter: exit 1), not another endpoint", SLOW, () => {
    for (const key of [".", ".."]) {
      for (const command of ["show", "reset"]) {
        const result = withConfig(command, key);
        assert.equal(result.status, 1, `${command} ${key}: ${result.stderr}`);
        assert.equal(result.stderr, `mailpolicyd: no counter for ${key}\n`);
      }
    }
  });

  // A key of four parts (sender+recipient+helo_name+sasl_username) of 255 characters that take three bytes
  // in UTF-8 is one a limit can count: percent-encoded, over 9 KiB, past the control listener's 8 KiB head.
  // The daemon waited for the rest of a head that was all there (408 after 10 s), and the CLI gave up after
  // 5 s: exit 2, "mailpolicyd did not answer", as if the daemon were down. A key longer than any a limit
  // counts (8 parts of 255) has no counter: said so, without asking (a head of any size is refused).
  it("show and reset of the longest keys get an answer; of a longer one, a clear 'no counter'", SLOW, () => {
    const part = "\u6f22".repeat(255);
    const key = [`${part}@example.org`.slice(0, 255), `${part}@example.net`.slice(0, 255), part, part].join(
      "|",
    );
    for (const command of ["show", "reset"]) {
      const result = withConfig(command, key);
      assert.equal(result.status, 1, `${command}: ${result.stderr}`);
      assert.equal(result.stderr, `mailpolicyd: no counter for ${key}\n`, command);
    }
    const longer = "a".repeat(2048);
    for (const command of ["show", "reset"]) {
      for (const tooLong of [longer, "\u6f22".repeat(20_000)]) {
        const result = withConfig(command, tooLong);
        assert.equal(result.status, 1, `${command}: ${result.stderr}`);
        assert.equal(
          result.stderr,
          `mailpolicyd: no counter for a key of ${tooLong.length} characters: no key is longer than 2047 ` +
            "(8 parts of at most 255; a longer value is counted as <too-long>)\n",
          command,
        );
      }
    }
  });

  // `reset "$KEY"` with $KEY empty said "no counter for " and exited 1, as if there were nothing to reset.
  it("show and reset of an empty KEY: a usage error (exit 64), not 'no counter for '", SLOW, () => {
    for (const command of ["show", "reset"]) {
      const result = withConfig(command, "");
      assert.equal(result.status, 64, `${command} '': ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`^mailpolicyd: ${command}: KEY is empty\n`));
    }
  });

  it("check quotes the values it sends: spaces, quotes and backslashes arrive as typed", SLOW, () => {
    const rcpt = withConfig("check", "rcpt", "sender=q@example.org", "recipient=x@example.net");
    assert.equal(rcpt.stdout, "action=accept\n", rcpt.stderr);
    const subject = 'two words, "quoted" \\o/';
    const data = withConfig("check", "data", "sender=q@example.org", `subject=${subject}`);
    assert.equal(data.status, 0, data.stderr);
    assert.equal(data.stdout, "action=accept\n", "not a bad request");
    assert.match(withConfig("show", "q@example.org").stdout, /^ {2}subjects: 1× two words, "quoted" \\o\/$/m);
  });

  it("reset KEY forgets the key: show then exits 1, a second reset exits 1, mail flows again", SLOW, () => {
    const reset = withConfig("reset", "a@example.org");
    assert.equal(reset.status, 0, reset.stderr);
    assert.equal(reset.stdout, "a@example.org: counters reset in 2 limit(s)\n");

    const show = withConfig("show", "a@example.org");
    assert.equal(show.status, 1);
    assert.equal(show.stdout, "");
    assert.equal(show.stderr, "mailpolicyd: no counter for a@example.org\n");

    const again = withConfig("reset", "a@example.org");
    assert.equal(again.status, 1);
    assert.equal(again.stderr, "mailpolicyd: no counter for a@example.org\n");

    assert.equal(withConfig("check", ...RCPT_A).stdout, "action=accept\n");
  });

  it("reload applies an edited config (exit 0)", SLOW, () => {
    writeTestConfig(dir, configText(1));
    const result = withConfig("reload");
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, `reloaded ${config}\n`);
    const rcpt = ["rcpt", "sender=c@example.org", "recipient=x@example.net"];
    assert.equal(withConfig("check", ...rcpt).stdout, "action=accept\n");
    assert.equal(
      withConfig("check", ...rcpt).stdout,
      'action=defer message="c@example.org over limit: 2 messages in 1h (limit 1)" rule=outbound count=2 limit=1\n',
    );
  });

  it("reload with a broken config exits 1 with the FILE:LINE errors and 'reload refused'", SLOW, () => {
    writeTestConfig(dir, `${configText(1)}[limit broken]\nkey = sender\ncount = zero\ntime = 1h\n`);
    const result = cli(["reload", "--socket", controlSocket]);
    assert.equal(result.status, 1);
    assert.equal(
      result.stderr,
      `mailpolicyd: ${config}:24: limit broken.count: expected a whole number\n` +
        "mailpolicyd: reload refused: the running config stays\n",
    );
    const rcpt = ["rcpt", "sender=d@example.org", "recipient=x@example.net", "--socket", daemon.policySocket];
    assert.equal(cli(["check", ...rcpt]).stdout, "action=accept\n");
    assert.match(
      cli(["check", ...rcpt]).stdout,
      / rule=outbound count=2 limit=1\n$/,
      "the running config stays",
    );
    writeTestConfig(dir, configText(1));
  });

  it("usage errors exit 64", SLOW, () => {
    const noKey = withConfig("show");
    assert.equal(noKey.status, 64);
    assert.match(noKey.stderr, /^mailpolicyd: show takes one KEY\n\nUsage: mailpolicyd show KEY/);

    // Over the API's bound: the daemon's 400 "top must be …" exited 1, as if it had refused something.
    const huge = withConfig("top", "-n", "20000");
    assert.equal(huge.status, 64, huge.stderr);
    assert.match(huge.stderr, /^mailpolicyd: -n takes a whole number from 1 to 10000\n/);
    const zero = withConfig("top", "-n", "zero");
    assert.equal(zero.status, 64);
    assert.match(
      zero.stderr,
      /^mailpolicyd: -n takes a whole number from 1 to 10000\n\nUsage: mailpolicyd top/,
    );
    assert.equal(withConfig("top", "-n", "0").status, 64);
    // `top --rule "$RULE"` with $RULE unset listed every rule's keys (exit 0), as if the rule had none over.
    for (const rule of ["", " "]) {
      const empty = withConfig("top", "--rule", rule);
      assert.equal(empty.status, 64, empty.stdout + empty.stderr);
      assert.match(empty.stderr, /^mailpolicyd: top: --rule NAME is empty\n\nUsage: mailpolicyd top/);
    }

    const noRequest = withConfig("check");
    assert.equal(noRequest.status, 64);
    assert.match(noRequest.stderr, /check needs a request/);
    const notPair = withConfig("check", "rcpt", "sender=a@example.org", "words");
    assert.equal(notPair.status, 64);
    assert.match(notPair.stderr, /^mailpolicyd: check: 'words' is not NAME=VALUE/);

    const badOption = withConfig("reset", "a@example.org", "--json");
    assert.equal(badOption.status, 64);
    assert.match(badOption.stderr, /option --json does not apply to reset/);
  });

  it("has --help for every client command", SLOW, () => {
    for (const command of ["status", "top", "show", "reset", "reload", "check"]) {
      const result = cli([command, "--help"]);
      assert.equal(result.status, 0, command);
      assert.match(result.stdout, new RegExp(`^Usage: mailpolicyd ${command}`), command);
    }
  });

  it("status and reload still reach the daemon when the config has an error elsewhere", SLOW, () => {
    writeTestConfig(dir, `${configText(1)}[limit broken]\nkey = sender\ncount = zero\ntime = 1h\n`);
    try {
      const status = withConfig("status", "--json");
      assert.equal(status.status, 0, status.stderr);
      assert.equal(JSON.parse(status.stdout).config, config);

      const reload = withConfig("reload");
      assert.equal(reload.status, 1);
      assert.match(reload.stderr, new RegExp(`:24: limit broken\\.count: expected a whole number\n`));
      assert.match(reload.stderr, /reload refused: the running config stays\n$/);
    } finally {
      writeTestConfig(dir, configText(1));
    }
  });

  it("exits 2 with 'is not running' when nothing listens on the socket", SLOW, () => {
    const absent = dir.file("absent.sock");
    const result = cli(["status", "--socket", absent]);
    assert.equal(result.status, 2);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr, `mailpolicyd: mailpolicyd is not running (nothing listens on ${absent})\n`);

    // A socket left by a daemon killed with SIGKILL, nobody listening: ECONNREFUSED.
    const stale = dir.file("stale.sock");
    const bound = spawnSync("python3", [
      "-c",
      "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])",
      stale,
    ]);
    assert.equal(bound.status, 0, String(bound.stderr));
    const refused = cli(["top", "--socket", stale]);
    assert.equal(refused.status, 2);
    assert.equal(refused.stderr, `mailpolicyd: mailpolicyd is not running (nothing listens on ${stale})\n`);
    const check = cli(["check", "someone@example.org", "--socket", stale]);
    assert.equal(check.status, 2);
    assert.equal(check.stderr, `mailpolicyd: mailpolicyd is not running (nothing listens on ${stale})\n`);
  });

  // The connect is refused as on a socket nobody listens on; "is not running" sent the postmaster after a
  // daemon that runs.
  it("exits 2 saying the path is no socket when --socket names the config file", SLOW, () => {
    for (const args of [["status"], ["check", "someone@example.org"]]) {
      const result = cli([...args, "--socket", config]);
      assert.equal(result.status, 2, args.join(" "));
      assert.equal(
        result.stderr,
        `mailpolicyd: ${config} is a regular file, not the daemon's socket: give its socket (or the config ` +
          "with --config)\n",
        args.join(" "),
      );
    }
  });

  it("exits 2 when the socket accepts but never answers", SLOW, async () => {
    const silent = dir.file("silent.sock");
    const server = net.createServer(() => {}).listen(silent);
    await new Promise((resolve) => server.once("listening", resolve));
    try {
      // spawnSync blocks this event loop: the kernel's backlog accepts the connection, nobody answers.
      // --timeout rather than the default 5s: the wait is the same code path, only shorter.
      for (const args of [["status"], ["check", "someone@example.org"]]) {
        const result = cli([...args, "--socket", silent, "--timeout", "300ms"]);
        assert.equal(result.status, 2, args.join(" "));
        const said = args[0] === "check" ? "no answer" : "mailpolicyd did not answer";
        assert.equal(result.stderr, `mailpolicyd: ${said} on ${silent} within 300ms\n`, args.join(" "));
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("exits 2 with what it got when something else answers on the socket (not JSON)", SLOW, async () => {
    const other = dir.file("other.sock");
    // A separate process: cli() blocks this one's event loop.
    const server = spawn("node", [
      "-e",
      `require("node:http").createServer((_, response) => {
      response.writeHead(200, { "content-type": "text/html" });
      response.end("<html>a web server</html>");
    }).listen(${JSON.stringify(other)}, () => console.log("listening"));`,
    ], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      await new Promise((resolve) => server.stdout!.once("data", resolve));
      for (const args of [["status"], ["top"], ["show", "a@example.org"], ["reset", "a@example.org"]]) {
        const result = cli([...args, "--socket", other]);
        assert.equal(result.status, 2, args.join(" "));
        assert.equal(
          result.stderr,
          `mailpolicyd: the answer on ${other} is not mailpolicyd's (not JSON): <html>a web server</html>\n`,
          args.join(" "),
        );
      }
    } finally {
      server.kill();
    }
  });

  // The daemon killed while it wrote, or something else on the socket: the connection closes before the
  // answer's end. Nothing was left to wait for, and every command exited 0 without a word (`reset` too).
  it("exits 2 saying so when the answer is cut short: half a body, a head alone", SLOW, async () => {
    const cut = dir.file("cut.sock");
    // A separate process: cli() blocks this one's event loop.
    const server = spawn("node", [
      "-e",
      `let n = 0;
      require("node:net").createServer((socket) => socket.once("data", () => socket.end(n++ % 2 === 0
        ? 'HTTP/1.1 200 OK\\r\\ncontent-length: 100\\r\\n\\r\\n{"key":"a@example.org","reset"'
        : "HTTP/1.1 200 OK\\r\\ntransfer-encoding: chunked\\r\\n\\r\\n"))
      ).listen(${JSON.stringify(cut)}, () => console.log("listening"));`,
    ], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      await new Promise((resolve) => server.stdout!.once("data", resolve));
      for (const args of [["status"], ["top"], ["show", "a@example.org"], ["reset", "a@example.org"]]) {
        const half = cli([...args, "--socket", cut]);
        assert.equal(half.status, 2, args.join(" "));
        assert.equal(half.stdout, "");
        assert.equal(
          half.stderr,
          `mailpolicyd: the answer on ${cut} was cut short: the connection closed after 30 of 100 bytes of ` +
            `its body (status 200): {"key":"a@example.org","reset"\n`,
          args.join(" "),
        );
        const headAlone = cli([...args, "--socket", cut]);
        assert.equal(headAlone.status, 2, args.join(" "));
        assert.equal(
          headAlone.stderr,
          `mailpolicyd: the answer on ${cut} was cut short: the connection closed after 0 bytes of its body ` +
            "(status 200)\n",
          args.join(" "),
        );
      }
    } finally {
      server.kill();
    }
  });

  // Both sockets lie side by side in /run/mailpolicyd: check given the control socket printed its HTTP 400
  // as the reply, with exit 0; status given the policy socket said "Parse Error: Expected HTTP/".
  it("check and status given each other's socket exit 2 and say which socket to give", SLOW, () => {
    const policySocket = dir.file("policy.sock");
    const check = cli(["check", "--socket", controlSocket, "alice@example.org"]);
    assert.equal(check.status, 2, check.stdout);
    assert.equal(check.stdout, "");
    assert.ok(
      check.stderr.startsWith(
        `mailpolicyd: the answer on ${controlSocket} is not mailpolicyd's (not a policy reply; it is an ` +
          "HTTP answer: give the policy socket): HTTP/1.1 400 Bad Request",
      ),
      check.stderr,
    );
    for (
      const args of [["status"], ["top"], ["show", "a@example.org"], ["reset", "a@example.org"], ["reload"]]
    ) {
      const result = cli([...args, "--socket", policySocket]);
      assert.equal(result.status, 2, args.join(" "));
      assert.match(
        result.stderr,
        new RegExp(
          `^mailpolicyd: the answer on ${policySocket} is not mailpolicyd's \\(not HTTP; it is a policy ` +
            "socket's: give the control socket\\): (error |action=)",
        ),
        args.join(" "),
      );
    }
  });

  it("exits 2 for every command once the daemon is stopped", SLOW, async () => {
    await daemon.stopCleanly();
    for (
      const args of [["status"], ["top"], ["show", "a@example.org"], ["reset", "a@example.org"], ["reload"]]
    ) {
      const result = withConfig(...args);
      assert.equal(result.status, 2, args.join(" "));
      assert.equal(
        result.stderr,
        `mailpolicyd: mailpolicyd is not running (nothing listens on ${controlSocket})\n`,
        args.join(" "),
      );
    }
    const check = withConfig("check", ...RCPT_A);
    assert.equal(check.status, 2);
    assert.equal(
      check.stderr,
      `mailpolicyd: mailpolicyd is not running (nothing listens on ${daemon.policySocket})\n`,
    );
  });
});
