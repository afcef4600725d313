// spamc (Debian's, SpamAssassin 4.0) against the spamd front of an in-process daemon, over loopback TCP
// and the Unix socket: the exit codes and output spamc gives with a real spamd. Scores come from a test
// concern reading a marker in the body (test/helpers/marker-concern.ts).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import type { Daemon } from "../../src/daemon.ts";
import type { MarkerConcern } from "../helpers/marker-concern.ts";
import { startFrontDaemon } from "../helpers/spamd-front.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

/** spamc without blocking this process (the daemon runs in it). */
function spamc(args: string[], input = ""): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("spamc", args, { timeout: 20_000 });
    let stdout = "";
    child.stdout.on("data", (chunk) => stdout += chunk);
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout }));
    child.stdin.end(input);
  });
}

const CLEAN = "Subject: hello\nFrom: a@example.org\n\nnothing to see\n";
const MARKED = "Subject: offer\nFrom: b@example.org\n\nMARKER-SCORE=7.5\n";

describe("spamc against the spamd front", () => {
  let dir: TempDir;
  let daemon: Daemon;
  let marker: MarkerConcern;
  let lines: string[];
  let tcp: string[];

  before(async () => {
    dir = makeTempDir();
    const port = await freePort();
    tcp = ["-d", "127.0.0.1", "-p", String(port)];
    ({ daemon, marker, lines } = await startFrontDaemon(
      dir,
      "none",
      `listen = 127.0.0.1:${port}\nsocket = ${dir.file("spamd.sock")}\nmark_threshold = 5\n`,
    ));
  });
  after(() => {
    daemon?.stop();
    dir?.remove();
  });

  it("-K (PING): exit 0", async () => {
    const result = await spamc([...tcp, "-K"]);
    assert.equal(result.status, 0);
    assert.match(result.stdout, /^SPAMD\/1\.5 0/);
  });

  it("-c: score/threshold, exit 1 for spam and 0 for ham", async () => {
    assert.deepEqual(await spamc([...tcp, "-c"], MARKED), { status: 1, stdout: "7.5/5.0\n" });
    assert.deepEqual(await spamc([...tcp, "-c"], CLEAN), { status: 0, stdout: "0.0/5.0\n" });
  });

  it("-R: the score line and the report", async () => {
    const result = await spamc([...tcp, "-R"], MARKED);
    assert.equal(result.status, 0);
    assert.match(result.stdout, /^7\.5\/5\.0\n/);
    assert.match(result.stdout, /7\.5 TEST_MARKER +marker in the body/);
  });

  it("-y: the symbols; -E: exit 1 for spam, the message with X-Spam headers (PROCESS)", async () => {
    // As with a real spamd: SPAMC/1.5's SYMBOLS has no line end.
    assert.deepEqual(await spamc([...tcp, "-y"], MARKED), { status: 0, stdout: "TEST_MARKER" });
    const processed = await spamc(["-U", dir.file("spamd.sock"), "-E"], MARKED);
    assert.equal(processed.status, 1);
    assert.match(
      processed.stdout,
      /^X-Spam-Flag: YES\r?\nX-Spam-Level: \*{7}\r?\nX-Spam-Status: Yes, score=7\.50 required=5\.00/,
    );
    assert.ok(processed.stdout.endsWith(MARKED));
  });

  it("-E and -R of a message near -s with 150 long rules: marked with rule names only, the report whole", async () => {
    // spamc holds the reply in -s bytes and 16 KB more (libspamc's EXPANSION_ALLOWANCE): for a message near
    // -s, what PROCESS adds must stay under 16 KB. The tests= list of 150 names of 190 characters took
    // 28 KB: spamc gave up (EX_TOOBIG) and passed the message on unmarked, exit 0.
    const message = `Subject: many rules\nFrom: c@example.org\n\nMARKER-RULES=150\n${
      "filler line\n".repeat(1600)
    }`;
    const size = String(message.length + 100);
    const processed = await spamc([...tcp, "-s", size, "-E"], message);
    assert.equal(processed.status, 1, processed.stdout.slice(0, 300));
    const head = processed.stdout.slice(0, processed.stdout.indexOf("\nSubject: many rules"));
    assert.match(
      head,
      /^X-Spam-Flag: YES\nX-Spam-Level: \*{7}\nX-Spam-Status: Yes, score=7\.50 required=5\.00 tests=/,
    );
    // Only rule names, as SpamAssassin's tests= (an item "... N more rules not shown" was a rule to a filter
    // splitting the list at commas); the log says how many were left out.
    const tests = head.slice(head.indexOf("tests=") + 6).replace(/\n\t/g, "").split(",");
    tests.forEach((name, i) => assert.equal(name, `TEST_LONG_RULE_${i + 1}_`.padEnd(190, "X")));
    assert.ok(tests.length > 70 && tests.length < 150, `${tests.length} names`);
    const said =
      `spamd: X-Spam-Status tests=: rule names left out, over what spamc holds shown=${tests.length} ` +
      `not_shown=${150 - tests.length} bytes=16384`;
    assert.ok(lines.some((line) => line.includes(said)), lines.slice(-3).join("\n"));
    assert.ok(processed.stdout.endsWith(message));
    const report = await spamc([...tcp, "-s", size, "-R"], message);
    assert.equal(report.status, 0);
    assert.match(report.stdout, /^7\.5\/5\.0\n/);
    assert.match(report.stdout, /\n {5}\.\.\. \d+ more rules not shown\n$/);
  });

  // spamc holds the reply's body in -s bytes and 16 KB more (libspamc's EXPANSION_ALLOWANCE), REPORT's score
  // line counted in it; over that it is EX_TOOBIG, and spamc prints "0/0" for -R and an empty line for -y,
  // exit 0. A real spamd's report of 150 long rules is over it too at -s 1000; the front's must not be.
  const MANY_RULES = "Subject: many rules\nFrom: c@example.org\n\nMARKER-RULES=150\n";

  it("-R with -s under 16 KB and 150 long rules: the score line, and the rules that fit", async () => {
    // The report, within Exim's 32 KB bound, was over it at -s 1000.
    const report = await spamc([...tcp, "-s", "1000", "-R"], MANY_RULES);
    assert.equal(report.status, 0);
    assert.match(report.stdout, /^7\.5\/5\.0\nContent analysis details: +\(7\.50 points, 5\.00 required\)\n/);
    assert.match(report.stdout, /\n +0\.1 TEST_LONG_RULE_1_X+ rule 1 of a long list/);
    assert.match(report.stdout, /\n {5}\.\.\. \d+ more rules not shown\n$/);
  });

  it("-y with -s under 16 KB and 150 long rules: only rule names, those that fit; the log says the rest", async () => {
    // The list of 150 names of 190 characters (28 KB) had no bound; then it ended in an item
    // "... N more rules not shown", which a script splitting -y's line at commas took for a rule.
    const symbols = await spamc([...tcp, "-s", "1000", "-y"], MANY_RULES);
    assert.equal(symbols.status, 0);
    const names = symbols.stdout.split(",");
    // spamd's PROTOCOL: "a line listing all the rule names, separated by commas".
    names.forEach((name, i) => assert.equal(name, `TEST_LONG_RULE_${i + 1}_`.padEnd(190, "X")));
    assert.ok(names.length > 80 && names.length < 150, `${names.length} names`);
    const said =
      `spamd: SYMBOLS: rule names left out, over what spamc holds shown=${names.length} not_shown=${
        150 - names.length
      } bytes=16384`;
    assert.ok(lines.some((line) => line.includes(said)), lines.slice(-3).join("\n"));
  });

  it("-y and -E with 150 long rules: the list that leaves names out is built once for the reply and its log line", async () => {
    // Each rule name counts its reads: a CHECK reads them for the "scanned" line and the metrics; SYMBOLS
    // and PROCESS read them once more, for the one list that is both answered and counted in the log (it
    // was built twice, once for each).
    const counted = "Subject: counted\nFrom: c@example.org\n\nMARKER-COUNTED-RULES=150\n";
    const readsPerName = async (flag: string, status: number, said = "") => {
      const [reads, logged] = [marker.nameReads.count, lines.length];
      const result = await spamc([...tcp, flag], counted);
      assert.equal(result.status, status, result.stdout.slice(0, 200));
      const saidNow = lines.slice(logged).some((line) => line.includes(said));
      assert.ok(saidNow, `${said} not in ${lines.slice(logged).join("\n")}`);
      return (marker.nameReads.count - reads) / 150;
    };
    const check = await readsPerName("-c", 1);
    const left = "rule names left out, over what spamc holds";
    assert.equal(await readsPerName("-y", 0, `spamd: SYMBOLS: ${left}`) - check, 1, "SYMBOLS");
    assert.equal(await readsPerName("-E", 1, `spamd: X-Spam-Status tests=: ${left}`) - check, 1, "PROCESS");
  });

  it("PROCESS of a message without headers (it starts with its empty line) leaves its body as it came", async () => {
    // SpamAssassin reads no header before that empty line; the front took the body for headers and
    // dropped its lines that start like its own X-Spam-* ones.
    for (const eol of ["\n", "\r\n"]) {
      const body = `X-Spam-Note: a line of the body${eol}MARKER-SCORE=7.5${eol}`;
      const processed = await spamc(tcp, `${eol}${body}`);
      assert.equal(processed.status, 0);
      assert.equal(
        processed.stdout,
        `X-Spam-Flag: YES${eol}X-Spam-Level: *******${eol}X-Spam-Status: Yes, score=7.50 required=5.00 tests=TEST_MARKER${eol}${eol}${body}`,
      );
    }
  });

  it("PROCESS keeps a header's bare CR and what follows it on its line, as SpamAssassin does", async () => {
    // JavaScript's multiline ^ matches after a bare CR too: the "X-Spam-Flag: NO" after the one in this
    // Subject was dropped as an old X-Spam-* field, with the LF ending the line, and the From field that
    // followed became part of the Subject. Debian's spamd 4.0.1 keeps "Subject: offer\rX-Spam-Flag: NO".
    const header = "Subject: offer\rX-Spam-Flag: NO\nFrom: b@example.org\n";
    const processed = await spamc(tcp, `${header}X-Spam-Flag: NO\n\nMARKER-SCORE=7.5\n`);
    assert.equal(processed.status, 0);
    assert.equal(
      processed.stdout,
      "X-Spam-Flag: YES\nX-Spam-Level: *******\nX-Spam-Status: Yes, score=7.50 required=5.00 tests=TEST_MARKER\n" +
        `${header}\nMARKER-SCORE=7.5\n`,
    );
  });

  it("a reload's new thresholds apply to the next scan", async () => {
    const spamd = { ...daemon.config.spamd!, markThreshold: 8, rejectThreshold: 20 };
    daemon.reload({ ...daemon.config, spamd });
    assert.deepEqual(await spamc([...tcp, "-c"], MARKED), { status: 0, stdout: "7.5/8.0\n" });
    daemon.reload({ ...daemon.config, spamd: { ...spamd, markThreshold: 5, rejectThreshold: 10 } });
    assert.deepEqual(await spamc([...tcp, "-c"], MARKED), { status: 1, stdout: "7.5/5.0\n" });
  });

  it("-r (REPORT_IFSPAM): nothing for ham", async () => {
    assert.deepEqual(await spamc([...tcp, "-r"], CLEAN), { status: 0, stdout: "" });
    assert.match(
      (await spamc([...tcp, "-r"], MARKED)).stdout,
      /^Content analysis details: +\(7\.50 points, 5\.00 required\)\n[^]*TEST_MARKER/,
    );
  });
});

