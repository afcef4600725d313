// The content rules on files made by real tools rather than by the test's own writers: zips from Debian's
// zip (ZipCrypto with -P, an entry streamed from standard input with its sizes in a data descriptor, zips
// inside zips, directories, Zip64 with -fz; a Unicode Path name from Python's zipfile, as unzip reads it), and messages from Python's email package (RFC 2231 and RFC 2047 names, an
// attached message, a Subject it encodes itself). No shell: every tool gets fixed arguments.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { scanMessage } from "../../src/content/scan.ts";
import { windowsExecutable } from "../helpers/content-corpus.ts";
import { contentPolicy, messageRequest, RULES } from "../helpers/content-policy.ts";
import { makeTempDir, type TempDir } from "../helpers/temp-dir.ts";

const policy = contentPolicy(RULES.replace("[content]", "[content]\nzip_max_depth = 3"));

function run(command: string, args: string[], cwd: string, input?: Uint8Array): void {
  const result = spawnSync(command, args, { cwd, input, encoding: "latin1", timeout: 20_000 });
  assert.equal(result.status, 0, `${command} ${args.join(" ")}: ${result.stderr}`);
}

// Builds a message with Python's email package: the Subject, a text part, then each attachment (a file
// in the directory, with the name and type given), the last one optionally as an attached message.
const PYTHON_MESSAGE = `
import sys, json
from email.message import EmailMessage
from email import policy
spec = json.load(open(sys.argv[1]))
def build(spec):
    msg = EmailMessage()
    msg["From"] = "sender@example.org"
    msg["To"] = "someone@example.net"
    msg["Subject"] = spec["subject"]
    msg.set_content("Hello,\\nthe files.\\n")
    for a in spec.get("attachments", []):
        data = open(a["file"], "rb").read()
        main, sub = a["type"].split("/")
        msg.add_attachment(data, maintype=main, subtype=sub, filename=a["name"])
    if "attached" in spec:
        msg.add_attachment(build(spec["attached"]))
    return msg
sys.stdout.buffer.write(build(spec).as_bytes(policy=policy.SMTP))
`;

// A zip whose entry is invoice.txt in its headers and invoice.js in its Info-ZIP Unicode Path extra field
// (0x7075), written by Python's zipfile.
const UNICODE_PATH_ZIP = `
import sys, struct, zipfile, zlib
name, path = b"invoice.txt", b"invoice.js"
info = zipfile.ZipInfo(name.decode())
info.extra = struct.pack("<HHBI", 0x7075, 5 + len(path), 1, zlib.crc32(name)) + path
with zipfile.ZipFile(sys.argv[1], "w") as archive:
    archive.writestr(info, b"WScript.Echo 1\\n")
`;

