import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { SNIPPET_DIR, snippetFiles } from "../../../packaging/exim-snippet-files.ts";
import { eximSnippet, formatSnippet } from "../../../src/exim/snippets.ts";
import { runMain } from "../../helpers/runtime.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

describe("Exim snippets", () => {
  it("packaging/exim/ matches src/exim/snippets.ts (run `npm run snippets` after a change)", () => {
    for (const [name, content] of Object.entries(snippetFiles())) {
      assert.equal(readFileSync(`${SNIPPET_DIR}${name}`, "utf8"), content, name);
    }
  });

  it("wraps Debian's acl_check_rcpt instead of hooking into it, and asks at RCPT and DATA", () => {
    const [main, acl] = eximSnippet("debian-split");
    assert.match(main.content, /^MAIN_ACL_CHECK_RCPT = acl_mailpolicyd_rcpt$/m);
    assert.match(main.content, /^MAIN_ACL_CHECK_DATA = acl_mailpolicyd_data$/m);
    assert.match(
      acl.content,
      /^acl_mailpolicyd_rcpt:\n(?: {2}#.*\n)* {2}accept\n {4}endpass\n {4}acl {9}= acl_check_rcpt\n {4}acl {9}= acl_mailpolicyd_rcpt_ask$/m,
    );
    assert.doesNotMatch(acl.content, /require acl/, "a nested discard is an error under require");
    assert.match(acl.content, /\{rcpt sender=\$\{quote:\$sender_address\}/);
    assert.match(acl.content, /subject=\$\{quote:\$\{length_400:\$rh_subject:\}\}/);
    assert.match(
      acl.content,
      /\{2s:cache=yes\}\{\}\{action=accept fallback=yes\}/,
      "fail-open fallback at DATA",
    );
  });

  it("asks over loopback TCP in every shipped snippet, never over a Unix socket (docs/exim.md)", () => {
    const asking = new Set<string>();
    for (const [name, content] of Object.entries(snippetFiles())) {
      const specs = [...content.matchAll(/readsocket\{([^}]*)\}/g)].map((match) => match[1]);
      if (specs.length > 0) asking.add(name);
      for (const spec of specs) {
        assert.match(spec, /^(inet:127\.0\.0\.1:10037|MAILPOLICYD_ADDRESS)$/, `${name}: ${spec}`);
      }
      for (const macro of content.matchAll(/^MAILPOLICYD_ADDRESS = (.*)$/gm)) {
        assert.equal(macro[1], "inet:127.0.0.1:10037", name);
      }
    }
    // The ACL files of the three variants (the unsplit one's three) and the one-token line.
    assert.equal(asking.size, 6, [...asking].join(", "));
  });

  it("puts the address where Exim reads it, literally in run-time ACL files", () => {
    const files = eximSnippet("debian-unsplit", "inet:127.0.0.1:4000", "/tmp/conf");
    assert.deepEqual(files.map((file) => file.path), [
      "/tmp/conf/exim4.conf.localmacros",
      "/tmp/conf/mailpolicyd_rcpt_ask.acl",
      "/tmp/conf/mailpolicyd_rcpt.acl",
      "/tmp/conf/mailpolicyd_data_ask.acl",
      "/tmp/conf/mailpolicyd_data.acl",
      "/tmp/conf/mailpolicyd_not_smtp.acl",
    ]);
    assert.match(files[0].content, /^acl_not_smtp = \/tmp\/conf\/mailpolicyd_not_smtp\.acl$/m);
    assert.match(files[5].content, /\$\{readsocket\{inet:127\.0\.0\.1:4000\}\\\n {6}\{local sender=/);
    assert.match(files[2].content, /^ {4}acl {9}= \/tmp\/conf\/mailpolicyd_rcpt_ask\.acl$/m);
    assert.match(files[1].content, /\$\{readsocket\{inet:127\.0\.0\.1:4000\}/);
    assert.doesNotMatch(files[1].content, /MAILPOLICYD_ADDRESS/, "macros are not expanded in ACL files");
    assert.match(formatSnippet(files), /^# ==> \/tmp\/conf\/mailpolicyd_data\.acl <==$/m);
  });
});

describe("mailpolicyd exim-snippet", () => {
  const cli = (args: string[]) => runMain(["exim-snippet", ...args]);
  const dir = makeTempDir("mpd-snippet-");
  after(() => dir.remove());
  let configs = 0;
  const config = (daemon: string) => {
    const file = dir.file(`m${configs++}.conf`);
    writeFileSync(file, `[daemon]\n${daemon}`);
    return file;
  };

  it("writes policy_listen from the config into the snippet, or --listen", () => {
    const fromConfig = cli(["--plain", "--config", config("policy_listen = 127.0.0.2:2626\n")]);
    assert.equal(fromConfig.status, 0, fromConfig.stderr);
    assert.match(fromConfig.stdout, /^MAILPOLICYD_ADDRESS = inet:127\.0\.0\.2:2626$/m);
    const given = cli(["--legacy", "--listen", "127.0.0.1:2727"]);
    assert.match(given.stdout, /readsocket\{inet:127\.0\.0\.1:2727\}/);
  });

  it("refuses a config without a fixed TCP address, and a non-loopback --listen", () => {
    const none = cli(["--config", config("policy_listen = none\n")]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /has no fixed policy_listen address, which the Exim snippets need/);
    const wide = cli(["--listen", "192.0.2.1:25"]);
    assert.equal(wide.status, 64);
    assert.match(wide.stderr, /--listen: expected a loopback HOST:PORT/);
    assert.equal(cli(["--socket", "/run/x.sock"]).status, 64, "the Unix socket is no longer offered");
  });
});
