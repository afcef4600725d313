// `mailpolicyd postfix-snippet` as a postmaster runs it: the address from [postfix] (listen, else the
// socket), --listen, --fail-closed, and clear answers for a config without [postfix] or with nowhere
// fixed to listen. That the lines work is shown in a real Postfix (postfix.test.ts).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { mainCommand, ROOT } from "../helpers/runtime.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

function cli(args: string[]) {
  const [command, ...rest] = mainCommand(["postfix-snippet", ...args]);
  const result = spawnSync(command, rest, { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("mailpolicyd postfix-snippet", () => {
  const dir = makeTempDir();
  after(() => dir.remove());
  const config = (text: string) => {
    const file = dir.file(`c${Math.random()}.conf`);
    writeFileSync(file, text);
    return file;
  };

  it("writes the [postfix] listen address into both restrictions, fail-open", () => {
    const result = cli(["--config", config("[postfix]\nlisten = 127.0.0.1:10099\n")]);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, "");
    const entries = result.stdout.match(/^ {4}check_policy_service .*$/gm);
    assert.deepEqual(
      entries,
      Array(2).fill(
        "    check_policy_service { inet:127.0.0.1:10099, timeout=3s, max_idle=300s, default_action=DUNNO }",
      ),
    );
    // Unknown recipients are refused before the check, not counted by it (postfix-unknown-recipient.test.ts);
    // at the end of the message there is no recipient to look up.
    assert.match(
      result.stdout,
      /^smtpd_recipient_restrictions =\n {4}reject_unlisted_recipient,\n {4}check_policy_service /m,
    );
    assert.match(result.stdout, /^smtpd_end_of_data_restrictions =\n {4}check_policy_service /m);
    // The timeout and max_idle are the check's own: as smtpd_policy_service_* parameters they would apply
    // to every other policy service of the Postfix too (a postgrey's 100 s timeout cut to 3 s).
    assert.doesNotMatch(result.stdout, /^smtpd_policy_service_/m);
    // The { … } syntax and default_action are Postfix 3.0's: an older one fails on the lines.
    assert.match(result.stdout, /^# Needs Postfix 3\.0 or later/m);
  });

  it("gives Postfix the config's idle_timeout as max_idle, in whole seconds", () => {
    const idle = (value: string) =>
      cli(["--config", config(`[postfix]\nlisten = 127.0.0.1:10099\nidle_timeout = ${value}\n`)]);
    assert.match(idle("2m").stdout, /^ {4}check_policy_service \{ .*, max_idle=120s, /m);
    assert.match(idle("1500ms").stdout, /^ {4}check_policy_service \{ .*, max_idle=1s, /m);
    const bad = idle("forever");
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /\[postfix\] idle_timeout: /);
  });

  it("uses the socket when listen = none, and --listen over the config", () => {
    const socket = cli([
      "--config",
      config("[postfix]\nlisten = none\nsocket = /var/spool/postfix/private/mpd\n"),
    ]);
    // Relative to the queue directory, where Debian's chrooted smtpd looks it up.
    assert.match(socket.stdout, /^ {4}check_policy_service \{ unix:private\/mpd, /m);
    assert.equal(socket.stderr, "");
    const outside = cli(["--config", config("[postfix]\nlisten = none\nsocket = /run/mpd.sock\n")]);
    assert.equal(outside.status, 0);
    assert.match(outside.stdout, /^ {4}check_policy_service \{ unix:\/run\/mpd\.sock, /m);
    assert.match(outside.stderr, /\/run\/mpd\.sock is outside \/var\/spool\/postfix: a chrooted smtpd/);
    const listen = cli(["--listen", "127.0.0.1:10100", "--fail-closed"]);
    assert.equal(listen.status, 0);
    assert.match(
      listen.stdout,
      /^ {4}check_policy_service \{ inet:127.0.0.1:10100, timeout=3s, max_idle=300s, \{ default_action = 451 4\.3\.5 mail policy service unavailable, try again later \} \}$/m,
    );
  });

  it("warns about a config without [postfix], and refuses nowhere fixed to listen or a bad --listen", () => {
    const none = cli(["--config", config("[limit a]\ncount = 1\ntime = 1h\n")]);
    assert.equal(none.status, 0);
    assert.match(none.stderr, /has no \[postfix\] section/);
    assert.match(none.stdout, /inet:127\.0\.0\.1:10038/);
    const nowhere = cli(["--config", config("[postfix]\nlisten = 127.0.0.1:0\n")]);
    assert.equal(nowhere.status, 1);
    assert.match(nowhere.stderr, /no fixed listen address nor a socket/);
    const bad = cli(["--listen", "192.0.2.1:25"]);
    assert.equal(bad.status, 64);
    assert.match(bad.stderr, /--listen: expected a loopback HOST:PORT/);
  });

  it("refuses a [postfix] whose key or section is repeated, as the daemon does, instead of the first value", () => {
    const key = cli(["--config", config("[postfix]\nlisten = 127.0.0.1:10040\nlisten = 127.0.0.1:10041\n")]);
    assert.equal(key.status, 1);
    assert.equal(key.stdout, "");
    assert.match(key.stderr, /\.conf:3: postfix\.listen: key repeated \(first at line 2\)\n$/);
    const section = cli([
      "--config",
      config("[postfix]\nlisten = 127.0.0.1:10040\n[daemon]\n[postfix]\nidle_timeout = 60s\n"),
    ]);
    assert.equal(section.status, 1);
    assert.match(section.stderr, /\.conf:4: \[postfix\]: section repeated \(first at line 1\)\n$/);
    // A key repeated in another section is config-test's business, not the snippet's.
    const elsewhere = cli([
      "--config",
      config("[daemon]\nlog_level = info\nlog_level = debug\n[postfix]\nlisten = 127.0.0.1:10040\n"),
    ]);
    assert.equal(elsewhere.status, 0, elsewhere.stderr);
    assert.match(elsewhere.stdout, /inet:127\.0\.0\.1:10040/);
  });
});
