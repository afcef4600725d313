// A reload that removes [content], [spamassassin] or [spf] from a running daemon (real process, spamc
// against its spamd front) turns that concern off at once and says so; putting the section back turns it on
// again and says so too. Before, the concern went silently, while the docs said a removal took a restart.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import {
  type DaemonProcess,
  startDaemonProcess,
  waitFor,
  writeTestConfig,
} from "../helpers/daemon-process.ts";
import { runMain } from "../helpers/runtime.ts";
import { makeTempDir } from "../helpers/temp-dir.ts";

const FRONT = "[spamd]\nlisten = 127.0.0.1:0\n";
const CONTENT = "[content]\n[rule lottery]\nsubject = /you have won/i\nscore = 4.5\n";
// Nothing answers at port 1: scans fail for now, which the front answers unscanned (fail_mode open).
const SPAMASSASSIN = "[spamassassin]\naddress = 127.0.0.1:1\n";
const SPF = "[spf]\ndns_servers = 127.0.0.1:1\n";
const LOTTERY = "Subject: you have won\nFrom: b@example.org\n\nclaim it\n";

describe("a reload that removes and puts back a concern's section", () => {
  const dir = makeTempDir();
  let daemon: DaemonProcess;
  let file: string;
  const score = () => {
    const port = /spamd: listening tcp=127\.0\.0\.1:(\d+)/.exec(daemon.logs())![1];
    const result = spawnSync("spamc", ["-d", "127.0.0.1", "-p", port, "-c"], {
      input: LOTTERY,
      encoding: "utf8",
      timeout: 20_000,
    });
    return result.stdout.trim();
  };
  const reload = (sections: string) => {
    const mark = daemon.logs().length;
    writeTestConfig(dir, FRONT + sections);
    const result = runMain(["reload", "--config", file]);
    assert.equal(result.status, 0, result.stderr);
    // The reload's own lines come before its "config reloaded".
    return async () => {
      await waitFor(() => daemon.logs().slice(mark).includes("config reloaded"), 10_000, "the reload's log");
      return daemon.logs().slice(mark);
    };
  };

  before(async () => {
    file = writeTestConfig(dir, FRONT + CONTENT + SPAMASSASSIN + SPF);
    daemon = await startDaemonProcess(dir, file);
    await daemon.waitForLog(/spamd: listening/);
  });
  after(async () => {
    await daemon?.stop();
    dir.remove();
  });

  it("scores with the content rules while [content] is there", () => {
    assert.equal(score(), "4.5/5.0");
  });

  it("says which concerns a reload without their sections turned off, and they are off", async () => {
    const lines = await reload("")();
    assert.match(lines, /warn daemon: \[content\] was removed: the content rules no longer apply/);
    assert.match(lines, /warn daemon: \[spamassassin\] was removed: messages are no longer sent to spamd/);
    assert.match(lines, /warn daemon: \[spf\] was removed or enabled = no: SPF is no longer checked/);
    assert.equal(score(), "0.0/5.0");
  });

  it("says so once: a second reload without them is silent about them", async () => {
    const lines = await reload("")();
    assert.doesNotMatch(lines, /\[(content|spamassassin|spf)\]/);
  });

  it("says which are back when the sections return, and they apply again", async () => {
    const lines = await reload(CONTENT + SPAMASSASSIN + SPF.replace("\n", "\nenabled = yes\n"))();
    assert.match(lines, /info daemon: \[content\] is back: the content rules apply again/);
    assert.match(lines, /info daemon: \[spamassassin\] is back: messages are sent to spamd again/);
    assert.match(lines, /info daemon: \[spf\] is back: SPF is checked again/);
    assert.equal(score(), "4.5/5.0");
  });

  it("enabled = no turns SPF off with the same line", async () => {
    const lines = await reload(CONTENT + SPAMASSASSIN + SPF.replace("\n", "\nenabled = no\n"))();
    assert.match(lines, /warn daemon: \[spf\] was removed or enabled = no: SPF is no longer checked/);
    assert.doesNotMatch(lines, /\[(content|spamassassin)\]/);
  });
});
