// postfix-snippet's max_idle (the check's own, in its { … }): the config's [postfix] idle_timeout in Postfix's
// unit (whole seconds, rounded down), with or without --listen; the schema's 300 s without a [postfix] section.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { postfixSnippetCommand } from "../../../src/cli/postfix-snippet-command.ts";
import { postfixSnippet } from "../../../src/postfix/snippet.ts";
import { captureOutput } from "../../helpers/captured-output.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

const dir = makeTempDir();
after(() => dir.remove());

let files = 0;
const config = (text: string) => {
  const file = dir.file(`c${files++}.conf`);
  writeFileSync(file, text);
  return file;
};

const snippet = (file: string, listen?: string) =>
  captureOutput(() => postfixSnippetCommand({ config: file, listen, failClosed: false }));
const maxIdle = (text: string) => text.match(/^ {4}check_policy_service \{ .*, max_idle=(\d+s), /m)?.[1];

describe("postfix-snippet's max_idle", () => {
  it("is [postfix] idle_timeout in whole seconds, rounded down", async () => {
    for (
      const [idle, expected] of [["2m", "120s"], ["45", "45s"], ["1500ms", "1s"], ["1h", "3600s"], [
        "300s",
        "300s",
      ]]
    ) {
      const { result, stdout, stderr } = await snippet(
        config(`[postfix]\nlisten = 127.0.0.1:10099\nidle_timeout = ${idle}\n`),
      );
      assert.equal(result, 0, stderr);
      assert.equal(maxIdle(stdout), expected, idle);
    }
  });

  it("comes from the config under --listen too, which replaces only the address", async () => {
    const file = config("[postfix]\nlisten = 127.0.0.1:10099\nidle_timeout = 90s\n");
    const { result, stdout, stderr } = await snippet(file, "127.0.0.1:10100");
    assert.equal(result, 0, stderr);
    assert.equal(stderr, "");
    assert.equal(maxIdle(stdout), "90s");
    assert.match(stdout, /check_policy_service \{ inet:127\.0\.0\.1:10100, /);
    assert.doesNotMatch(stdout, /10099/);
  });

  it("is the schema's 300 s without a [postfix] section or a readable config", async () => {
    for (const file of [config("[limit a]\ncount = 1\ntime = 1h\n"), dir.file("absent.conf")]) {
      for (const listen of [undefined, "127.0.0.1:10100"]) {
        const { result, stdout, stderr } = await snippet(file, listen);
        assert.equal(result, 0, stderr);
        assert.equal(maxIdle(stdout), "300s");
        // The notes speak of the address, so --listen (which gives it) silences them.
        assert.equal(stderr === "", listen !== undefined, stderr);
      }
    }
    assert.equal(maxIdle(postfixSnippet()), "300s");
    assert.equal(maxIdle(postfixSnippet("inet:127.0.0.1:1", false, { idleSeconds: 17 })), "17s");
  });

  it("refuses an invalid idle_timeout (exit 1), with or without --listen", async () => {
    for (const idle of ["forever", "0", "2h"]) {
      const file = config(`[postfix]\nlisten = 127.0.0.1:10099\nidle_timeout = ${idle}\n`);
      for (const listen of [undefined, "127.0.0.1:10100"]) {
        const { result, stdout, stderr } = await snippet(file, listen);
        assert.equal(result, 1, idle);
        assert.equal(stdout, "");
        assert.match(stderr, /^mailpolicyd: .*c\d+\.conf: \[postfix\] idle_timeout: /);
      }
    }
  });
});

const timeout = (text: string) => text.match(/^ {4}check_policy_service \{ [^,]*, timeout=(\d+s), /m)?.[1];

describe("postfix-snippet's timeout", () => {
  it("is 3 s for the default concern timeouts, with or without a config", async () => {
    for (const file of [config("[postfix]\nlisten = 127.0.0.1:10099\n[spf]\n"), dir.file("absent.conf")]) {
      const { result, stdout, stderr } = await snippet(file, "127.0.0.1:10100");
      assert.equal(result, 0, stderr);
      assert.equal(timeout(stdout), "3s");
    }
  });

  it("stays a second above the longest of [limits] and [spf] timeout: Postfix gives up after the daemon", async () => {
    const cases = [
      ["[limits]\ntimeout = 4s\n", "5s"],
      ["[spf]\ntimeout = 5500ms\n", "7s"],
      ["[limits]\ntimeout = 2s\n[spf]\ntimeout = 10s\n", "11s"],
      ["[spamassassin]\ntimeout = 60s\n", "3s"], // no concern of a Postfix request
      ["[spf]\ntimeout = soon\n", "3s"], // left out: config-test reports it
    ];
    for (const [text, expected] of cases) {
      const { result, stdout, stderr } = await snippet(
        config(`[postfix]\nlisten = 127.0.0.1:10099\n${text}`),
      );
      assert.equal(result, 0, stderr);
      assert.equal(timeout(stdout), expected, text);
      assert.equal(stdout.match(/timeout=\d+s/g)?.length, 3, "both checks and the fail-closed variant");
    }
  });
});

describe("postfix-snippet's milter line", () => {
  const milterLine = (text: string) => text.match(/^non_smtpd_milters = .*$/m)?.[0];
  /** The snippet of a config without a policy listener: the milter's entry at `endpoint` and no more. */
  const onlyMilterLines = async (text: string, endpoint: string) => {
    const alone = await snippet(config(text));
    assert.equal(alone.result, 0, alone.stderr);
    assert.equal(
      milterLine(alone.stdout),
      `non_smtpd_milters = { ${endpoint}, default_action=accept, protocol=6 }`,
    );
    assert.doesNotMatch(alone.stdout, /check_policy_service/);
  };

  it("is there with [postfix] milter_listen, fail-open by its own default_action", async () => {
    const file = config("[postfix]\nlisten = 127.0.0.1:10099\nmilter_listen = 127.0.0.1:10039\n");
    const { result, stdout, stderr } = await snippet(file);
    assert.equal(result, 0, stderr);
    assert.equal(
      milterLine(stdout),
      "non_smtpd_milters = { inet:127.0.0.1:10039, default_action=accept, protocol=6 }",
    );
    assert.match(stdout, /check_policy_service \{ inet:127\.0\.0\.1:10099, /);
    assert.match(stderr, /^mailpolicyd: milter_listen is loopback TCP, which any local user can connect to/);
    const closed = await captureOutput(() => postfixSnippetCommand({ config: file, failClosed: true }));
    assert.equal(
      milterLine(closed.stdout),
      "non_smtpd_milters = { inet:127.0.0.1:10039, default_action=tempfail, protocol=6 }",
    );
  });

  it("is not there without milter_listen, and alone without a policy listener", async () => {
    const without = await snippet(config("[postfix]\nlisten = 127.0.0.1:10099\n"));
    assert.equal(milterLine(without.stdout), undefined);
    assert.equal(milterLine(postfixSnippet()), undefined);
    await onlyMilterLines(
      "[postfix]\nlisten = none\nmilter_listen = 127.0.0.1:10039\n",
      "inet:127.0.0.1:10039",
    );
  });

  it("is the unix: form with milter_socket, relative to Postfix's queue directory, before milter_listen", async () => {
    const file = config(
      "[postfix]\nlisten = 127.0.0.1:10099\nmilter_listen = 127.0.0.1:10039\n" +
        "milter_socket = /var/spool/postfix/mailpolicyd/milter\n",
    );
    const { result, stdout, stderr } = await snippet(file);
    assert.equal(result, 0, stderr);
    assert.equal(stderr, "");
    assert.equal(
      milterLine(stdout),
      "non_smtpd_milters = { unix:mailpolicyd/milter, default_action=accept, protocol=6 }",
    );
    await onlyMilterLines("[postfix]\nlisten = none\nmilter_socket = /var/spool/postfix/m/s\n", "unix:m/s");
  });

  it("writes a milter_socket outside the queue directory as it is, and says a chrooted cleanup misses it", async () => {
    const { result, stdout, stderr } = await snippet(
      config("[postfix]\nlisten = 127.0.0.1:10099\nmilter_socket = /run/mailpolicyd/milter.sock\n"),
    );
    assert.equal(result, 0, stderr);
    assert.equal(
      milterLine(stdout),
      "non_smtpd_milters = { unix:/run/mailpolicyd/milter.sock, default_action=accept, protocol=6 }",
    );
    assert.match(
      stderr,
      /^mailpolicyd: \/run\/mailpolicyd\/milter\.sock is outside \/var\/spool\/postfix: a chrooted cleanup \(Debian's master\.cf\) cannot reach it; .* or run cleanup with chroot n\n$/,
    );
  });

  it("refuses a milter_listen that is not a fixed loopback port", async () => {
    for (const value of ["192.0.2.1:10039", "127.0.0.1:0"]) {
      const { result, stderr } = await snippet(config(`[postfix]\nmilter_listen = ${value}\n`));
      assert.equal(result, 1);
      assert.match(stderr, /\[postfix\] milter_listen: /);
    }
  });
});
