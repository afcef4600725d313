// A reload of a config file that is no longer one, as a bad copy or a crash leaves it: a file of gigabytes
// that starts with the config (a log appended to it, a disk image), a file of zeros, an empty file. The
// running daemon refuses each, says why, and keeps limiting as before. Read whole, 3 GiB took Bun 26 s,
// during which no request was answered, and then read as empty: the reload put the defaults in place of
// every limit, as an empty file did.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { type DaemonProcess, startDaemonProcess, writeTestConfig } from "../helpers/daemon-process.ts";
import { mainCommand, ROOT } from "../helpers/runtime.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

function cli(args: string[]) {
  const [command, ...rest] = mainCommand(args);
  const result = spawnSync(command, rest, { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const SLOW = { timeout: 60_000 }; // every step spawns the CLI; Deno starts slower than Bun

describe("a reload of a damaged config file (real daemon process)", () => {
  let dir: TempDir;
  let daemon: DaemonProcess;
  let config: string;
  let text: string;
  const reload = () => cli(["reload", "--socket", dir.file("control.sock")]);
  // The limit's second message is deferred; the defaults (no [limit], [thresholds] at 20) would accept it.
  const stillLimits = (sender: string) => {
    const rcpt = ["rcpt", `sender=${sender}`, "recipient=x@example.net", "--socket", daemon.policySocket];
    assert.equal(cli(["check", ...rcpt]).stdout, "action=accept\n");
    assert.match(cli(["check", ...rcpt]).stdout, /^action=defer .* rule=outbound count=2 limit=1\n$/);
  };

  before(async () => {
    dir = makeTempDir();
    config = writeTestConfig(dir, "[limit outbound]\nkey = sender\ncount = 1\ntime = 1h\nmode = strict\n");
    text = readFileSync(config, "utf8");
    daemon = await startDaemonProcess(dir, config);
    await daemon.waitForLog(/info control: listening socket=/);
  }, SLOW);

  after(async () => {
    await daemon?.stop();
    dir?.remove();
  });

  it("refuses a file of 3 GiB that starts with the config, unread, and keeps its limits", SLOW, () => {
    writeFileSync(config, text);
    truncateSync(config, 3 * 1024 ** 3); // sparse: no disk taken
    const result = reload();
    assert.equal(result.status, 1, result.stdout + result.stderr);
    assert.equal(
      result.stderr,
      `mailpolicyd: ${config}:0: (file): cannot read: 3221225472 bytes, more than the 16 MiB a config file ` +
        "may hold\nmailpolicyd: reload refused: the running config stays\n",
    );
    stillLimits("big@example.org");
  });

  it("refuses a file of zeros, naming its first line, and keeps its limits", SLOW, () => {
    writeFileSync(config, Buffer.alloc(text.length));
    const result = reload();
    assert.equal(result.status, 1, result.stdout + result.stderr);
    assert.equal(
      result.stderr,
      `mailpolicyd: ${config}:1: (file): NUL bytes: this is not a line of text (a file zeroed by a crash?)\n` +
        "mailpolicyd: reload refused: the running config stays\n",
    );
    stillLimits("zeroed@example.org");
    writeFileSync(config, text);
    assert.equal(reload().status, 0);
  });

  it("refuses an empty file, which it read as the defaults, and keeps its limits", SLOW, () => {
    writeFileSync(config, ""); // a save that failed on a full disk, a `>` that truncated it
    const result = reload();
    assert.equal(result.status, 1, result.stdout + result.stderr);
    assert.equal(
      result.stderr,
      `mailpolicyd: ${config}:1: (file): no [section], nothing but blank lines and comments: an empty or ` +
        "truncated file? For the defaults, write [daemon]\nmailpolicyd: reload refused: the running config stays\n",
    );
    stillLimits("emptied@example.org");
    writeFileSync(config, text);
    assert.equal(reload().status, 0);
  });
});
