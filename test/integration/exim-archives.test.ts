// Programs in tar, gzip and zip attachments, through a real Exim (exim -bd, delivering into a maildir) whose DATA
// ACL asks the daemon's spamd front (the shipped snippet) and through it the content rules: a .tar.gz
// holding invoice.exe, a .tgz holding a program renamed photo.jpg, a plain .tar and a gzipped program (each
// archive written by Debian's tar and gzip) are refused at DATA, as amavis and ClamAV refuse them; a clean
// .tar.gz is delivered intact, its bytes what tar wrote; a zip of 900 tables within zip_max_bytes has its
// last entry, a program named .csv, found by its first bytes; a 17 KB .tar.gz of gzips of empty members (one
// call into zlib each) is read only to zip_max_message_entries, delivered, and its report says so. The
// messages go in with swaks --data, as a mailer sends them.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { multipart, part, windowsExecutable } from "../helpers/content-corpus.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { type EximDaemon, prepareEximDir, swaksWith } from "../helpers/exim.ts";
import { type ContentExim, mailText, startContentExim } from "../helpers/exim-content.ts";
import { gzipOf, noiseFile, tarGzOf, tarOf, zipOf } from "../helpers/real-archives.ts";
import { freePort } from "../helpers/smtp-receiver.ts";
import { type FrontDaemon, startFrontDaemon, startSpamTestExim } from "../helpers/spamd-front.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const SLOW = { timeout: 120_000 };
const TEXT = part({ type: "text/plain; charset=utf-8", body: "See the attachment.\r\n", encoding: "7bit" });
const program = windowsExecutable(3000);

/** A message of a text part and `attachment`, as a mailer writes it. */
const mail = (subject: string, attachment: string) =>
  mailText(subject, `MIME-Version: 1.0\r\n${multipart("mixed", [TEXT, attachment])}`);

describe("tar and gzip attachments through Exim's spam = and the content rules", () => {
  let exim: ContentExim;
  before(async () => {
    exim = await startContentExim();
  }, SLOW);
  after(async () => {
    await exim?.stop();
  });

  it("a .tar.gz holding invoice.exe", SLOW, async () => {
    const body = tarGzOf([{ name: "readme.txt", data: "Please pay.\n" }, {
      name: "invoice.exe",
      data: program,
    }]);
    const attachment = part({ type: "application/gzip", name: "invoice.tar.gz", body });
    await exim.refused("tar-gz-exe", mail("tar-gz-exe", attachment));
  });

  it("a .tgz holding a program named photo.jpg", SLOW, async () => {
    const body = tarGzOf([{ name: "photos/photo.jpg", data: program }]);
    const attachment = part({ type: "application/octet-stream", name: "photos.tgz", body });
    await exim.refused("tgz-renamed", mail("tgz-renamed", attachment));
  });

  it("a .tar holding invoice.exe, and invoice.exe gzipped", SLOW, async () => {
    const tar = part({
      type: "application/x-tar",
      name: "docs.tar",
      body: tarOf([{ name: "invoice.exe", data: program }]),
    });
    await exim.refused("tar-exe", mail("tar-exe", tar));
    const gz = part({
      type: "application/gzip",
      name: "invoice.gz",
      body: gzipOf({ name: "invoice.exe", data: program }),
    });
    await exim.refused("gz-exe", mail("gz-exe", gz));
  });

  it("a zip of 900 tables that fits zip_max_bytes, a program renamed .csv last", SLOW, async () => {
    // 3.7 MB as Debian's zip writes it, within the default 4 MB: every entry's first bytes are read.
    let seed = 7;
    const digits = () => (seed = (seed * 48271) % 2147483647) % 1_000_000;
    const table = () => Array.from({ length: 440 }, (_, row) => `${row},${digits()},${digits()}\n`).join("");
    const files = Array.from({ length: 900 }, (_, i) => ({ name: `month-${i}.csv`, data: table() }));
    const body = zipOf([...files, { name: "month-900.csv", data: program }]);
    assert.ok(body.length > 3_500_000 && body.length < 4_000_000, `${body.length} bytes`);
    const attachment = part({ type: "application/zip", name: "tables.zip", body });
    await exim.refused("zip-tables", mail("zip-tables", attachment));
  });

  it("a clean .tar.gz: delivered intact", SLOW, async () => {
    const files = [{ name: "report.pdf", data: "%PDF-1.4\n" }, noiseFile("data/figures.bin", 40_000)];
    const body = tarGzOf(files);
    const attachment = part({ type: "application/gzip", name: "report.tar.gz", body });
    const text = mail("tar-gz-clean", attachment);
    const sent = await exim.send("tar-gz-clean", text);
    assert.equal(sent.status, 0, sent.output);
    await waitFor(() => exim.delivered("tar-gz-clean").length === 1, 20_000, "delivery");
    const delivered = exim.delivered("tar-gz-clean")[0];
    const sentBody = text.slice(text.indexOf("\r\n\r\n") + 4).replace(/\r\n/g, "\n");
    assert.equal(delivered.slice(delivered.indexOf("\n\n") + 2).trimEnd(), sentBody.trimEnd());
    // The attachment's base64 decoded from the delivered message is what tar wrote, and tar reads it.
    const encoded = delivered.slice(delivered.indexOf("report.tar.gz")).split("\n\n")[1].split("\n--")[0];
    const received = Buffer.from(encoded, "base64");
    assert.deepEqual(new Uint8Array(received), body);
    const listing = spawnSync("tar", ["-tzf", "-"], { input: received, encoding: "latin1" });
    assert.deepEqual(listing.stdout.trim().split("\n"), ["report.pdf", "data/figures.bin"]);
  });
});

