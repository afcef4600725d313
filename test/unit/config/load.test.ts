import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ConfigResult, loadConfigFile, parseConfig } from "../../../src/config/load.ts";
import { MAX_CONFIG_BYTES } from "../../../src/config/config-file.ts";
import { EMBEDDED_CONFIG, EMBEDDED_CONFIG_NAME } from "../../../src/config/defaults.ts";
import { parseCidr } from "../../../src/model/ip.ts";
import type { Config } from "../../../src/config/types.ts";
import { type LimitConfig, noExemptions } from "../../../src/model/limit.ts";
import { makeCertificates } from "../../helpers/test-ca.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

const SEED_FILE = fileURLToPath(new URL("../../fixtures/sender_warn.conf", import.meta.url));
const SEED_TEXT = "[thresholds]\ntime = 300\ncount = 20\n[alerts]\nfromAddr = 'postmaster@example.org'\n" +
  "toAddr = 'boss@example.org'\nccAddr = 'it@example.org'\nsubject = 'Mail Abuse Alert'\n";

/** The seed's [thresholds] as a limit: a fixed window per sender that alerts and answers the legacy form. */
function thresholdsLimit(count = 20, windowMs = 300_000, window = "300s"): LimitConfig {
  return {
    name: "thresholds",
    key: [{ kind: "sender" }],
    keyText: "sender",
    count,
    windowMs,
    window,
    per: "message",
    algorithm: "fixed",
    burst: count,
    mode: "strict",
    action: "alert",
    exempt: noExemptions(),
    stage: "rcpt",
    alert: true,
    legacy: true,
  };
}
const SEED_LIMIT = thresholdsLimit();

/** A limit without its unset optional fields, so `message: undefined` and a missing message compare equal. */
function plain(limit: LimitConfig): Partial<LimitConfig> {
  return Object.fromEntries(Object.entries(limit).filter(([, value]) => value !== undefined));
}

function loaded(result: ConfigResult): Config {
  if (!result.ok) throw new Error(`config rejected:\n${result.errors.join("\n")}`);
  return result.config;
}

function limitsOf(text: string): Partial<LimitConfig>[] {
  return loaded(parseConfig(text, "t.conf", "/")).limits.map(plain);
}

function errorsOf(text: string): string[] {
  const result = parseConfig(text, "t.conf", "/base");
  if (result.ok) throw new Error("config accepted");
  // FILE:LINE: section.key: problem — a limit's section name has a blank: "limit x.count", "[limit a b]".
  for (const error of result.errors) {
    assert.match(error, /^t\.conf:\d+: (?:\[limit [^\]]+\]|limit \S+|\S+): \S.*$/);
  }
  return result.errors;
}

describe("loadConfigFile: the seed sender_warn.conf", () => {
  it("is the seed, byte for byte", () => {
    assert.equal(readFileSync(SEED_FILE, "utf8"), SEED_TEXT);
  });

  it("loads unchanged and means what the seed meant", () => {
    const config = loaded(loadConfigFile(SEED_FILE));
    assert.equal(config.file, SEED_FILE);
    assert.deepEqual(config.limits.map(plain), [SEED_LIMIT]);
    assert.ok(config.alerts);
    assert.equal(config.alerts.from, "postmaster@example.org");
    assert.deepEqual(config.alerts.to, ["boss@example.org"]);
    assert.deepEqual(config.alerts.cc, ["it@example.org"]);
    assert.equal(config.alerts.subject, "Mail Abuse Alert");
    assert.equal(config.alerts.sendmail, undefined);
  });
});

