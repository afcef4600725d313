// `mailpolicyd scan FILE`: the verdict, the score and each symbol for a message file or standard input,
// and its exit statuses; run as the CLI runs, under the test's runtime.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { CLEAN_MESSAGES, EXECUTABLE_MESSAGES, message } from "../helpers/content-corpus.ts";
import { RULES } from "../helpers/content-policy.ts";
import { mainCommand, ROOT, runMain, runMainAsync } from "../helpers/runtime.ts";
import { startReplay } from "../helpers/spamd-replay.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

describe("mailpolicyd scan", () => {
  let dir: TempDir;
  let config: string;
  before(() => {
    dir = makeTempDir();
    config = dir.file("m.conf");
    writeFileSync(config, RULES);
    writeFileSync(
      dir.file("exe.eml"),
      EXECUTABLE_MESSAGES["attached message, base64, in an attached message"].message,
    );
    writeFileSync(dir.file("clean.eml"), CLEAN_MESSAGES["a zip of documents"]);
    writeFileSync(dir.file("lottery.eml"), message("=?KOI8-R?B?99nJx9LZ2yDEzNEg18HT?=", "\r\nhi\r\n"));
  });
  after(() => dir?.remove());

  it("an executable in an attached message: exit 1, the verdict, score and symbol", () => {
    const run = runMain(["scan", dir.file("exe.eml"), "--config", config]);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stdout, /^verdict: +reject "executable attachments are refused"$/m);
    assert.match(run.stdout, /^score: +10$/m);
    assert.match(
      run.stdout,
      /^ {2}EXE +10 +executable innermost\.scr \(in attached message\): name ends in \.scr$/m,
    );
  });

  // An attachment's name is the sender's: "invoice<U+202E>fdp.exe", the old trick that shows as
  // "invoiceexe.pdf", turned the rest of the report line round in a terminal that does bidi, and a C1 CSI
  // (U+009B) in it is a control sequence on many terminals. Both reached the terminal as they were.
  it("an attachment's name with a bidi control and a C1 control: printed without them, recognisable", () => {
    const name = "invoice%E2%80%AEfdp%C2%9B31m.exe";
    writeFileSync(
      dir.file("rlo.eml"),
      message(
        "invoice",
        `Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n` +
          `--b\r\nContent-Type: application/octet-stream\r\n` +
          `Content-Disposition: attachment; filename*=UTF-8''${name}\r\n` +
          `Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAA=\r\n--b--\r\n`,
      ),
    );
    const run = runMain(["scan", dir.file("rlo.eml"), "--config", config]);
    assert.equal(run.status, 1, run.stderr);
    assert.doesNotMatch(
      run.stdout,
      /[\x80-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/,
      JSON.stringify(run.stdout),
    );
    assert.match(
      run.stdout,
      /^ {2}EXE +10 +executable invoice\?fdp\?31m\.exe \(attachment\): name ends in \.exe$/m,
    );
  });

  it("a clean message: exit 0, no symbols; a subject rule and a spamtrap from --rcpt", () => {
    const clean = runMain(["scan", dir.file("clean.eml"), "--config", config]);
    assert.equal(clean.status, 0, clean.stderr);
    assert.match(clean.stdout, /^verdict: +accept$/m);
    assert.match(clean.stdout, /^symbols: +\(none\)$/m);
    const run = runMain([
      "scan",
      dir.file("lottery.eml"),
      "--config",
      config,
      "--sender",
      "a@example.org",
      "--rcpt",
      "x@example.net",
      "--rcpt",
      "TRAP@example.org",
    ]);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stdout, /^score: +24\.5$/m);
    assert.match(run.stdout, /^ {2}LOTTERY +4\.5 +Subject "Выигрыш для вас" matches /m);
    assert.match(run.stdout, /^ {2}TRAP +20 +spamtrap recipient TRAP@example.org$/m);
  });

  it("reads standard input with -, bounded by max_scan_size", () => {
    const small = dir.file("small.conf");
    writeFileSync(small, RULES.replace("[content]", "[content]\nmax_scan_size = 1K"));
    const [command, ...args] = mainCommand(["scan", "-", "--config", small]);
    const input = EXECUTABLE_MESSAGES["exe, base64"].message;
    const run = spawnSync(command, args, { cwd: ROOT, input, encoding: "utf8", timeout: 20_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`^scanned: +${input.length} bytes`, "m"));
    assert.match(run.stdout, /CONTENT_NOT_SCANNED +0 +message of \d+ bytes over max_scan_size \(1024\)/);
  });

  it("asks spamd about a message over max_scan_size but within [spamassassin] max_size, as the daemon does", async () => {
    // The front keeps [spamd] max_message_size (10M) of a message: the SpamAssassin concern sends this one.
    const replay = await startReplay();
    try {
      const conf = dir.file("spamd.conf");
      writeFileSync(
        conf,
        `[content]\nmax_scan_size = 1K\n[spamassassin]\naddress = 127.0.0.1:${replay.port}\nmax_size = 4k\n`,
      );
      const file = dir.file("two-k.eml");
      writeFileSync(file, `Subject: hi\n\n${"x".repeat(2000)}\n`);
      const run = await runMainAsync(["scan", file, "--config", conf]);
      assert.equal(run.status, 1, run.stdout + run.stderr);
      assert.match(run.stdout, /^spamd: +score 1000$/m);
      assert.match(run.stdout, /^spam: +reject /m);
      writeFileSync(file, `Subject: hi\n\n${"x".repeat(5000)}\n`);
      const big = await runMainAsync(["scan", file, "--config", conf]);
      assert.match(big.stdout, /^spamd: +not asked: message of 5014 bytes over max_size 4096$/m);
    } finally {
      replay.server.close();
    }
  });

  it("exit 66 at once for a FILE that is no regular file, saying what it is (a pipe goes to -)", async () => {
    // /dev/zero never ends and a FIFO without a writer never starts: read to count their size, scan hung.
    execFileSync("mkfifo", [dir.file("fifo.eml")]);
    mkdirSync(dir.file("folder.eml"));
    const server = net.createServer().listen(dir.file("socket.eml"));
    await once(server, "listening");
    try {
      for (
        const [file, kind] of [
          ["/dev/zero", "a character device"],
          [dir.file("fifo.eml"), "a FIFO \\(named pipe\\)"],
          [dir.file("folder.eml"), "a directory"],
          [dir.file("socket.eml"), "a socket"],
        ]
      ) {
        const run = await runMainAsync(["scan", file, "--config", config]);
        assert.equal(run.status, 66, `${file}: ${run.stderr}`);
        assert.match(
          run.stderr,
          new RegExp(
            `^mailpolicyd scan: cannot read ${file}: is ${kind}, not a regular file; give a message file, or - for standard input\n$`,
          ),
        );
        assert.equal(run.stdout, "");
      }
    } finally {
      server.close();
    }
  });

  it("exit 66 at once for - when standard input is a device: /dev/zero never ends, /dev/null holds none", () => {
    const [command, ...args] = mainCommand(["scan", "-", "--config", config]);
    for (const device of ["/dev/zero", "/dev/null"]) {
      const input = openSync(device, "r");
      try {
        const run = spawnSync(command, args, {
          cwd: ROOT,
          stdio: [input, "pipe", "pipe"],
          encoding: "utf8",
          timeout: 20_000,
        });
        assert.equal(run.status, 66, `${device}: ${run.stderr}`);
        assert.equal(
          run.stderr,
          "mailpolicyd scan: cannot read -: standard input is a character device, not a pipe, a file or a " +
            "terminal: pipe the message to it\n",
        );
      } finally {
        closeSync(input);
      }
    }
  });

  it("exit 64 for bad arguments, 66 for an unreadable file, 78 for a bad config", () => {
    assert.equal(runMain(["scan"]).status, 64);
    assert.equal(runMain(["scan", "a", "b"]).status, 64);
    const missing = runMain(["scan", dir.file("nope.eml"), "--config", config]);
    assert.equal(missing.status, 66);
    assert.match(missing.stderr, /cannot read .*nope\.eml/);
    const bad = dir.file("bad.conf");
    writeFileSync(bad, "[content]\n[rule x]\nsubject = /(/\n");
    const invalid = runMain(["scan", dir.file("clean.eml"), "--config", bad]);
    assert.equal(invalid.status, 78);
    assert.match(invalid.stderr, /bad\.conf:3: rule x\.subject: invalid regular expression/);
  });
});