// 195 gzips of 1000 empty members each (`gzip -n` of an empty file, 20 bytes) in a .tar.gz by Debian's tar:
// 195 000 members, every one read before (a call into zlib each), now 4804 of them.
const emptyMember = gzipOf({ name: "empty", data: "" }, false);
const emptyMembers = Buffer.concat(Array.from({ length: 1000 }, () => emptyMember));
const gzipsInTarGz = tarGzOf(
  Array.from({ length: 195 }, (_, i) => ({ name: `p/part-${i}.gz`, data: emptyMembers })),
);
const gzipsPart = part({ type: "application/gzip", name: "parts.tar.gz", body: gzipsInTarGz });
const BOUND_SAID = /parts\.tar\.gz\/p\/part-4\.gz: members beyond zip_max_message_entries/;
/** A header's value, its folded lines joined. */
const headerOf = (mail: string, name: string) =>
  mail.split("\n\n")[0].replace(/\n[ \t]+/g, " ").match(new RegExp(`^${name}: ?(.*)$`, "m"))?.[1];

describe("more archive entries than zip_max_message_entries, through the shipped snippet", () => {
  // mark_threshold 0: every message gets the snippet's X-Spam-Report, the report Exim was given.
  let exim: ContentExim;
  before(async () => {
    exim = await startContentExim({ markThreshold: 0 });
  }, SLOW);
  after(async () => {
    await exim?.stop();
  });

  it(
    "answered and delivered intact, partly scanned in its report and the front's log line",
    SLOW,
    async () => {
      assert.ok(gzipsInTarGz.length < 20_000, `${gzipsInTarGz.length} bytes`);
      const text = mail("entries-bound", gzipsPart);
      await exim.accepted("entries-bound", text);
      const delivered = exim.delivered("entries-bound")[0];
      assert.match(headerOf(delivered, "X-Spam-Report") ?? "", /Symbol: CONTENT_PARTLY_SCANNED\(0\.00\)/);
      assert.equal(headerOf(delivered, "X-Spam-Score"), "0.0");
      const sentBody = text.slice(text.indexOf("\r\n\r\n") + 4).replace(/\r\n/g, "\n");
      assert.equal(delivered.slice(delivered.indexOf("\n\n") + 2).trimEnd(), sentBody.trimEnd());
      assert.match(exim.setup.daemon.logs(), /spamd: scanned .*symbols=CONTENT_PARTLY_SCANNED/);
    },
  );

  it("a program in a part after it is still refused", SLOW, async () => {
    const exe = part({ type: "application/octet-stream", name: "setup.exe", body: program });
    const text = mailText(
      "entries-bound-exe",
      `MIME-Version: 1.0\r\n${multipart("mixed", [TEXT, gzipsPart, exe])}`,
    );
    await exim.refused("entries-bound-exe", text);
  });
});

describe("more archive entries than zip_max_message_entries, in SpamAssassin's report to Exim", () => {
  // Exim's spamd_address in SpamAssassin's protocol: $spam_report is the report table, each symbol with
  // its description, which the test ACL copies into X-Test-Report.
  let dir: TempDir;
  let front: FrontDaemon;
  let exim: EximDaemon;
  before(async () => {
    dir = makeTempDir();
    prepareEximDir(dir);
    const port = await freePort();
    front = await startFrontDaemon(
      dir,
      "none",
      `listen = 127.0.0.1:${port}\nmark_threshold = 5\nreject_threshold = 10\n` +
        `[content]\n[rule executable]\nattachments = executable\nscore = 10\naction = reject\n`,
    );
    exim = await startSpamTestExim(dir, `127.0.0.1 ${port}`);
  }, SLOW);
  after(async () => {
    await exim?.stop();
    front?.daemon.stop();
    dir?.remove();
  });

  it("says which bound stopped the scan, and where", SLOW, async () => {
    const path = dir.file("entries-bound.eml");
    writeFileSync(path, mail("entries-bound", gzipsPart), "latin1");
    const sent = await swaksWith([
      ...["--server", "127.0.0.1", "--port", String(exim.port), "--helo", "client.example"],
      ...["--from", "alice@example.org", "--to", "user@example.net", "--data", `@${path}`],
    ]);
    assert.equal(sent.status, 0, sent.output);
    const maildir = dir.file("maildir/new");
    await waitFor(() => existsSync(maildir) && readdirSync(maildir).length === 1, 20_000, "delivery");
    const delivered = readFileSync(`${maildir}/${readdirSync(maildir)[0]}`, "utf8");
    const report = headerOf(delivered, "X-Test-Report") ?? "";
    assert.match(report, /CONTENT_PARTLY_SCANNED/, report);
    assert.match(report, BOUND_SAID, report);
    assert.equal(headerOf(delivered, "X-Test-Score"), "0.0");
  });
});
