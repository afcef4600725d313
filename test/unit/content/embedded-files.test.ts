// uuencode (both forms) and yEnc blocks in a text: names, first bytes, a zip decoded whole within its limit, and
// malformed blocks (cut, no end, lying lengths, garbage, megabyte lines) that end the block and nothing else.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  type EmbeddedFile,
  embeddedFiles,
  type EmbeddedSearch,
} from "../../../src/content/embedded-files.ts";
import { uuencode, uuencodeBase64, windowsExecutable, yencode, zip } from "../../helpers/content-corpus.ts";

const HEAD = 512;
const headOnly: EmbeddedSearch = { headBytes: HEAD, wholeLimit: () => undefined };
const find = (text: string | Uint8Array, search = headOnly): EmbeddedFile[] => [
  ...embeddedFiles(typeof text === "string" ? Buffer.from(text, "latin1") : text, search),
];
const names = (text: string | Uint8Array) => find(text).map((file) => `${file.format} ${file.name}`);
const program = windowsExecutable(4096);
const latin1 = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1");
const bytesOf = (whole: EmbeddedFile["whole"]) => whole && { bytes: [...whole.bytes], cut: whole.cut };

describe("embedded files: what readers decode", () => {
  it("a uuencoded program, either form (begin … end, begin-base64 … ====): its name and first 512 bytes", () => {
    const forms = [[uuencode, "uuencoded"], [uuencodeBase64, "uuencoded (base64)"]] as const;
    for (const [encode, format] of forms) {
      const [file, ...rest] = find(`Hi,\r\n\r\n${encode("invoice.exe", program)}\r\nBye\r\n`);
      assert.equal(rest.length, 0);
      assert.deepEqual([file.name, file.format], ["invoice.exe", format]);
      assert.deepEqual(file.head, program.subarray(0, HEAD));
      assert.equal(file.whole, undefined);
    }
    const all = Uint8Array.from({ length: 512 }, (_, i) => (i * 37 + 11) & 0xff);
    for (const length of [1, 2, 3, 4, 44, 45, 46, 512]) {
      const [file] = find(uuencodeBase64("a b.exe", all.subarray(0, length), "0755"));
      assert.deepEqual([file.name, file.head], ["a b.exe", all.subarray(0, length)]);
    }
  });

  it("a yEnc program: its name (spaces and all, to the line's end) and first 512 bytes", () => {
    const [file] = find(yencode("my photo.jpg", program));
    assert.equal(file.name, "my photo.jpg");
    assert.equal(file.format, "yEnc");
    assert.deepEqual(file.head, program.subarray(0, HEAD));
  });

  it("every byte value survives both encodings (yEnc's escapes, uuencode's backticks)", () => {
    const all = Uint8Array.from({ length: 512 }, (_, i) => (i * 37 + 11) & 0xff);
    assert.deepEqual(find(uuencode("a", all))[0].head, all);
    assert.deepEqual(find(yencode("a", all))[0].head, all);
  });

  it("several blocks, LF or CRLF, a mode of any octal width; each in order", () => {
    const text = `${uuencode("a.exe", "x")}text\n${yencode("b.scr", "y")}`.replace(/\r\n/g, "\n") +
      uuencode("c.js", "z", "0755");
    assert.deepEqual(names(text), ["uuencoded a.exe", "yEnc b.scr", "uuencoded c.js"]);
  });

  it("a name in UTF-8 is read as UTF-8, other bytes as Latin-1", () => {
    assert.equal(find(uuencode("Rechnung-März.exe", "x"))[0].name, "Rechnung-März.exe");
    const latin = Buffer.concat([
      Buffer.from("begin 644 r\xe9sum\xe9.exe\r\n", "latin1"),
      Buffer.from("!80``\r\n"),
    ]);
    assert.equal(find(latin)[0].name, "résumé.exe");
  });

  it("the whole file when wholeLimit asks (a zip), cut at the limit it gives", () => {
    const archive = zip([{ name: "setup.exe", data: program, deflate: true }]);
    const asked: string[] = [];
    const search = (limit: number): EmbeddedSearch => ({
      headBytes: HEAD,
      wholeLimit: (name, head) => {
        asked.push(`${name} ${latin1(head.subarray(0, 2))}`);
        return name.endsWith(".zip") ? limit : undefined;
      },
    });
    const blocks = [
      uuencode("docs.zip", archive),
      uuencodeBase64("docs.zip", archive),
      latin1(yencode("docs.zip", archive)),
    ];
    for (const block of blocks) {
      const [file] = find(`${block}${uuencode("other.txt", "text")}`, search(1 << 20));
      assert.deepEqual(bytesOf(file.whole), { bytes: [...archive], cut: false });
      const [cut] = find(block, search(100));
      assert.deepEqual(bytesOf(cut.whole), { bytes: [...archive.subarray(0, 100)], cut: true });
      const [none] = find(block, search(0));
      assert.deepEqual(bytesOf(none.whole), { bytes: [], cut: true });
    }
    assert.ok(asked.includes("docs.zip PK") && asked.includes("other.txt te"), asked.join());
  });

  it("a later yEnc part: the name, no head (its bytes are not the file's start)", () => {
    const part2 =
      "=ybegin part=2 total=3 line=128 size=9000 name=big.exe\r\n=ypart begin=3001 end=6000\r\nkkkk\r\n";
    assert.deepEqual(find(part2).map((file) => [file.name, file.head.length]), [["big.exe", 0]]);
    const part1 = "=ybegin part=1 line=128 size=9000 name=big.exe\r\n=ypart begin=1 end=3000\r\n" +
      latin1(yencode("x", program)).split("\r\n")[1];
    assert.deepEqual(find(part1)[0].head, program.subarray(0, 128));
  });
});

