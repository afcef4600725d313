// Attachments where a mail reader finds them and a simpler reading would not, through a real Exim (exim -bd,
// delivering into a maildir) whose DATA ACL asks the daemon's spamd front (the shipped snippet) and through
// it the content rules: a message in a multipart/digest whose part has no Content-Type (an attached message
// by default, RFC 2046 5.1.5, as mutt and Thunderbird show it) carrying a program; a script under a plain
// `filename=` beside an RFC 2231 `filename*=` that names a PDF (a reader that does not know RFC 2231 saves
// the script); a script in Outlook's winmail.dat (TNEF) under the long name Outlook saves it as, which
// Debian's tnef(1) lists; a zip of a PDF with a zip of a script appended (unzip and Python's zipfile list only
// the script). Each is refused at DATA; a digest of plain messages, a PDF named in both forms and
// a winmail.dat of a PDF are delivered. The messages go in with swaks --data, as a mailer sends them.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { multipart, part, tnef, type TnefInput, windowsExecutable } from "../helpers/content-corpus.ts";
import { type ContentExim, mailText, startContentExim } from "../helpers/exim-content.ts";

const SLOW = { timeout: 120_000 };
const TEXT = part({ type: "text/plain; charset=utf-8", body: "See the attachment.\r\n", encoding: "7bit" });

const mail = (subject: string, body: string) => mailText(subject, `MIME-Version: 1.0\r\n${body}`);

/** A multipart/digest whose parts are the messages, each without header lines of its own. */
function digest(messages: string[]): string {
  return multipart("digest", messages.map((message) => `\r\n${message}`));
}

/** A message of one text part and one attachment whose Content-Disposition parameters are `parameters`. */
function withAttachment(subject: string, parameters: string, body: string): string {
  const attachment = "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: 7bit\r\n" +
    `Content-Disposition: attachment; ${parameters}\r\n\r\n${body}`;
  return mail(subject, multipart("mixed", [TEXT, attachment]));
}

/** Outlook's winmail.dat of `files`, after Debian's tnef(1) listed exactly `listed` in it. */
function winmail(exim: ContentExim, files: TnefInput[], listed: string[]): string {
  const path = exim.setup.dir.file(`winmail-${listed.join("-")}.dat`);
  writeFileSync(path, tnef(files));
  const listing = spawnSync("tnef", ["--list", "--file", path], { encoding: "utf8", timeout: 20_000 });
  assert.equal(listing.status, 0, listing.stderr);
  // Each line: the file's name as it would be saved, "\t|\t", its title.
  assert.deepEqual(listing.stdout.trim().split("\n").map((line) => line.split("\t|")[0]), listed);
  return part({ type: "application/ms-tnef", name: "winmail.dat", body: tnef(files) });
}

describe("hidden attachments through Exim's spam = and the content rules", () => {
  let exim: ContentExim;
  before(async () => {
    exim = await startContentExim();
  }, SLOW);
  after(async () => {
    await exim?.stop();
  });

  it("a program in a message of a digest, the part without a Content-Type", SLOW, async () => {
    const program = part({
      type: "application/octet-stream",
      name: "invoice.exe",
      body: windowsExecutable(3000),
    });
    const inner = mail("inner", multipart("mixed", [TEXT, program]));
    await exim.refused("digest-program", mail("digest-program", digest([mail("first", TEXT), inner])));
  });

  it("a digest of plain messages: delivered", SLOW, async () => {
    await exim.accepted(
      "digest-plain",
      mail("digest-plain", digest([mail("first", TEXT), mail("second", TEXT)])),
    );
  });

  it("a script under filename= beside an RFC 2231 filename*= naming a PDF", SLOW, async () => {
    const parameters = `filename*=utf-8''invoice.pdf;\r\n filename="invoice.js"`;
    await exim.refused("fallback-js", withAttachment("fallback-js", parameters, "WScript.Echo('run');"));
  });

  it("a PDF named in both forms: delivered", SLOW, async () => {
    const parameters = `filename*=utf-8''invoice.pdf;\r\n filename="invoice.pdf"`;
    await exim.accepted("fallback-pdf", withAttachment("fallback-pdf", parameters, "%PDF-1.4"));
  });

  it("a script in winmail.dat under its long name", SLOW, async () => {
    const script = { title: "INVOIC~1.PDF", longName: "invoice.pdf.js", data: "WScript.Echo('run');" };
    const body = multipart("mixed", [TEXT, winmail(exim, [script], ["invoice.pdf.js"])]);
    await exim.refused("tnef-script", mail("tnef-script", body));
  });

  it("a winmail.dat of a PDF: delivered", SLOW, async () => {
    const pdf = { title: "REPORT~1.PDF", longName: "report 2026.pdf", data: "%PDF-1.4\n" };
    const body = multipart("mixed", [TEXT, winmail(exim, [pdf], ["report 2026.pdf"])]);
    await exim.accepted("tnef-pdf", mail("tnef-pdf", body));
  });

  it("a zip of a script appended to a zip of a PDF", SLOW, async () => {
    const dir = exim.setup.dir.file("concatenated");
    mkdirSync(dir);
    writeFileSync(`${dir}/report.pdf`, "%PDF-1.4\n");
    writeFileSync(`${dir}/run.vbs`, "WScript.Echo('run')\n");
    for (const [archive, file] of [["report.zip", "report.pdf"], ["run.zip", "run.vbs"]]) {
      const zipped = spawnSync("zip", ["-q", archive, file], { cwd: dir, timeout: 20_000 });
      assert.equal(zipped.status, 0, String(zipped.stderr));
    }
    writeFileSync(
      `${dir}/docs.zip`,
      Buffer.concat([readFileSync(`${dir}/report.zip`), readFileSync(`${dir}/run.zip`)]),
    );
    const listed = spawnSync("unzip", ["-Z1", `${dir}/docs.zip`], { encoding: "utf8", timeout: 20_000 });
    assert.equal(listed.stdout.trim(), "run.vbs", listed.stderr);
    const attachment = part({
      type: "application/zip",
      name: "docs.zip",
      body: readFileSync(`${dir}/docs.zip`),
    });
    await exim.refused("concatenated-zip", mail("concatenated-zip", multipart("mixed", [TEXT, attachment])));
  });
});
