import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { SNIPPET_DIR, snippetFiles } from "../../../packaging/exim-snippet-files.ts";
import { eximSnippet, formatSnippet } from "../../../src/exim/snippets.ts";

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
    assert.match(acl.content, /^acl_mailpolicyd_rcpt:\n(?: {2}#.*\n)* {2}require acl = acl_check_rcpt$/m);
    assert.match(acl.content, /\{rcpt sender=\$\{quote:\$sender_address\}/);
    assert.match(acl.content, /subject=\$\{quote:\$\{length_400:\$rh_subject:\}\}/);
    assert.match(
      acl.content,
      /\{2s:cache=yes\}\{\}\{action=accept fallback=yes\}/,
      "fail-open fallback at DATA",
    );
  });

  it("puts the socket path where Exim reads it, literally in run-time ACL files", () => {
    const files = eximSnippet("debian-unsplit", "/srv/p.sock", "/tmp/conf");
    assert.deepEqual(files.map((file) => file.path), [
      "/tmp/conf/exim4.conf.localmacros",
      "/tmp/conf/mailpolicyd_rcpt.acl",
      "/tmp/conf/mailpolicyd_data.acl",
    ]);
    assert.match(files[1].content, /\$\{readsocket\{\/srv\/p\.sock\}/);
    assert.doesNotMatch(files[1].content, /MAILPOLICYD_SOCKET/, "macros are not expanded in ACL files");
    assert.match(formatSnippet(files), /^# ==> \/tmp\/conf\/mailpolicyd_data\.acl <==$/m);
  });
});
