// Files uuencoded (or yEnc-encoded) into a message's text, through a real Exim (exim -bd, delivering into a
// maildir) whose DATA ACL asks the daemon's spamd front (the shipped snippet) and through it the content
// rules: a program in a text body, by its name and by its MZ header under an image's name, the same in
// uuencode -m's base64 form, a zip carrying a program, an x-uuencode part, a yEnc block; each is refused
// at DATA, as Exim's old demime refused them. A uuencoded text file is delivered intact. The uuencoded
// lines are Python's binascii.b2a_uu (b2a_base64 for -m), the zip is Debian's zip; the messages go in with
// swaks --data, as a mailer sends them.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { windowsExecutable, yencode } from "../helpers/content-corpus.ts";
import { waitFor } from "../helpers/daemon-process.ts";
import { type ContentExim, mailText, startContentExim } from "../helpers/exim-content.ts";

const SLOW = { timeout: 120_000 };
// uuencode(1)'s framing around binascii's lines (45 bytes a line, "`" for zero, as GNU uuencode writes);
// with -m, as \`uuencode -m\` writes: "begin-base64", base64 lines of 45 bytes, "====".
const PYTHON_UUENCODE = `
import binascii, sys
data = open(sys.argv[1], "rb").read()
base64 = sys.argv[3:] == ["-m"]
out = [("begin-base64 644 " if base64 else "begin 644 ") + sys.argv[2]]
line = (lambda b: binascii.b2a_base64(b)) if base64 else (lambda b: binascii.b2a_uu(b, backtick=True))
out += [line(data[i:i + 45]).decode().rstrip("\\n") for i in range(0, len(data), 45)]
sys.stdout.write("\\r\\n".join(out + (["===="] if base64 else ["\`", "end"]) + [""]))
`;

describe("uuencoded and yEnc files through Exim's spam = and the content rules", () => {
  let exim: ContentExim;
  const file = (name: string) => exim.setup.dir.file(name);
  const uuencode = (path: string, name: string, ...options: "-m"[]): string => {
    const result = spawnSync("python3", ["-c", PYTHON_UUENCODE, path, name, ...options], {
      encoding: "latin1",
      timeout: 20_000,
    });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout;
  };
  const text = (subject: string, headers: string, body: string) => mailText(subject, `${headers}\r\n${body}`);
  const send = (subject: string, headers: string, body: string) =>
    exim.send(subject, text(subject, headers, body));
  const delivered = (subject: string) => exim.delivered(subject);
  const refused = (subject: string, headers: string, body: string) =>
    exim.refused(subject, text(subject, headers, body));

  before(async () => {
    exim = await startContentExim();
    writeFileSync(file("program"), windowsExecutable(3000));
    mkdirSync(file("zipped"));
    writeFileSync(file("zipped/setup.exe"), windowsExecutable(3000));
    const zipped = spawnSync("zip", ["-q", "../docs.zip", "setup.exe"], {
      cwd: file("zipped"),
      timeout: 20_000,
    });
    assert.equal(zipped.status, 0, String(zipped.stderr));
    writeFileSync(file("notes.txt"), "Minutes of Tuesday's meeting.\n".repeat(20));
  }, SLOW);
  after(async () => {
    await exim?.stop();
  });

  it("a program uuencoded into a plain text body, by its name", SLOW, async () => {
    const body = `Hello,\r\nthe invoice:\r\n\r\n${uuencode(file("program"), "invoice.exe")}\r\nAlice\r\n`;
    await refused("uu-name", "", body);
  });

  it("a program uuencoded under an image's name, by its MZ header", SLOW, async () => {
    const body = `Here is the photo.\r\n${uuencode(file("program"), "photo.jpg")}`;
    await refused("uu-magic", "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n", body);
  });

  it("a program in uuencode -m's base64 form (begin-base64 … ====) under an image's name", SLOW, async () => {
    const block = uuencode(file("program"), "photo.jpg", "-m");
    assert.match(block, /^begin-base64 644 photo\.jpg\r\nTVq/);
    await refused("uu-base64", "", `Here is the photo.\r\n${block}`);
  });

  it("a uuencoded zip carrying a program", SLOW, async () => {
    await refused("uu-zip", "", uuencode(file("docs.zip"), "docs.zip"));
  });

  it("an x-uuencode part", SLOW, async () => {
    const body = `--b\r\nContent-Type: text/plain\r\n\r\nSee the file.\r\n--b\r\n` +
      `Content-Type: application/octet-stream; name="data.bin"\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n` +
      `${uuencode(file("program"), "data.bin")}\r\n--b--\r\n`;
    await refused("uu-part", `MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n`, body);
  });

  it("a yEnc block", SLOW, async () => {
    const block = yencode("photo.jpg", windowsExecutable(3000)).toString("latin1");
    await refused("yenc", "", `The photo:\r\n${block}`);
  });

  it("a uuencoded text file: delivered intact", SLOW, async () => {
    const body = `The minutes:\r\n${uuencode(file("notes.txt"), "notes.txt")}`;
    const sent = await send("uu-text", "", body);
    assert.equal(sent.status, 0, sent.output);
    await waitFor(() => delivered("uu-text").length === 1, 20_000, "delivery");
    const mail = delivered("uu-text")[0];
    assert.equal(mail.slice(mail.indexOf("\n\n") + 2).trimEnd(), body.replace(/\r\n/g, "\n").trimEnd());
  });
});
