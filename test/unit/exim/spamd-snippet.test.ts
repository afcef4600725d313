// The snippets' spamd front part (exim/spamd-snippet.ts): present only with [spamd], in every variant.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { eximSnippet } from "../../../src/exim/snippets.ts";
import { spamdAddressFromConfig, spamdAddressSpec } from "../../../src/exim/spamd-snippet.ts";
import { makeTempDir } from "../../helpers/temp-dir.ts";

describe("spamd front in the Exim snippets", () => {
  const spec = spamdAddressSpec({ hostname: "127.0.0.1", port: 10783 });

  it("spamd_address: the rspamd form with a 30 s timeout, TCP or a socket path", () => {
    assert.equal(spec, "127.0.0.1 10783 variant=rspamd tmo=30s");
    assert.equal(
      spamdAddressSpec("/run/mailpolicyd/spamd.sock"),
      "/run/mailpolicyd/spamd.sock variant=rspamd tmo=30s",
    );
  });

  for (const variant of ["debian-split", "debian-unsplit", "plain"] as const) {
    it(`${variant}: spamd_address in the main part and spam = in the DATA ACL only with [spamd]`, () => {
      const without = eximSnippet(variant).map((file) => file.content).join("\n");
      assert.doesNotMatch(without, /spam/);
      const files = eximSnippet(variant, undefined, "/etc/exim4", spec);
      assert.match(files[0].content, /^spamd_address = 127\.0\.0\.1 10783 variant=rspamd tmo=30s$/m);
      const data = files.map((file) => file.content).join("\n");
      assert.match(data, /spam += mailpolicyd:true\/defer_ok\n/);
      assert.match(data, /condition += \$\{if eq\{\$acl_m_mpd_spam\}\{reject\}\}/);
      // After the limits' verdict, before the DATA ACL accepts.
      assert.ok(data.indexOf("spam        =") > data.indexOf("data sender="));
    });
  }

  it("reads the front's address from the config's [spamd]: listen, else socket, else none", () => {
    const dir = makeTempDir();
    const config = (text: string) => {
      writeFileSync(dir.file("c.conf"), text);
      return spamdAddressFromConfig(dir.file("c.conf"));
    };
    try {
      assert.equal(config("[daemon]\n"), undefined);
      assert.equal(config("[spamd]\n"), spec);
      assert.equal(config("[spamd]\nlisten = [::1]:11000\n"), "::1 11000 variant=rspamd tmo=30s");
      assert.equal(
        config("[spamd]\nlisten = none\nsocket = /run/s.sock\n"),
        "/run/s.sock variant=rspamd tmo=30s",
      );
      assert.equal(config("[spamd]\nlisten = 127.0.0.1:0\n"), undefined);
      // Exim waits 5 s more than the front's slowest concern, at least 30 s: the front answers first.
      assert.equal(config("[spamd]\n[spamassassin]\n[content]\n"), spec, "the defaults: 20 s and 2 s");
      assert.equal(config("[spamd]\n[spamassassin]\ntimeout = 60s\n"), spec.replace("tmo=30s", "tmo=65s"));
      assert.equal(config("[spamd]\n[content]\ntimeout = 40500ms\n"), spec.replace("tmo=30s", "tmo=46s"));
      assert.equal(config("[spamd]\n[spamassassin]\ntimeout = later\n"), spec, "left to config-test");
      assert.equal(config("[spamd]\n[spf]\ntimeout = 60s\n"), spec, "no concern of the front");
      assert.equal(spamdAddressFromConfig(dir.file("missing.conf")), undefined);
    } finally {
      dir.remove();
    }
  });
});
