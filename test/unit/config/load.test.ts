import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ConfigResult, loadConfigFile, parseConfig } from "../../../src/config/load.ts";
import { EMBEDDED_CONFIG, EMBEDDED_CONFIG_NAME } from "../../../src/config/defaults.ts";
import type { Config } from "../../../src/config/types.ts";

const SEED_FILE = fileURLToPath(new URL("../../fixtures/sender_warn.conf", import.meta.url));
const SEED_TEXT = "[thresholds]\ntime = 300\ncount = 20\n[alerts]\nfromAddr = 'postmaster@example.org'\n" +
  "toAddr = 'boss@example.org'\nccAddr = 'it@example.org'\nsubject = 'Mail Abuse Alert'\n";
const SEED_LIMIT = { name: "thresholds", key: "sender", count: 20, windowMs: 300_000 };

function loaded(result: ConfigResult): Config {
  if (!result.ok) throw new Error(`config rejected:\n${result.errors.join("\n")}`);
  return result.config;
}

function errorsOf(text: string): string[] {
  const result = parseConfig(text, "t.conf", "/base");
  if (result.ok) throw new Error("config accepted");
  for (const error of result.errors) assert.match(error, /^t\.conf:\d+: \S+: \S.*$/);
  return result.errors;
}

describe("loadConfigFile: the seed sender_warn.conf", () => {
  it("is the seed, byte for byte", () => {
    assert.equal(readFileSync(SEED_FILE, "utf8"), SEED_TEXT);
  });

  it("loads unchanged and means what the seed meant", () => {
    const config = loaded(loadConfigFile(SEED_FILE));
    assert.equal(config.file, SEED_FILE);
    assert.deepEqual(config.limits, [SEED_LIMIT]);
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
    assert.deepEqual(config.limits, [SEED_LIMIT]);
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
    assert.deepEqual(config.limits, [{ name: "thresholds", key: "sender", count: 3, windowMs: 300_000 }]);
    assert.equal(config.daemon.logLevel, "warn");
    assert.equal(config.daemon.failMode, "closed");
    assert.equal(config.daemon.socketMode, 0o600);
  });

  it("never lets retry_max fall below retry_min", () => {
    const config = loaded(
      parseConfig("[alerts]\nfromAddr = a@x\ntoAddr = b@x\nretry_min = 5m\nretry_max = 1m\n", "t.conf", "/"),
    );
    assert.equal(config.alerts?.retryMinMs, 300_000);
    assert.equal(config.alerts?.retryMaxMs, 300_000);
  });

  it("reports an unknown section at its header line", () => {
    const errors = errorsOf("[thresholds]\ncount = 20\n\n[limits]\nx = 1\n");
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^t\.conf:4: \[limits\]: unknown section\b/);
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
    assert.deepEqual(config.limits, [SEED_LIMIT]);
  });

  it("has a commented [alerts] example that is valid once uncommented", () => {
    const [head, tail] = EMBEDDED_CONFIG.split("# [alerts]");
    assert.ok(tail !== undefined, "no commented [alerts] section");
    const config = loaded(parseConfig(head + "[alerts]" + tail.replace(/^# /gm, ""), "t.conf", "/"));
    assert.equal(config.alerts?.from, "postmaster@localhost");
    assert.deepEqual(config.alerts?.to, ["postmaster@localhost"]);
  });
});
