import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  BLOCK_BEGIN,
  BLOCK_END,
  usesSplitConfig,
  withMailpolicyd,
  withoutMailpolicyd,
} from "../../../src/exim/debian-files.ts";

describe("Debian's Exim configuration files", () => {
  it("reads dc_use_split_config as update-exim4.conf does (last one wins, any case, unset = unsplit)", () => {
    assert.equal(usesSplitConfig("dc_use_split_config='true'\n"), true);
    assert.equal(usesSplitConfig('dc_use_split_config="TRUE"\n'), true);
    assert.equal(usesSplitConfig("dc_use_split_config=true\n"), true);
    assert.equal(usesSplitConfig("dc_use_split_config='false'\n"), false);
    assert.equal(usesSplitConfig("dc_use_split_config='true'\ndc_use_split_config='false'\n"), false);
    assert.equal(usesSplitConfig("# dc_use_split_config='true'\n"), false);
    assert.equal(usesSplitConfig("dc_other_hostnames='vm'\n"), false);
  });

  it("adds its lines between markers and takes exactly those out again", () => {
    const admin = "# my macros\nMAIN_TLS_ENABLE = yes\nREMOTE_SMTP_HELO_DATA = mx.example.org";
    const added = withMailpolicyd(
      admin,
      "# mailpolicyd\nMAIN_ACL_CHECK_RCPT = /etc/exim4/mailpolicyd_rcpt.acl\n",
    );
    assert.equal(
      added,
      `${admin}\n${BLOCK_BEGIN}\n# mailpolicyd\nMAIN_ACL_CHECK_RCPT = /etc/exim4/mailpolicyd_rcpt.acl\n${BLOCK_END}\n`,
    );
    assert.equal(withoutMailpolicyd(added), `${admin}\n`);
    // Added twice: one block, the newer.
    const again = withMailpolicyd(added, "NEW = 1");
    assert.equal(again, `${admin}\n${BLOCK_BEGIN}\nNEW = 1\n${BLOCK_END}\n`);
    assert.equal(withMailpolicyd("", "A = 1\n"), `${BLOCK_BEGIN}\nA = 1\n${BLOCK_END}\n`);
    assert.equal(withoutMailpolicyd(withMailpolicyd("", "A = 1\n")), "");
  });

  it("keeps the admin's lines after the block and removes lines pasted from exim-snippet by hand", () => {
    const text = `A = 1\n${BLOCK_BEGIN}\nB = 2\n${BLOCK_END}\nC = 3\n` +
      "MAIN_ACL_CHECK_RCPT = /etc/exim4/mailpolicyd_rcpt.acl\nMAIN_ACL_CHECK_DATA = /etc/exim4/mailpolicyd_data.acl\n" +
      "MAIN_ACL_CHECK_DATA_OTHER = acl_site_data\n";
    assert.equal(withoutMailpolicyd(text), "A = 1\nC = 3\nMAIN_ACL_CHECK_DATA_OTHER = acl_site_data\n");
  });
});