/** A front daemon on a loopback port of its own for the calling describe, `extra` [spamd] lines after listen. */
function frontOnPort(extra: string) {
  const started = {} as { dir: TempDir; front: Awaited<ReturnType<typeof startFrontDaemon>>; port: number };
  before(async () => {
    started.dir = makeTempDir();
    started.port = await freePort();
    started.front = await startFrontDaemon(
      started.dir,
      "none",
      `listen = 127.0.0.1:${started.port}\n${extra}`,
    );
  });
  after(() => {
    started.front?.daemon.stop();
    started.dir?.remove();
  });
  return started;
}

describe("the spamd front past max_scans", () => {
  const started = frontOnPort("max_scans = 1\n");

  it("answers EX_TEMPFAIL at once, counts an error, logs the refusal; a freed slot scans again", async () => {
    const { front, port } = started;
    // One scan still sending its head holds the only slot.
    const holder = net.connect(port, "127.0.0.1");
    await once(holder, "connect");
    holder.write("CHECK SPAMC/1.5\r\n");
    const refused = net.connect(port, "127.0.0.1");
    let reply = "";
    refused.on("data", (chunk) => reply += chunk);
    refused.end("PING SPAMC/1.5\r\n\r\n");
    await once(refused, "close");
    assert.equal(reply, "SPAMD/1.0 75 EX_TEMPFAIL busy: too many scans in flight\r\n");
    assert.equal(front.daemon.metrics.spamFront?.scans.get("error"), 1);
    assert.ok(
      front.lines.some((line) =>
        /spamd: too many scans in flight: answering EX_TEMPFAIL max_scans=1 refused=1/.test(line)
      ),
      front.lines.join("\n"),
    );
    // spamc without its safe fallback (-x) reports the failure instead of "ham".
    assert.notEqual((await spamc(["-d", "127.0.0.1", "-p", String(port), "-x", "-c"], CLEAN)).status, 0);
    holder.destroy();
    await once(holder, "close");
    // The slot is free once the front has seen the close: spamc -K until it is (PONG, exit 0).
    let status: number | null = null;
    for (let i = 0; i < 40 && status !== 0; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await spamc(["-d", "127.0.0.1", "-p", String(port), "-K"])).status;
    }
    assert.equal(status, 0);
  });
});