describe("content rules on files made by zip and Python's email package", () => {
  let dir: TempDir;
  const file = (name: string) => dir.file(name);
  const pythonMessage = (spec: unknown): Uint8Array => {
    writeFileSync(file("spec.json"), JSON.stringify(spec));
    const result = spawnSync("python3", ["-c", PYTHON_MESSAGE, file("spec.json")], { timeout: 20_000 });
    assert.equal(result.status, 0, String(result.stderr));
    return result.stdout;
  };
  const symbols = (bytes: Uint8Array, recipients?: string[]) =>
    (scanMessage(messageRequest(bytes, recipients), policy).symbols ?? []).map((s) =>
      `${s.name}: ${s.description}`
    );

  before(() => {
    dir = makeTempDir();
    mkdirSync(file("docs/sub"), { recursive: true });
    writeFileSync(file("docs/readme.txt"), "hello\n".repeat(100));
    writeFileSync(file("docs/sub/report.pdf"), "%PDF-1.4\n".repeat(100));
    writeFileSync(file("setup.exe"), windowsExecutable(20_000));
    writeFileSync(file("payload.vbs"), "WScript.Echo 1\n");
    run("zip", ["-q", "-r", "docs.zip", "docs"], dir.path);
    run("zip", ["-q", "-P", "secret", "locked.zip", "docs/readme.txt", "setup.exe"], dir.path);
    run("zip", ["-q", "streamed.zip", "-"], dir.path, windowsExecutable(20_000));
    run("zip", ["-q", "inner.zip", "payload.vbs"], dir.path);
    run("zip", ["-q", "middle.zip", "inner.zip"], dir.path);
    run("zip", ["-q", "-0", "outer.zip", "middle.zip", "docs.zip"], dir.path);
    run("zip", ["-q", "-fz", "zip64.zip", "docs/readme.txt", "setup.exe"], dir.path);
    run("python3", ["-c", UNICODE_PATH_ZIP, "unicode-path.zip"], dir.path);
  });
  after(() => dir?.remove());

  it("a zip of documents with directories matches nothing", () => {
    const bytes = pythonMessage({
      subject: "docs",
      attachments: [{ file: file("docs.zip"), name: "docs.zip", type: "application/zip" }],
    });
    assert.deepEqual(symbols(bytes), []);
  });

  it("zip -P: the encrypted entries are flagged, setup.exe named by its name", () => {
    const bytes = pythonMessage({
      subject: "locked",
      attachments: [{ file: file("locked.zip"), name: "locked.zip", type: "application/zip" }],
    });
    assert.deepEqual(symbols(bytes), [
      "EXE: executable setup.exe (in locked.zip): name ends in .exe",
      "ENCRYPTED: encrypted docs/readme.txt (in locked.zip)",
    ]);
  });

  it("an entry streamed from stdin (sizes in a data descriptor) is found by its first bytes", () => {
    const bytes = pythonMessage({
      subject: "streamed",
      attachments: [{ file: file("streamed.zip"), name: "data.bin", type: "application/octet-stream" }],
    });
    assert.deepEqual(symbols(bytes), [
      "EXE: executable - (in data.bin): content is a Windows executable (MZ)",
    ]);
  });

  it("zip -fz (Zip64): the entries after the first are read too", () => {
    // Before zip64 was read, only docs/readme.txt was listed: setup.exe passed, and the zip was not corrupt.
    const bytes = pythonMessage({
      subject: "zip64",
      attachments: [{ file: file("zip64.zip"), name: "zip64.zip", type: "application/zip" }],
    });
    assert.deepEqual(symbols(bytes), ["EXE: executable setup.exe (in zip64.zip): name ends in .exe"]);
  });

  it("an entry unzip saves under its Unicode Path name is checked under that name", () => {
    // unzip (and 7-Zip) write invoice.js; the scan looked at invoice.txt only and passed it.
    const listing = spawnSync("unzip", ["-Z1", file("unicode-path.zip")], {
      encoding: "utf8",
      timeout: 20_000,
    });
    assert.equal(listing.stdout, "invoice.js\n");
    const bytes = pythonMessage({
      subject: "invoice",
      attachments: [{ file: file("unicode-path.zip"), name: "invoice.zip", type: "application/zip" }],
    });
    assert.deepEqual(symbols(bytes), ["EXE: executable invoice.js (in invoice.zip): name ends in .js"]);
  });

  it("a zip in a zip in a stored zip, in a message attached to a message with an RFC 2231 name", () => {
    const bytes = pythonMessage({
      subject: "Fwd: Überweisung für Sie",
      attachments: [{ file: file("docs/readme.txt"), name: "Grüße.txt", type: "text/plain" }],
      attached: {
        subject: "Rechnung",
        attachments: [
          { file: file("outer.zip"), name: "Rechnung März.zip", type: "application/zip" },
          { file: file("setup.exe"), name: "Rechnung März.pdf", type: "application/pdf" },
        ],
      },
    });
    assert.match(new TextDecoder("latin1").decode(bytes), /filename\*=utf-8''Rechnung%20M%C3%A4rz\.zip/);
    assert.deepEqual(symbols(bytes), [
      "EXE: executable payload.vbs (in Rechnung März.zip/middle.zip/inner.zip): name ends in .vbs",
    ]);
    const withoutZip = pythonMessage({
      subject: "x",
      attached: {
        subject: "Rechnung",
        attachments: [{ file: file("setup.exe"), name: "Rechnung März.pdf", type: "application/pdf" }],
      },
    });
    assert.deepEqual(symbols(withoutZip), [
      "EXE: executable Rechnung März.pdf (in attached message): content is a Windows executable (MZ)",
    ]);
  });

  it("a Subject Python encodes (RFC 2047, UTF-8) decodes for the subject rule", () => {
    const bytes = pythonMessage({ subject: "Ваш выигрыш: 1 000 000 ₽ — Gewinnspiel" });
    assert.match(new TextDecoder().decode(bytes), /^Subject: =\?utf-8\?/m);
    assert.deepEqual(symbols(bytes, ["x@example.net", "trap@example.org"]), [
      'LOTTERY: Subject "Ваш выигрыш: 1 000 000 ₽ — Gewinnspiel" matches /gewinn|выигрыш|当選|you have won/i',
      "TRAP: spamtrap recipient trap@example.org",
    ]);
  });
});