describe("embedded files: text that is not a block", () => {
  it("prose with a begin line, begin-base64, a begin not at a line's start, a mode that is no number", () => {
    assert.deepEqual(names("begin 644 setup.exe\r\nthen run it\r\n"), []);
    assert.deepEqual(names("begin 644 setup.exe\r\nRun it.\r\n"), []);
    assert.deepEqual(names("begin-base64 644 setup.exe\r\nThen run it.\r\n====\r\n"), []);
    assert.deepEqual(names("begin-base64 644 setup.exe\r\nThanks\r\n"), []);
    assert.deepEqual(names("begin-base64 644 setup.exe\r\n\r\nTVqQ\r\n"), []);
    assert.deepEqual(names("begin-base64 rw setup.exe\r\nTVqQ\r\n"), []);
    assert.deepEqual(names("begin-base64 644 \r\nTVqQ\r\n"), []);
    assert.deepEqual(names("begin-base64\r\nTVqQ\r\n"), []);
    assert.deepEqual(names(`> ${uuencodeBase64("quoted.exe", "x")}`), []);
    assert.deepEqual(names(`> ${uuencode("quoted.exe", "x")}`), []);
    assert.deepEqual(names(uuencode("a.exe", "x", "rw-r--r--")), []);
    assert.deepEqual(names("begin 644 \r\n!80``\r\n"), []);
    assert.deepEqual(names("=ybegin line=128 size=3\r\nabc\r\n=yend\r\n"), []);
    assert.deepEqual(names("=ybegin line=128 size=3 name= \r\nabc\r\n"), []);
  });

  it("a block with no data line is no file; an empty text, a lone begin line", () => {
    assert.deepEqual(names("begin 644 empty.exe\r\n`\r\nend\r\n"), []);
    assert.deepEqual(names(""), []);
    assert.deepEqual(names("begin 644 a.exe"), []);
    assert.deepEqual(names("begin 644 a.exe\r\n"), []);
  });
});