describe("the spamd front's max_scans with listen and socket", () => {
  const started = frontOnPort("socket = spamd.sock\nmax_scans = 1\n");

  it("holds max_scans connections over both together: the socket refuses while TCP holds the slot", async () => {
    const { front, port, dir } = started;
    const holder = net.connect(port, "127.0.0.1");
    await once(holder, "connect");
    holder.write("CHECK SPAMC/1.5\r\n");
    // A second TCP connection refused: the holder has the slot.
    assert.equal(
      await ping({ port, host: "127.0.0.1" }),
      "SPAMD/1.0 75 EX_TEMPFAIL busy: too many scans in flight\r\n",
    );
    // max_scans is the front's, not each server's: the Unix socket is full too (two messages, not one).
    assert.equal(
      await ping({ path: dir.file("spamd.sock") }),
      "SPAMD/1.0 75 EX_TEMPFAIL busy: too many scans in flight\r\n",
    );
    assert.equal(front.daemon.metrics.spamFront?.scans.get("error"), 2);
    holder.destroy();
    await once(holder, "close");
  });
});

/** A PING over `where`, the client's end sent at once: the front's whole reply. */
async function ping(where: net.NetConnectOpts): Promise<string> {
  const client = net.connect(where);
  let reply = "";
  client.on("data", (chunk) => reply += chunk);
  client.end("PING SPAMC/1.5\r\n\r\n");
  await once(client, "close");
  return reply;
}