describe("loadConfigFile", () => {
  it("names the file, at line 0, when it cannot be read", () => {
    const file = join(tmpdir(), "mailpolicyd-no-such-dir", "missing.conf");
    const result = loadConfigFile(file);
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.ok(result.errors[0].startsWith(`${file}:0: (file): cannot read`), result.errors[0]);
    }
    // A symbolic link to a file moved away: `ls` shows it, so not "no such file or directory".
    const dir = makeTempDir("mailpolicyd-load-");
    try {
      const link = dir.file("mailpolicyd.conf");
      symlinkSync("/srv/config/mailpolicyd.conf", link);
      assert.deepEqual(loadConfigFile(link), {
        ok: false,
        errors: [
          `${link}:0: (file): cannot read: is a symbolic link to /srv/config/mailpolicyd.conf, which leads to no file`,
        ],
      });
    } finally {
      dir.remove();
    }
  });

  it("refuses a file that is not UTF-8, naming the line of the first bad byte", () => {
    const dir = mkdtempSync(join(tmpdir(), "mailpolicyd-load-"));
    try {
      const file = join(dir, "latin1.conf");
      // A Latin-1 editor's `é` (0xe9): read leniently it became U+FFFD in every alert's subject (and in a
      // content rule's pattern, which then matched nothing).
      const text =
        "[thresholds]\ntime = 300\n[alerts]\nsubject = Alerte caf\u00e9\nfromAddr = a@x\ntoAddr = b@x\n";
      writeFileSync(file, Buffer.from(text, "latin1"));
      const result = loadConfigFile(file);
      assert.equal(result.ok, false);
      if (!result.ok) {
        assert.deepEqual(result.errors, [
          `${file}:4: (file): not UTF-8 ` +
          "(save the file as UTF-8, e.g. iconv -f latin1 -t utf-8)",
        ]);
      }
      // In a comment, whole-line or inline, a Latin-1 byte changes nothing: a config that ran before keeps
      // running (its comments read with U+FFFD, which nothing uses).
      const commented = "# Grüße\n[thresholds]\ntime = 300 ; café\ncount = 5\n";
      writeFileSync(file, Buffer.from(commented, "latin1"));
      assert.equal(loaded(loadConfigFile(file)).limits[0].count, 5);
      writeFileSync(file, text); // the same text in UTF-8 loads, keeping the é
      assert.equal(loaded(loadConfigFile(file)).alerts?.subject, "Alerte caf\u00e9");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a file larger than a config may be, unread, and reads one of that size", () => {
    const dir = makeTempDir("mailpolicyd-load-");
    try {
      // A disk image or a log copied over the config, as a sparse file takes no disk: read whole, Bun decoded
      // its 3 GiB as empty text (config-test said OK; a reload put the defaults in place of every limit), and
      // Deno threw after 100 s and 9.5 GB.
      const huge = dir.file("huge.conf");
      writeFileSync(huge, "[thresholds]\ncount = 5\n");
      truncateSync(huge, 3 * 1024 ** 3);
      assert.deepEqual(loadConfigFile(huge), {
        ok: false,
        errors: [
          `${huge}:0: (file): cannot read: 3221225472 bytes, more than the 16 MiB a config file may hold`,
        ],
      });
      const largest = dir.file("largest.conf");
      const head = "[thresholds]\ncount = 5\n";
      writeFileSync(largest, head + "#".repeat(MAX_CONFIG_BYTES - head.length - 1) + "\n");
      assert.equal(loaded(loadConfigFile(largest)).limits[0].count, 5);
    } finally {
      dir.remove();
    }
  });

  it("refuses a state_file or pidfile where something other than a file lies, at its line", () => {
    const dir = makeTempDir("mailpolicyd-load-");
    try {
      // `run` refused these, but config-test said OK: the init script's restart, which checks the config
      // before it stops anything, stopped the daemon and started none.
      mkdirSync(dir.file("state"));
      execFileSync("mkfifo", [dir.file("fifo")]);
      writeFileSync(dir.file("plain"), "");
      const file = dir.file("mpd.conf");
      const errors = (daemon: string) => {
        writeFileSync(file, `[daemon]\n${daemon}`);
        const result = loadConfigFile(file);
        return result.ok ? [] : result.errors;
      };
      assert.deepEqual(errors("state_file = state\npidfile = fifo\n"), [
        `${file}:2: daemon.state_file: ${dir.file("state")} is a directory, not a regular file ` +
        `(name a file in it: ${dir.file("state/state.json")})`,
        `${file}:3: daemon.pidfile: ${dir.file("fifo")} is a FIFO (named pipe), not a regular file`,
      ]);
      assert.deepEqual(
        errors(`pidfile = ${dir.file("plain/run/x.pid")}\nstate_file = ${dir.path}/state.json\n`),
        [
          `${file}:2: daemon.pidfile: its folder ${dir.file("plain")} is a regular file`,
        ],
      );
      // A regular file, or none yet (made at start): as before.
      assert.deepEqual(errors("state_file = plain\npidfile = run/x.pid\n"), []);
    } finally {
      dir.remove();
    }
  });

  it("says NUL bytes are no text, and writes out the control characters of what it names", () => {
    const dir = makeTempDir("mailpolicyd-load-");
    try {
      // A file zeroed by a crash: "FILE:1: <40 NUL bytes>: expected `key = value`", its key invisible.
      const zeroed = dir.file("zeroed.conf");
      writeFileSync(zeroed, Buffer.alloc(4096));
      assert.deepEqual(loadConfigFile(zeroed), {
        ok: false,
        errors: [`${zeroed}:1: (file): NUL bytes: this is not a line of text (a file zeroed by a crash?)`],
      });
      // The zeros after the last line a crash kept: that line on; the lines before are read as ever.
      const tail = dir.file("tail.conf");
      writeFileSync(tail, Buffer.concat([Buffer.from("[thresholds]\ncount = 5\n"), Buffer.alloc(100)]));
      assert.deepEqual(loadConfigFile(tail), {
        ok: false,
        errors: [`${tail}:3: (file): NUL bytes: this is not a line of text (a file zeroed by a crash?)`],
      });
    } finally {
      dir.remove();
    }
    // An ESC sequence in a section name cleared the terminal config-test printed it to.
    assert.deepEqual(errorsOf("[x\x1b[2Jy]\nk = v\n").map((error) => error.split(": unknown")[0]), [
      "t.conf:1: [x\\x1b[2jy]",
    ]);
  });

  it("refuses a file of nothing but blank lines and comments: an empty or truncated one", () => {
    const dir = makeTempDir("mailpolicyd-load-");
    try {
      // Read as the defaults, a save that failed on a full disk had a reload drop every limit.
      const file = dir.file("empty.conf");
      const problem = "(file): no [section], nothing but blank lines and comments: an empty or truncated " +
        "file? For the defaults, write [daemon]";
      for (const text of ["", "\n\n", "# [limit outbound]\n  ; count = 5\r\n", "\uFEFF"]) {
        writeFileSync(file, text);
        assert.deepEqual(loadConfigFile(file), { ok: false, errors: [`${file}:1: ${problem}`] }, text);
      }
      writeFileSync(file, "# the defaults\n[daemon]\n");
      assert.equal(loaded(loadConfigFile(file)).limits[0].name, "thresholds");
    } finally {
      dir.remove();
    }
  });

  it("resolves relative paths against the config file's folder", () => {
    const dir = mkdtempSync(join(tmpdir(), "mailpolicyd-load-"));
    try {
      mkdirSync(join(dir, "etc"));
      const file = join(dir, "etc", "mpd.conf");
      writeFileSync(file, "[daemon]\nstate_file = ../var/state.json\npidfile = /run/x.pid\n");
      const config = loaded(loadConfigFile(file));
      assert.equal(config.daemon.stateFile, join(dir, "var", "state.json"));
      assert.equal(config.daemon.pidfile, "/run/x.pid");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("parseConfig", () => {
  it("lists the errors in file order, whichever check found them", () => {
    const text =
      "[daemon]\ncolour = blue\n[limit x]\ncount = many\ntime = 1h\n[thresholds]\ntime = 5\ntime = 6\n";
    const result = parseConfig(text, "t.conf", "/");
    assert.equal(result.ok, false);
    assert.deepEqual(
      (result as { errors: string[] }).errors.map((error) => error.split(":").slice(0, 2).join(":")),
      ["t.conf:2", "t.conf:4", "t.conf:8"],
    );
  });

  it("resolves relative paths (sockets, pidfile, state, sendmail) against baseDir", () => {
    const config = loaded(parseConfig(
      "[daemon]\npolicy_socket = run/p.sock\ncontrol_socket = ./c.sock\npidfile = /abs/x.pid\n" +
        "state_file = s.json\n[alerts]\nfromAddr = a@x\ntoAddr = b@x\nsendmail = bin/sendmail\n",
      "t.conf",
      "/srv/mpd",
    ));
    assert.equal(config.daemon.policySocket, "/srv/mpd/run/p.sock");
    assert.equal(config.daemon.controlSocket, "/srv/mpd/c.sock");
    assert.equal(config.daemon.pidfile, "/abs/x.pid");
    assert.equal(config.daemon.stateFile, "/srv/mpd/s.json");
    assert.equal(config.alerts?.sendmail, "/srv/mpd/bin/sendmail");
  });

  it("fills in defaults: no [alerts] means no alert mail, no [thresholds] means the seed's limit", () => {
    const config = loaded(parseConfig("", "t.conf", "/"));
    assert.equal(config.alerts, undefined);
    assert.deepEqual(config.limits.map(plain), [SEED_LIMIT]);
    assert.equal(config.daemon.failMode, "open");
    assert.equal(config.daemon.logLevel, "info");
    assert.equal(config.daemon.socketMode, 0o660);
  });

  it("converts values, matching section and key names case-insensitively", () => {
    const config = loaded(parseConfig(
      "[Thresholds]\nTIME = 5m\ncount = 3\n[DAEMON]\nlog_level = WARN\nfail_mode = closed\nsocket_mode = 0600\n",
      "t.conf",
      "/",
    ));
    assert.deepEqual(config.limits.map(plain), [thresholdsLimit(3, 300_000, "5m")]);
    assert.equal(config.daemon.logLevel, "warn");
    assert.equal(config.daemon.failMode, "closed");
    assert.equal(config.daemon.socketMode, 0o600);
  });

  it("[limits]: the concern's timeout (1s by default) and fail_mode, which follows [daemon] fail_mode unless set", () => {
    const concern = (text: string) => loaded(parseConfig(text, "t.conf", "/")).concerns.limits;
    assert.deepEqual(concern(""), { timeoutMs: 1000, failMode: "open" });
    assert.deepEqual(concern("[daemon]\nfail_mode = closed\n"), { timeoutMs: 1000, failMode: "closed" });
    assert.deepEqual(
      concern("[daemon]\nfail_mode = closed\n[limits]\nfail_mode = open\ntimeout = 250ms\n"),
      { timeoutMs: 250, failMode: "open" },
    );
    assert.match(errorsOf("[limits]\ntimeout = 5ms\n")[0], /^t\.conf:2: limits\.timeout: /);
    assert.match(errorsOf("[limits]\nfail_mode = maybe\n")[0], /^t\.conf:2: limits\.fail_mode: /);
  });

  it("names the right line of a file with lone CR line endings (old Mac), as of LF and CRLF", () => {
    for (const end of ["\r", "\n", "\r\n"]) {
      const errors = errorsOf(
        ["[limits]", "# the timeout", "timeout = 5ms", "fail_mode = maybe", ""].join(end),
      );
      assert.match(errors[0], /^t\.conf:3: limits\.timeout: /, JSON.stringify(end));
      assert.match(errors[1], /^t\.conf:4: limits\.fail_mode: /, JSON.stringify(end));
    }
  });

  it("listens on loopback TCP 127.0.0.1:10037 for Exim unless policy_listen says otherwise", () => {
    const address = (text: string) => loaded(parseConfig(text, "t.conf", "/")).daemon.policyListen;
    assert.deepEqual(address(""), { hostname: "127.0.0.1", port: 10037 });
    assert.deepEqual(address("[daemon]\npolicy_listen = [::1]:2500\n"), { hostname: "::1", port: 2500 });
    assert.equal(address("[daemon]\npolicy_listen = none\n"), undefined);
    assert.deepEqual(errorsOf("[daemon]\npolicy_listen = 0.0.0.0:10037\n"), [
      't.conf:2: daemon.policy_listen: expected a loopback HOST:PORT such as 127.0.0.1:10037, or "none"',
    ]);
    assert.deepEqual(errorsOf("[daemon]\npolicy_listen = 127.0.0.1:70000\n"), [
      "t.conf:2: daemon.policy_listen: port must be 0-65535",
    ]);
  });

  // With Debian's /etc/hosts (127.0.0.1 and ::1 localhost), Bun bound `localhost` to [::1] only and Deno to
  // 127.0.0.1 only, and an Exim with disable_ipv6 = true (or a Postfix with inet_protocols = ipv4) asked
  // 127.0.0.1 alone: every request took the fail-open way. Read as 127.0.0.1, where every client that asks
  // `localhost` tries, with a warning at each line; refused, an upgraded daemon would not start.
  it("reads localhost in every listen address as 127.0.0.1, with a warning", () => {
    const result = parseConfig(
      "[daemon]\npolicy_listen = localhost:10037\ncontrol_listen = LOCALHOST:8025\n" +
        "[postfix]\nlisten = localhost:10038\n[spamd]\nlisten = localhost:10783\n",
      "t.conf",
      "/",
    );
    const config = loaded(result);
    assert.deepEqual(config.daemon.policyListen, { hostname: "127.0.0.1", port: 10037 });
    assert.deepEqual(config.daemon.controlListen, { hostname: "127.0.0.1", port: 8025 });
    assert.deepEqual(config.postfix?.listen, { hostname: "127.0.0.1", port: 10038 });
    assert.deepEqual(config.spamd?.listen, { hostname: "127.0.0.1", port: 10783 });
    const why = "localhost is read as 127.0.0.1 (by /etc/hosts, the runtime and the MTA it may name ::1 on " +
      "one side and 127.0.0.1 on the other): write 127.0.0.1:PORT, and ask there";
    assert.deepEqual(result.ok && result.warnings, [
      `t.conf:2: daemon.policy_listen: warning: ${why}`,
      `t.conf:3: daemon.control_listen: warning: ${why}`,
      `t.conf:5: postfix.listen: warning: ${why}`,
      `t.conf:7: spamd.listen: warning: ${why}`,
    ]);
    const plain = parseConfig("[daemon]\npolicy_listen = 127.0.0.1:10037\n", "t.conf", "/");
    assert.deepEqual(plain.ok && plain.warnings, [], "an address is not warned about");
  });

  // A sendmail path that runs nothing was accepted by config-test, the start and a reload: each alert then
  // failed when sent, hours later. Warned at the key's line (config/sendmail-path.ts says why not refused).
  it("warns at its line about a sendmail that is absent, a folder or not executable", () => {
    const dir = mkdtempSync(join(tmpdir(), "mpd-sendmail-"));
    try {
      writeFileSync(join(dir, "plain"), "#!/bin/sh\n");
      chmodSync(join(dir, "plain"), 0o644);
      writeFileSync(join(dir, "program"), "#!/bin/sh\ncat >/dev/null\n");
      chmodSync(join(dir, "program"), 0o755);
      symlinkSync(join(dir, "program"), join(dir, "linked"));
      const warnings = (sendmail: string) => {
        const result = parseConfig(
          `[alerts]\nfromAddr = a@x\ntoAddr = b@x\nsendmail = ${sendmail}\n`,
          "t.conf",
          dir,
        );
        loaded(result);
        return result.ok && result.warnings;
      };
      const fails = "every alert would fail when sent";
      assert.deepEqual(warnings("/nonexistent/sendmail"), [
        `t.conf:4: alerts.sendmail: warning: /nonexistent/sendmail does not exist; ${fails}`,
      ]);
      assert.deepEqual(warnings("absent"), [
        `t.conf:4: alerts.sendmail: warning: ${join(dir, "absent")} does not exist; ${fails}`,
      ]);
      assert.deepEqual(warnings(dir), [
        `t.conf:4: alerts.sendmail: warning: ${dir} is a directory, not a program; ${fails}`,
      ]);
      assert.deepEqual(warnings("plain"), [
        `t.conf:4: alerts.sendmail: warning: ${
          join(dir, "plain")
        } is not executable (no x bit in its mode); ${fails}`,
      ]);
      assert.deepEqual(warnings("program"), [], "an executable file is not warned about");
      assert.deepEqual(warnings("linked"), [], "nor a symlink to one, as /usr/sbin/sendmail often is");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // A CA file rotated in place and left gone or garbage was accepted by config-test without a word: the
  // connection made with it then failed (alerts) or went on with the old CA (Redis, a reload). Warned at the
  // key's line, as the sendmail path above.
  it("warns at its line about a tls_ca_file that is gone or holds no certificate", () => {
    const temp = makeTempDir("mpd-ca-");
    const dir = temp.path;
    try {
      writeFileSync(join(dir, "garbage.pem"), "<html>502 Bad Gateway</html>\n");
      const warnings = (text: string) => {
        const result = parseConfig(text, "t.conf", dir);
        loaded(result);
        return result.ok && result.warnings;
      };
      // [redis]'s for config-test alone: the daemon's connection says it, with what it does instead.
      const redis = (ca: string) => {
        const result = parseConfig(
          `[redis]\nurl = rediss://redis.example.org\ntls_ca_file = ${ca}\n`,
          "t.conf",
          dir,
        );
        loaded(result);
        assert.deepEqual(result.ok && result.warnings, [], "not logged by the daemon");
        return result.ok && result.configTestWarnings;
      };
      const kept = "Redis's certificate would be checked against the system's CAs at a start, and a reload " +
        "keeps the CA the connection has";
      assert.deepEqual(redis("garbage.pem"), [
        `t.conf:3: redis.tls_ca_file: warning: cannot use ${join(dir, "garbage.pem")}: it holds no PEM ` +
        `certificate; ${kept}`,
      ]);
      assert.match(
        String(redis("absent.pem")),
        /^t\.conf:3: redis\.tls_ca_file: warning: cannot read .*absent\.pem: .*ENOENT.*; Redis's certificate/,
      );
      const alerts = (ca: string) =>
        warnings(
          `[alerts]\nfromAddr = a@x\ntoAddr = b@x\nsmtp_host = smtp.example.net\nauth_user = u\n` +
            `auth_password = p\ntls_ca_file = ${ca}\n`,
        );
      assert.deepEqual(alerts("garbage.pem"), [
        `t.conf:7: alerts.tls_ca_file: warning: cannot use ${join(dir, "garbage.pem")}: it holds no PEM ` +
        "certificate; every alert would fail when sent",
      ]);
      // With tls_verify = no the file is never read and every alert goes out: no failure to warn of, but a
      // key that does nothing.
      const unchecked = (ca: string) =>
        warnings(
          `[alerts]\nfromAddr = a@x\ntoAddr = b@x\nsmtp_host = smtp.example.net\nauth_user = u\n` +
            `auth_password = p\ntls_verify = no\ntls_ca_file = ${ca}\n`,
        );
      const unread = "t.conf:8: alerts.tls_ca_file: warning: not read with tls_verify = no: the relay's " +
        "certificate is not checked";
      assert.deepEqual(unchecked("garbage.pem"), [unread]);
      makeCertificates(temp);
      assert.deepEqual(redis("ca.pem"), [], "a CA certificate is not warned about");
      assert.deepEqual(alerts("ca.pem"), [], "nor for the relay");
      assert.deepEqual(unchecked("ca.pem"), [unread]);
    } finally {
      temp.remove();
    }
  });

  it("never lets retry_max fall below retry_min", () => {
    const config = loaded(
      parseConfig("[alerts]\nfromAddr = a@x\ntoAddr = b@x\nretry_min = 5m\nretry_max = 1m\n", "t.conf", "/"),
    );
    assert.equal(config.alerts?.retryMinMs, 300_000);
    assert.equal(config.alerts?.retryMaxMs, 300_000);
    assert.equal(config.alerts?.exemptAlerts, true, "the daemon's own alerts are exempt by default");
  });

  it("bounds the alert queue by default, with or without [alerts], and checks each number's range", () => {
    const defaults = {
      outboxMax: 1000,
      digestAfter: 10,
      digestWindowMs: 60_000,
      retryForMs: 86_400_000,
      parkedMax: 100,
    };
    assert.deepEqual(loaded(parseConfig("[thresholds]\ncount = 5\n", "t.conf", "/")).alertQueue, defaults);
    assert.deepEqual(
      loaded(parseConfig("[alerts]\nfromAddr = a@x\ntoAddr = b@x\n", "t.conf", "/")).alertQueue,
      defaults,
    );
    const set = loaded(parseConfig(
      "[alerts]\nfromAddr = a@x\ntoAddr = b@x\noutbox_max = 50\ndigest_after = 1\ndigest_window = 2s\n" +
        "retry_for = 1h\nparked_max = 5\n",
      "t.conf",
      "/",
    ));
    assert.deepEqual(set.alertQueue, {
      outboxMax: 50,
      digestAfter: 1,
      digestWindowMs: 2000,
      retryForMs: 3_600_000,
      parkedMax: 5,
    });
    assert.deepEqual(
      errorsOf(
        "[alerts]\nfromAddr = a@x\ntoAddr = b@x\noutbox_max = 5\ndigest_after = 0\ndigest_window = 2h\n" +
          "retry_for = 31d\nparked_max = 10001\n",
      ),
      [
        "t.conf:4: alerts.outbox_max: must be at least 10",
        "t.conf:5: alerts.digest_after: must be at least 1",
        "t.conf:6: alerts.digest_window: must be at most 1h",
        "t.conf:7: alerts.retry_for: must be at most 30d",
        "t.conf:8: alerts.parked_max: must be at most 10000",
      ],
    );
  });

  it("reports an unknown section at its header line", () => {
    const errors = errorsOf("[thresholds]\ncount = 20\n\n[limitz]\nx = 1\n");
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^t\.conf:4: \[limitz\]: unknown section\b/);
  });

  it("reports an unknown key at its line, named section.key", () => {
    const errors = errorsOf("[daemon]\nlog_level = info\ncolour = blue\n");
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^t\.conf:3: daemon\.colour: unknown key\b/);
  });

  it("reports bad values at their line with the converter's message", () => {
    const errors = errorsOf(
      "[thresholds]\ntime = 0.5\ncount = many\n[alerts]\nfromAddr = nobody\ntoAddr = b@x\nsmtp_port = 70000\n",
    );
    assert.deepEqual(errors.slice().sort(), [
      "t.conf:2: thresholds.time: must be at least 1000 ms",
      "t.conf:3: thresholds.count: expected a whole number",
      "t.conf:5: alerts.fromAddr: expected an e-mail address",
      "t.conf:7: alerts.smtp_port: must be at most 65535",
    ]);
  });

  it("refuses a smtp_host no connection can take: with its port, in brackets, a URL", () => {
    // Postfix's relayhost form, or the port written with the host: each was looked up as a name, and every
    // alert failed with ENOTFOUND, retried for a day, while config-test said OK.
    const alerts = "[alerts]\nfromAddr = a@x\ntoAddr = b@x\nsmtp_host = ";
    const refused = [
      [
        "[smtp.example.net]:587",
        "the port goes in smtp_port: write smtp.example.net here and smtp_port = 587",
      ],
      ["127.0.0.1:2525", "the port goes in smtp_port: write 127.0.0.1 here and smtp_port = 2525"],
      ["[::1]", "write the host without brackets: ::1 (no MX lookup is made either way)"],
      ["smtp://smtp.example.net", "a host name or IP address, not a URL"],
      ["smtp example.net", "expected a host name or IP address, such as smtp.example.net"],
    ];
    for (const [host, problem] of refused) {
      assert.deepEqual(errorsOf(`${alerts}${host}\n`), [`t.conf:4: alerts.smtp_host: ${problem}`], host);
    }
    for (const host of ["smtp.example.net", "smtp.example.net.", "localhost", "192.0.2.25", "2001:db8::25"]) {
      const result = parseConfig(`${alerts}${host}\n`, "t.conf", "/etc/mailpolicyd");
      assert.ok(result.ok, JSON.stringify(result));
      assert.equal(result.config.alerts?.smtpHost, host);
    }
  });

  it("refuses every duration over its documented maximum, so no timer gets a delay it would wrap", () => {
    const errors = errorsOf(
      "[daemon]\nstate_interval = 25d\nrequest_timeout = 11m\n" +
        "[alerts]\nfromAddr = a@x\ntoAddr = b@x\nsmtp_timeout = 1h\nretry_min = 25d\nretry_max = 2d\n" +
        "[thresholds]\ntime = 31d\n[limit out]\ncount = 5\ntime = 1000d\n",
    );
    assert.deepEqual(errors.slice().sort(), [
      "t.conf:11: thresholds.time: must be at most 30d",
      "t.conf:14: limit out.time: must be at most 30d",
      "t.conf:2: daemon.state_interval: must be at most 1h",
      "t.conf:3: daemon.request_timeout: must be at most 10m",
      "t.conf:7: alerts.smtp_timeout: must be at most 10m",
      "t.conf:8: alerts.retry_min: must be at most 1d",
      "t.conf:9: alerts.retry_max: must be at most 1d",
    ]);
  });

  it("accepts every duration at its documented maximum", () => {
    const config = loaded(parseConfig(
      "[daemon]\nstate_interval = 1h\nrequest_timeout = 10m\n" +
        "[alerts]\nfromAddr = a@x\ntoAddr = b@x\nsmtp_timeout = 10m\nretry_min = 1d\nretry_max = 24h\n" +
        "[thresholds]\ntime = 30d\n",
      "t.conf",
      "/",
    ));
    assert.equal(config.daemon.stateIntervalMs, 3_600_000);
    assert.equal(config.alerts?.retryMaxMs, 86_400_000);
    assert.equal(config.limits[0].windowMs, 30 * 86_400_000);
  });

  it("reports missing required keys at the section's header line", () => {
    const errors = errorsOf("# alerts\n[daemon]\n[alerts]\nsubject = x\n");
    assert.deepEqual(errors.slice().sort(), [
      "t.conf:3: alerts.fromaddr: required key missing",
      "t.conf:3: alerts.toaddr: required key missing",
    ]);
  });

  it("reports a present but invalid required key as invalid, not as missing", () => {
    const errors = errorsOf("[alerts]\nfromAddr = x\ntoAddr = b@x\n");
    assert.deepEqual(errors, ["t.conf:2: alerts.fromAddr: expected an e-mail address"]);
  });

  it("reports a repeated key at the repeat's line, naming the first", () => {
    const errors = errorsOf("[thresholds]\ncount = 20\ntime = 300\ncount = 30\n");
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^t\.conf:4: (thresholds\.)?count: key repeated \(first at line 2\)$/);
  });

  it("reports a repeated section at the repeat's line", () => {
    const errors = errorsOf("[daemon]\n[thresholds]\n[daemon]\n");
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^t\.conf:3: \[daemon\]: section repeated \(first at line 1\)$/);
  });

  it("reports every problem of a file, not only the first", () => {
    const errors = errorsOf("stray = 1\n[daemon]\nfail_mode = maybe\n[extra]\n[thresholds]\ncount = 0\n");
    assert.deepEqual(errors.map((e) => Number(e.split(":")[1])).sort(), [1, 3, 4, 6]);
  });

  // An empty list would load and then make every alert fail ("no recipients") and retry forever.
  it("rejects an empty toAddr: an alert needs at least one recipient", () => {
    const errors = errorsOf("[alerts]\nfromAddr = a@x\ntoAddr =\n");
    assert.equal(errors.length, 1);
    assert.ok(errors[0].startsWith("t.conf:3: alerts.toAddr: "), errors[0]);
  });
});

describe("the embedded default config", () => {
  it("parses, with paths under baseDir and the seed's limit", () => {
    const config = loaded(parseConfig(EMBEDDED_CONFIG, EMBEDDED_CONFIG_NAME, "/srv/mpd"));
    assert.equal(config.file, EMBEDDED_CONFIG_NAME);
    assert.equal(config.daemon.policySocket, "/srv/mpd/run/policy.sock");
    assert.equal(config.daemon.controlSocket, "/srv/mpd/run/control.sock");
    assert.equal(config.daemon.pidfile, "/srv/mpd/run/mailpolicyd.pid");
    assert.equal(config.daemon.stateFile, "/srv/mpd/run/state.json");
    assert.equal(config.daemon.failMode, "open");
    assert.equal(config.alerts, undefined);
    assert.deepEqual(config.limits.map(plain), [SEED_LIMIT]);
  });

  it("has a commented [alerts] example that is valid once uncommented", () => {
    const [head, tail] = EMBEDDED_CONFIG.split("# [alerts]");
    assert.ok(tail !== undefined, "no commented [alerts] section");
    const config = loaded(parseConfig(head + "[alerts]" + tail.replace(/^# /gm, ""), "t.conf", "/"));
    assert.equal(config.alerts?.from, "postmaster@localhost");
    assert.deepEqual(config.alerts?.to, ["postmaster@localhost"]);
  });
});

describe("parseConfig: [limit NAME] sections", () => {
  it("a limit with only count and time gets the documented defaults", () => {
    assert.deepEqual(limitsOf("[limit outbound]\ncount = 20\ntime = 5m\n"), [{
      name: "outbound",
      key: [{ kind: "sender" }],
      keyText: "sender",
      count: 20,
      windowMs: 300_000,
      window: "5m",
      per: "message",
      algorithm: "fixed",
      burst: 20,
      mode: "leaky",
      action: "defer",
      exempt: noExemptions(),
      stage: "rcpt",
      alert: true,
      legacy: false,
    }]);
  });

  it("reads every key of a limit", () => {
    const [limit] = limitsOf(
      "[limit per-user.1]\nkey = sasl_username + sender_domain\ncount = 100\ntime = 1h\nper = recipient\n" +
        "algorithm = bucket\nburst = 150\nmode = strict\naction = reject\nmessage = too much mail from {key}\n" +
        "exempt = boss@example.org, @example.net, 192.0.2.0/24\nstage = data\nalert = no\n",
    );
    assert.deepEqual(limit, {
      name: "per-user.1",
      key: [{ kind: "sasl_username" }, { kind: "sender_domain" }],
      keyText: "sasl_username+sender_domain",
      count: 100,
      windowMs: 3_600_000,
      window: "1h",
      per: "recipient",
      algorithm: "bucket",
      burst: 150,
      mode: "strict",
      action: "reject",
      message: "too much mail from {key}",
      exempt: {
        senders: new Set(["boss@example.org"]),
        domains: ["example.net"],
        cidrs: [parseCidr("192.0.2.0/24")],
        localUsers: new Set(),
        saslUsernames: new Set(),
      },
      stage: "data",
      alert: false,
      legacy: false,
    });
  });

  it("a limit keyed by local_user drops its sender exemptions, with a warning at their line", () => {
    const result = parseConfig(
      "[limit site]\nkey = local_user\ncount = 5\ntime = 1h\n" +
        "exempt = noreply@example.org, @lists.example.org, local_user:app, 192.0.2.1\n" +
        "[limit out]\nkey = sender\ncount = 5\ntime = 1h\nexempt = noreply@example.org\n" +
        "[limit both]\nkey = local_user+sender\ncount = 5\ntime = 1h\nexempt = noreply@example.org\n",
      "t.conf",
      "/",
    );
    const [site, out, both] = loaded(result).limits;
    assert.deepEqual(site.exempt, {
      ...noExemptions(),
      cidrs: [parseCidr("192.0.2.1")],
      localUsers: new Set(["app"]),
    });
    assert.deepEqual(out.exempt.senders, new Set(["noreply@example.org"]), "a sender limit keeps it");
    assert.deepEqual(
      both.exempt.senders,
      new Set(["noreply@example.org"]),
      "so does one counting the sender",
    );
    assert.deepEqual(result.ok && result.warnings, [
      "t.conf:5: limit site.exempt: warning: noreply@example.org, @lists.example.org: not exempt from this " +
      "limit, which counts local_user: any local user may hand mail over as any sender (sendmail -f; " +
      "Debian's Exim: untrusted_set_sender = *), so a sender exemption would exempt every login; exempt the " +
      "login that sends as it instead (local_user:NAME)",
    ]);
  });

  it("a limit that counts no sender keeps its sender exemptions, with a warning: its clients choose them", () => {
    const result = parseConfig(
      "[limit logins]\nkey = sasl_username\ncount = 5\ntime = 1h\n" +
        "exempt = @lists.example.org, sasl_username:newsletter, 192.0.2.0/28\n" +
        "[limit nets]\nkey = client_address/24\ncount = 5\ntime = 1h\nexempt = boss@example.org\n" +
        "[limit domains]\nkey = sender_domain\ncount = 5\ntime = 1h\nexempt = @lists.example.org\n" +
        "[limit pairs]\nkey = sasl_username\ncount = 5\ntime = 1h\nexempt = sasl_username:newsletter\n",
      "t.conf",
      "/",
    );
    const [logins, nets] = loaded(result).limits;
    assert.deepEqual(logins.exempt.domains, ["lists.example.org"], "kept: the MTA may tie senders to logins");
    assert.deepEqual(nets.exempt.senders, new Set(["boss@example.org"]));
    const why = (keyText: string) =>
      `this limit counts ${keyText}, not the sender, and a client names its own sender (MAIL FROM), so ` +
      "whatever it counts escapes it by sending as one of these, unless the MTA ties senders to logins " +
      "(Postfix: reject_sender_login_mismatch); exempt a login (sasl_username:NAME) or a network instead";
    assert.deepEqual(result.ok && result.warnings, [
      `t.conf:5: limit logins.exempt: warning: @lists.example.org: ${why("sasl_username")}`,
      `t.conf:10: limit nets.exempt: warning: boss@example.org: ${why("client_address/24/64")}`,
    ]);
  });

  it("a bucket without burst holds count", () => {
    const [limit] = limitsOf("[limit b]\ncount = 30\ntime = 60\nalgorithm = bucket\n");
    assert.equal(limit.algorithm, "bucket");
    assert.equal(limit.burst, 30);
  });

  it("reads client_address prefixes", () => {
    const [limit] = limitsOf(
      "[limit nets]\nkey = client_address/24\ncount = 50\ntime = 10m\nstage = connect\n",
    );
    assert.deepEqual(limit.key, [{ kind: "client_address", v4Prefix: 24, v6Prefix: 64 }]);
    assert.equal(limit.stage, "connect");
  });

  it("reads several limits, in file order, after [thresholds]", () => {
    const limits = limitsOf(
      "[limit b-second]\ncount = 2\ntime = 2m\n[thresholds]\ncount = 5\ntime = 60\n" +
        "[limit a-third]\ncount = 3\ntime = 3m\nalgorithm = sliding\naction = warn\n",
    );
    assert.deepEqual(limits.map((limit) => limit.name), ["thresholds", "b-second", "a-third"]);
    assert.deepEqual(limits[0], thresholdsLimit(5, 60_000, "60s"));
    assert.deepEqual([limits[1].count, limits[1].windowMs, limits[1].window], [2, 120_000, "2m"]);
    assert.deepEqual([limits[2].algorithm, limits[2].action], ["sliding", "warn"]);
    assert.deepEqual(limits.map((limit) => limit.legacy), [true, false, false]);
  });

  it("section and key names are case-insensitive; the limit's name is lower case", () => {
    const [limit] = limitsOf("[Limit   OutBound]\nCOUNT = 4\nTime = 1m\nAction = WARN\n");
    assert.equal(limit.name, "outbound");
    assert.equal(limit.action, "warn");
  });

  it("without [limit] sections and [thresholds] the seed's limit still exists", () => {
    assert.deepEqual(limitsOf("[daemon]\nlog_level = debug\n"), [SEED_LIMIT]);
  });

  it("with [limit] sections and no [thresholds] there is no thresholds limit, so none answers the legacy form", () => {
    const limits = limitsOf("[limit outbound]\ncount = 20\ntime = 300\n");
    assert.deepEqual(limits.map((limit) => limit.name), ["outbound"]);
    assert.equal(limits.some((limit) => limit.legacy), false);
  });

  it("reports a bad limit name at its header line", () => {
    const problem = "limit names use a-z, 0-9, _ . - (and not 'thresholds')";
    assert.deepEqual(errorsOf("[daemon]\n[limit out/bound]\ncount = 1\ntime = 60\n"), [
      `t.conf:2: [limit out/bound]: ${problem}`,
    ]);
    assert.deepEqual(errorsOf("[limit thresholds]\ncount = 1\ntime = 60\n"), [
      `t.conf:1: [limit thresholds]: ${problem}`,
    ]);
    assert.deepEqual(errorsOf("[limit two words]\ncount = 1\ntime = 60\n"), [
      `t.conf:1: [limit two words]: ${problem}`,
    ]);
  });

  it("reports burst without algorithm = bucket, at the line of burst", () => {
    const errors = errorsOf("[limit x]\ncount = 5\ntime = 60\nburst = 10\n");
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^t\.conf:4: limit x\.burst: burst applies to algorithm = bucket only$/);
  });

  it("reports per = recipient at a stage before RCPT", () => {
    for (const stage of ["connect", "helo", "mail"]) {
      const errors = errorsOf(`[limit x]\ncount = 5\ntime = 60\nstage = ${stage}\nper = recipient\n`);
      assert.equal(errors.length, 1, stage);
      assert.match(errors[0], /^t\.conf:5: limit x\.per: per = recipient needs stage = rcpt, data or local$/);
    }
    const local = parseConfig(
      `[limit x]\ncount = 5\ntime = 60\nstage = local\nper = recipient\n`,
      "t.conf",
      "/",
    );
    assert.ok(local.ok, JSON.stringify(local));
  });

  it("reports a recipient key at a stage other than RCPT", () => {
    for (
      const [key, stage] of [["recipient", "data"], ["recipient_domain", "mail"], [
        "sender+recipient",
        "data",
      ]]
    ) {
      const errors = errorsOf(`[limit x]\nkey = ${key}\ncount = 5\ntime = 60\nstage = ${stage}\n`);
      assert.equal(errors.length, 1, key);
      assert.match(
        errors[0],
        /^t\.conf:2: limit x\.key: recipient keys need stage = rcpt \(one recipient per request\)$/,
      );
    }
  });

  it("reports an unknown key kind at the key's line", () => {
    assert.deepEqual(errorsOf("[limit x]\ncount = 5\ntime = 60\nkey = sender+ip\n"), [
      "t.conf:4: limit x.key: unknown key 'ip' (known: sender, sender_domain, sasl_username, client_address, " +
      "recipient, recipient_domain, helo_name, local_user; join several with +)",
    ]);
    assert.deepEqual(errorsOf("[limit x]\ncount = 5\ntime = 60\nkey = sender/24\n"), [
      "t.conf:4: limit x.key: only client_address takes a /prefix",
    ]);
  });

  it("reports a bad exemption at its line", () => {
    assert.deepEqual(errorsOf("[limit x]\ncount = 5\ntime = 60\n\nexempt = a@example.org, 192.0.2.0/33\n"), [
      "t.conf:5: limit x.exempt: '192.0.2.0/33' is not an address, a domain, a network nor a login " +
      "(local_user:NAME, sasl_username:NAME)",
    ]);
  });

  it("reports missing count and time at the header line", () => {
    assert.deepEqual(errorsOf("[daemon]\n[limit x]\nkey = sender\n").sort(), [
      "t.conf:2: limit x.count: required key missing",
      "t.conf:2: limit x.time: required key missing",
    ]);
  });

  it("reports unknown keys and bad values of a limit at their lines", () => {
    const errors = errorsOf(
      "[limit x]\ncount = 5\ntime = 60\nalgorithm = leaky-bucket\nmode = lenient\naction = drop\n" +
        "stage = quit\nalert = maybe\nper = byte\ncolour = blue\n",
    );
    assert.deepEqual(errors.map((error) => error.split(": ").slice(0, 2).join(": ")).sort(), [
      "t.conf:10: limit x.colour",
      "t.conf:4: limit x.algorithm",
      "t.conf:5: limit x.mode",
      "t.conf:6: limit x.action",
      "t.conf:7: limit x.stage",
      "t.conf:8: limit x.alert",
      "t.conf:9: limit x.per",
    ]);
    assert.ok(
      errors.includes("t.conf:4: limit x.algorithm: expected one of: fixed, sliding, bucket"),
      errors.join("\n"),
    );
    assert.ok(errors.includes("t.conf:8: limit x.alert: expected yes or no"), errors.join("\n"));
    assert.ok(
      errors.some((error) =>
        /^t\.conf:10: limit x\.colour: unknown key \(known: key, count, time/.test(error)
      ),
    );
  });

  it("reports problems in every limit, not only the first", () => {
    const errors = errorsOf(
      "[limit a]\ncount = 5\ntime = 60\nburst = 9\n[limit b]\ncount = 0\ntime = 60\n[limit c]\ntime = 60\n",
    );
    assert.equal(errors.length, 3, errors.join("\n"));
    assert.ok(errors.some((error) => error.includes("limit a.burst")));
    assert.ok(errors.includes("t.conf:6: limit b.count: must be at least 1"), errors.join("\n"));
    assert.ok(errors.includes("t.conf:8: limit c.count: required key missing"), errors.join("\n"));
  });
});

describe("parseConfig: [daemon] socket_group and control_group", () => {
  it("is unset by default and takes a group name", () => {
    assert.equal(loaded(parseConfig("", "t.conf", "/")).daemon.socketGroup, undefined);
    const config = loaded(parseConfig("[daemon]\nsocket_group = Debian-exim\n", "t.conf", "/"));
    assert.equal(config.daemon.socketGroup, "Debian-exim");
    assert.equal(
      loaded(parseConfig("[daemon]\nsocket_group = mail_2.x\n", "t.conf", "/")).daemon.socketGroup,
      "mail_2.x",
    );
  });

  it("rejects what is not a group name", () => {
    for (const value of ["exim users", "-exim", "grp/x", "wheel;rm"]) {
      for (const key of ["socket_group", "control_group"]) {
        const errors = errorsOf(`[daemon]\n${key} = ${value}\n`);
        assert.deepEqual(errors, [`t.conf:2: daemon.${key}: expected a group name`], value);
      }
    }
  });

  it("warns at its line of a group that /etc/group does not name", () => {
    // The socket then kept the daemon's group and its clients were refused: config-test said OK, and only
    // the log, at each listener's start, said why.
    const result = parseConfig(
      "[daemon]\nsocket_group = root\ncontrol_group = no-such-group-x\n" +
        "[postfix]\nsocket = /run/x/p.sock\nsocket_group = postifx-x\n",
      "t.conf",
      "/",
    );
    assert.ok(result.ok);
    const said = ": the socket keeps the daemon's group, and its clients may be unable to connect";
    assert.deepEqual(result.warnings, [
      `t.conf:3: daemon.control_group: warning: no group named no-such-group-x in /etc/group${said}`,
      `t.conf:6: postfix.socket_group: warning: no group named postifx-x in /etc/group${said}`,
    ]);
  });

  it("control_group is the control socket's own, unset by default", () => {
    assert.equal(loaded(parseConfig("", "t.conf", "/")).daemon.controlGroup, undefined);
    const daemon = loaded(
      parseConfig("[daemon]\nsocket_group = Debian-exim\ncontrol_group = mailpolicyd\n", "t.conf", "/"),
    ).daemon;
    assert.deepEqual([daemon.socketGroup, daemon.controlGroup], ["Debian-exim", "mailpolicyd"]);
  });
});