describe("embedded files: malformed blocks never throw or run on", () => {
  const block = uuencode("invoice.exe", program);
  const yblock = latin1(yencode("invoice.exe", program));

  it("cut anywhere: the name once a whole data line is there, the bytes that were", () => {
    // uuencode: once its first data line ("M" and 60 characters) is whole; yEnc: once its begin line is.
    const uuData = block.indexOf("\r\n") + 2 + 61;
    const yData = yblock.indexOf("\r\n") + 2;
    for (let cut = 0; cut <= block.length; cut += 3) {
      const files = find(block.slice(0, cut));
      assert.equal(files.length, cut >= uuData ? 1 : 0, `cut at ${cut}`);
      for (const file of files) {
        assert.equal(file.name, "invoice.exe");
        assert.deepEqual(file.head.subarray(0, 45), program.subarray(0, 45), `cut at ${cut}`);
      }
    }
    for (let cut = 0; cut <= yblock.length; cut += 3) {
      const files = find(yblock.slice(0, cut));
      assert.equal(files.length, cut > yData ? 1 : 0, `cut at ${cut}`);
      for (const file of files) {
        assert.deepEqual(file.head, program.subarray(0, file.head.length), `cut at ${cut}`);
      }
    }
  });

  it("no end, no backtick line: the head is still the file's start", () => {
    const open = block.slice(0, block.lastIndexOf("`\r\nend"));
    assert.deepEqual(find(open)[0].head, program.subarray(0, HEAD));
    assert.deepEqual(find(yblock.slice(0, yblock.indexOf("=yend")))[0].head, program.subarray(0, HEAD));
  });

  it("lengths that lie: a line saying 63 bytes with 1 character, lines cut short, a 0 length mid-block", () => {
    const lines = block.split("\r\n");
    const short = [lines[0], lines[1], "_", "M", "_!", lines[2], "end"].join("\r\n");
    const [file] = find(short);
    assert.equal(file.name, "invoice.exe");
    assert.deepEqual(file.head.subarray(0, 45), program.subarray(0, 45));
    assert.equal(file.head.length, 45 + 63 + 45 + 63 + 45);
    const stopped = [lines[0], lines[1], "`", lines[2]].join("\r\n");
    assert.equal(find(stopped)[0].head.length, 45);
  });

  it("uuencode -m blocks as GNU uudecode reads them: padding, lines cut short, an end by any other line", () => {
    const head = (text: string) => [...find(text)[0].head];
    const b64 = (text: string) => `begin-base64 644 a.exe\r\n${text}`;
    // "=" closes a quadruple, and the next one goes on (uudecode: "TQ==QUJD" is "MABC").
    assert.deepEqual(head(b64("TQ==QUJD\r\n====\r\n")), [...Buffer.from("MABC")]);
    assert.deepEqual(head(b64("TQ==\r\nQUJD\r\n")), [...Buffer.from("MABC")]);
    // A later line not a whole number of quadruples decodes as far as it goes; a stray "=" is nothing.
    assert.deepEqual(head(b64("TVqQ\r\nQUJ\r\n=\r\nQQ\r\n")), [0x4d, 0x5a, 0x90, 0x41, 0x42, 0x41]);
    // An empty line, "====" (with anything after it) or a line that starts as no base64 ends the block; a line
    // with junk after its first quadruples is decoded up to the junk and is the last (GNU uudecode stops).
    const ends: [string, number[]][] = [
      ["", []],
      ["====", []],
      ["==== x", []],
      [" TVqQ", []],
      ["TV!q", []],
      ["QUJD ", [0x41, 0x42, 0x43]],
      ["QUJD\tQUJD", [0x41, 0x42, 0x43]],
      ["hello world", [0x85, 0xe9, 0x65]],
    ];
    for (const [end, bytes] of ends) {
      assert.deepEqual(
        head(b64(`TVqQ\r\n${end}\r\nQUJD\r\n`)),
        [0x4d, 0x5a, 0x90, ...bytes],
        JSON.stringify(end),
      );
    }
    // A begin line of any kind ends it too (and is a block of its own).
    assert.deepEqual(names(b64(`TVqQ\r\n${uuencode("b.exe", "x")}`)), [
      "uuencoded (base64) a.exe",
      "uuencoded b.exe",
    ]);
    assert.deepEqual(
      names(`${uuencode("b.exe", "x").replace("`\r\nend\r\n", "")}${uuencodeBase64("c.exe", "y")}`),
      [
        "uuencoded b.exe",
        "uuencoded (base64) c.exe",
      ],
    );
    // No "====", LF line ends, a block cut anywhere: the bytes that were there, never more.
    const block = uuencodeBase64("invoice.exe", program);
    assert.deepEqual(find(block.slice(0, block.indexOf("====")))[0].head, program.subarray(0, HEAD));
    assert.deepEqual(find(block.replace(/\r\n/g, "\n"))[0].head, program.subarray(0, HEAD));
    const firstLineEnd = block.indexOf("\r\n") + 2 + 60;
    for (let cut = 0; cut <= 1200; cut++) {
      const files = find(block.slice(0, cut));
      if (cut >= firstLineEnd) assert.equal(files.length, 1, `cut at ${cut}`);
      for (const file of files) {
        assert.deepEqual(file.head, program.subarray(0, file.head.length), `cut at ${cut}`);
      }
    }
  });

  it("binary garbage around, inside and instead of blocks", () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let round = 0; round < 200; round++) {
      const garbage = Uint8Array.from({ length: 2000 }, random);
      const text = Buffer.concat([
        Buffer.from(
          [
            "begin 644 g.exe\n",
            "=ybegin line=1 size=1 name=g.exe\n",
            "begin-base64 644 g.exe\nTVqQ\n",
          ][round % 3],
        ),
        garbage,
        Buffer.from("\nbegin 644 h.exe\n"),
        garbage.subarray(round),
      ]);
      for (const file of find(text)) assert.ok(file.head.length <= HEAD);
    }
  });

  it("megabyte lines: a begin line, a data line, a line of begins, a text of only begin lines", () => {
    const mb = 1 << 20;
    const longName = `begin 644 ${"a".repeat(mb)}.exe\r\n${block.split("\r\n")[1]}\r\n`;
    const [named] = find(longName);
    assert.equal(named.name.length, mb + 4);
    assert.ok(named.name.endsWith(".exe"));
    const longLine = `begin 644 a.exe\r\nM${"!".repeat(mb)}\r\n`;
    assert.equal(find(longLine)[0].head.length, 45);
    const yLong = `=ybegin line=128 size=1 name=a.exe\r\n${"k".repeat(mb)}\r\n`;
    assert.equal(find(yLong)[0].head.length, HEAD);
    const b64Long = `begin-base64 644 a.exe\r\n${"QUJD".repeat(mb / 4)}\r\n`;
    assert.deepEqual(
      find(b64Long)[0].head,
      Uint8Array.from(Buffer.from("ABC".repeat(200)).subarray(0, HEAD)),
    );
    assert.deepEqual(names("begin-base64 ".repeat(mb / 13)), []);
    assert.deepEqual(names("begin ".repeat(mb / 6)), []);
    assert.deepEqual(names(`${"begin 644 a\n".repeat(mb / 12)}`), []);
  });

  it("many blocks are yielded one at a time: the caller's loop decides how many are read", () => {
    const text = uuencode("a.exe", "x").repeat(100_000);
    let seen = 0;
    for (const _ of embeddedFiles(Buffer.from(text), headOnly)) if (++seen === 500) break;
    assert.equal(seen, 500);
  });
});