describe("spamc -E -x of a message over the front's max_message_size", () => {
  const started = frontOnPort("max_message_size = 2k\n");
  const BIG = `Subject: big\nFrom: a@example.org\n\n${"line of body\n".repeat(300)}`;
  const tcp = () => ["-d", "127.0.0.1", "-p", String(started.port)];

  /** Sends `message` with spamc -x -E -s 100000: spamc exits 74 and prints nothing; the warning logged. */
  async function refusedWarning(message: string): Promise<string> {
    const { front } = started;
    const logged = front.lines.length;
    assert.deepEqual(await spamc([...tcp(), "-s", "100000", "-x", "-E"], message), {
      status: 74,
      stdout: "",
    });
    const said = front.lines.slice(logged).find((line) => line.includes("max_message_size refused"));
    assert.ok(said, front.lines.slice(logged).join("\n"));
    assert.match(
      said,
      /warn spamd: PROCESS of a message over max_message_size refused \(spamc -x exits 74\)/,
    );
    return said;
  }

  it("is refused and said in the log; spamc's -s within the bound passes it on unchanged, exit 0", async () => {
    // Over its bound the front holds only the message's first 2 KB, and cannot answer it whole: spamc -x
    // prints nothing and exits 74 for any refusal (an Exim pipe transport bounces on it), so the log says so.
    const said = await refusedWarning(BIG);
    assert.match(said, / size=3934 max_message_size=2048 /);
    assert.match(said, /hint="spamc -s at most max_message_size passes larger messages on unchanged"/);
    // Without -x, spamc passes it on unchanged; with -s within the bound, spamc does so itself, even with -x.
    assert.deepEqual(await spamc([...tcp(), "-s", "100000", "-E"], BIG), { status: 0, stdout: BIG });
    assert.deepEqual(await spamc([...tcp(), "-s", "2048", "-x", "-E"], BIG), { status: 0, stdout: BIG });
  });

  it("is said in the log too when the engine defers it (EX_TEMPFAIL)", async () => {
    const said = await refusedWarning(BIG.replace("Subject: big", "Subject: MARKER-DEFER"));
    assert.match(said, / size=3943 max_message_size=2048 /);
  });
});

describe("the spamd front's max_message_size after a reload", () => {
  const started = frontOnPort("max_message_size = 2k\n");

  it("the report names the bound the front cut at, not a reloaded one it cannot apply yet", async () => {
    const { front, port } = started;
    const daemon = front.daemon;
    daemon.reload({ ...daemon.config, spamd: { ...daemon.config.spamd!, maxMessageSize: 4096 } });
    const client = net.connect(port, "127.0.0.1");
    let reply = "";
    client.on("data", (chunk) => reply += chunk);
    client.end(`REPORT SPAMC/1.2\r\nContent-length: 3000\r\n\r\n${"x".repeat(3000)}`);
    await once(client, "close");
    assert.match(reply, /^not scanned: over 2048 bytes \(message of 3000 bytes\)$/m, reply);
  });
});
