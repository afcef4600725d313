// packaging/mailpolicyd.8 against src/cli/help.ts: the man page is written by hand, so this catches a
// command or option added to the CLI and forgotten in the page.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { HELP } from "../../../src/cli/help.ts";
import { EMBEDDED_CONFIG } from "../../../src/config/defaults.ts";
import { eximSnippet, legacySnippet } from "../../../src/exim/snippets.ts";
import { ROOT } from "../../helpers/runtime.ts";

const MAN = readFileSync(`${ROOT}packaging/mailpolicyd.8`, "utf8");
// What a reader sees: roff's escaped minus signs and font changes taken out.
const plain = (roff: string) => roff.replace(/\\-/g, "-").replace(/\\f[BIRP]/g, "");
const synopsis = plain(MAN.slice(MAN.indexOf(".SH SYNOPSIS"), MAN.indexOf(".SH DESCRIPTION")));
const commands = [...HELP.main.matchAll(/^ {2}([a-z-]+)/gm)].map((match) => match[1]);

describe("the man page", () => {
  it("lists every command of `mailpolicyd --help` in its SYNOPSIS", () => {
    assert.ok(commands.length >= 12, commands.join(" "));
    for (const command of commands) {
      assert.match(synopsis, new RegExp(`^\\.B mailpolicyd ${command}$`, "m"), command);
    }
  });

  it("documents every option that a command's --help gives", () => {
    const page = plain(MAN);
    for (const command of commands) {
      for (const [option] of HELP[command].matchAll(/(?<![\w-])--?[a-z][a-z-]*/g)) {
        assert.ok(page.includes(option), `${command} ${option}`);
      }
    }
  });

  it("says how many warn statements exim-snippet --legacy prints (man page, help, docs/exim.md)", () => {
    const count = legacySnippet().match(/^\s+warn$/gm)?.length ?? 0;
    const word = ["no", "one", "two", "three", "four", "five", "six"][count];
    assert.ok(count >= 1 && word, `${count} warn statements`);
    const said = new RegExp(`as ${word}\\s+(\\.B )?\`?warn\`?\\s+statements`);
    const texts = { man: MAN, help: HELP["exim-snippet"], exim: readFileSync(`${ROOT}docs/exim.md`, "utf8") };
    for (const [name, text] of Object.entries(texts)) assert.match(text, said, name);
    assert.doesNotMatch(MAN, /in a\s+\.B warn\s+statement\b/);
  });

  // A postmaster who follows docs/exim.md by hand and adds two lines misses acl_not_smtp: mail handed to
  // sendmail is then never asked about.
  it("says how many lines --debian-unsplit adds to exim4.conf.localmacros (man page, help, docs/exim.md)", () => {
    const files = eximSnippet("debian-unsplit");
    const macros = files.find((file) => file.path.endsWith("exim4.conf.localmacros"))!;
    const count =
      macros.content.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("#")).length;
    const word = ["no", "one", "two", "three", "four", "five", "six", "seven"][count];
    assert.ok(count >= 1 && word, `${count} lines`);
    const texts = {
      man: MAN,
      help: HELP["exim-setup"],
      exim: readFileSync(`${ROOT}docs/exim.md`, "utf8"),
    };
    for (const [name, text] of Object.entries(texts)) {
      assert.match(text, new RegExp(`\\b${word}\\s+lines\\s+(between|to)\\b`), name);
      assert.match(text, /mailpolicyd_not_smtp\.acl/, name);
    }
    const printed = ["no", "one", "two", "three", "four", "five", "six", "seven"][files.length];
    assert.match(texts.exim, new RegExp(`--debian-unsplit +# prints ${printed} files`));
  });

  // Saved as /etc/mailpolicyd/mailpolicyd.conf, the embedded config put the pidfile under
  // /etc/mailpolicyd/run/, where the init script and monit never look, and the state in /etc.
  it("offers default-config as a trial config, not as /etc/mailpolicyd/mailpolicyd.conf", () => {
    assert.match(EMBEDDED_CONFIG, /^pidfile = run\//m);
    const page = plain(MAN);
    const manEntry = page.slice(page.indexOf(".TP\n.B default-config\n"), page.indexOf(".TP\n.BR status"));
    assert.ok(manEntry.length > 0 && manEntry.length < 1000, manEntry);
    for (const [name, text] of Object.entries({ man: manEntry, help: HELP["default-config"] })) {
      assert.doesNotMatch(text, /starting point for\s+(\.IR )?\/etc\/mailpolicyd/, name);
      assert.match(text, /run\//, name);
    }
  });

  it("says how many ACL files exim-snippet --debian-unsplit prints (man page, help)", () => {
    const count = eximSnippet("debian-unsplit").filter((file) => file.path.endsWith(".acl")).length;
    const word = ["no", "one", "two", "three", "four", "five", "six", "seven"][count];
    assert.ok(count >= 1 && word, `${count} ACL files`);
    const said = new RegExp(`\\b${word}\\s+ACL\\s+files\\b`);
    for (const [name, text] of Object.entries({ man: MAN, help: HELP["exim-snippet"] })) {
      assert.match(text, said, name);
    }
  });
});
