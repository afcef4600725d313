// Messages built by the tests for the content rules: executables in every wrapping (plain, base64,
// nested multiparts, an attached message, a zip inside a zip, an encrypted zip, a lying Content-Type, a
// renamed file), subjects in several charsets, raw 8-bit and broken encoded words, and clean messages
// that must not match. Also a tiny zip writer (stored and deflated entries, CRC-32 by table).
import { Buffer } from "node:buffer";
import { deflateRawSync } from "node:zlib";

// ---- files ----

/** A minimal PE file's start: "MZ", e_lfanew = 0x80, "PE\0\0" there. */
export function windowsExecutable(size = 1024): Uint8Array {
  const bytes = new Uint8Array(size);
  bytes.set([0x4d, 0x5a, 0x90, 0x00], 0);
  bytes[0x3c] = 0x80;
  bytes.set([0x50, 0x45, 0x00, 0x00], 0x80);
  for (let i = 0x100; i < size; i++) bytes[i] = (i * 7) & 0xff;
  return bytes;
}

export function elfExecutable(): Uint8Array {
  const bytes = new Uint8Array(256);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  return bytes;
}

/** A real 1×1 PNG. */
export const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
  "base64",
);

/** Text that starts with "MZ" but is no program. */
export const MZ_TEXT = new TextEncoder().encode("MZ Widgets quarterly report\n".repeat(10));

// ---- zip ----

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export interface ZipInput {
  name: string;
  data: Uint8Array | string;
  deflate?: boolean;
  /** Flag bit 0 set and the data scrambled, as a ZipCrypto entry looks to a reader without the password. */
  encrypted?: boolean;
  /** An extra field for the entry's local header and directory record (after a zip64 one). */
  extra?: Uint8Array;
}

/**
 * A zip archive: local headers, data, central directory, end record. `zip64`: as `zip -fz` writes it, every
 * size and offset in its zip64 field (extra fields, the zip64 end record and its locator), the classic ones
 * at their 0xFFFFFFFF / 0xFFFF marks.
 */
export function zip(entries: ZipInput[], { zip64 = false } = {}): Uint8Array {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const raw = typeof entry.data === "string" ? Buffer.from(entry.data) : Buffer.from(entry.data);
    let data: Buffer = entry.deflate ? deflateRawSync(raw) : raw;
    if (entry.encrypted) data = Buffer.concat([Buffer.alloc(12, 0xa5), data.map((b) => b ^ 0x5a)]);
    const name = Buffer.from(entry.name);
    const flags = (entry.encrypted ? 1 : 0) | 0x0800;
    const method = entry.deflate ? 8 : 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc32(raw), 14);
    local.writeUInt32LE(zip64 ? MARK32 : data.length, 18);
    local.writeUInt32LE(zip64 ? MARK32 : raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    const ownExtra = entry.extra ?? Buffer.alloc(0);
    const localExtra = Buffer.concat([
      zip64 ? zip64Extra([raw.length, data.length]) : Buffer.alloc(0),
      ownExtra,
    ]);
    local.writeUInt16LE(localExtra.length, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc32(raw), 16);
    central.writeUInt32LE(zip64 ? MARK32 : data.length, 20);
    central.writeUInt32LE(zip64 ? MARK32 : raw.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(zip64 ? MARK32 : offset, 42);
    const centralExtra = Buffer.concat([
      zip64 ? zip64Extra([raw.length, data.length, offset]) : Buffer.alloc(0),
      ownExtra,
    ]);
    central.writeUInt16LE(centralExtra.length, 30);
    locals.push(local, name, localExtra, data);
    centrals.push(central, name, centralExtra);
    offset += 30 + name.length + localExtra.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(zip64 ? 0xffff : entries.length, 8);
  end.writeUInt16LE(zip64 ? 0xffff : entries.length, 10);
  end.writeUInt32LE(zip64 ? MARK32 : directory.length, 12);
  end.writeUInt32LE(zip64 ? MARK32 : offset, 16);
  if (!zip64) return Buffer.concat([...locals, directory, end]);
  const record = Buffer.alloc(56);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeUInt16LE(45, 12);
  record.writeUInt16LE(45, 14);
  record.writeBigUInt64LE(BigInt(entries.length), 24);
  record.writeBigUInt64LE(BigInt(entries.length), 32);
  record.writeBigUInt64LE(BigInt(directory.length), 40);
  record.writeBigUInt64LE(BigInt(offset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(offset + directory.length), 8);
  locator.writeUInt32LE(1, 16);
  return Buffer.concat([...locals, directory, record, locator, end]);
}

const MARK32 = 0xffffffff;

/** Info-ZIP's Unicode Path extra field (0x7075): `path` in UTF-8, with the CRC-32 of the header's `name`. */
export function unicodePathExtra(name: string, path: string): Buffer {
  const utf8 = Buffer.from(path);
  const extra = Buffer.alloc(9 + utf8.length);
  extra.writeUInt16LE(0x7075, 0);
  extra.writeUInt16LE(5 + utf8.length, 2);
  extra.writeUInt8(1, 4);
  extra.writeUInt32LE(crc32(Buffer.from(name)), 5);
  utf8.copy(extra, 9);
  return extra;
}

/** A zip64 extra field (id 1): the given sizes and offset, 8 bytes each. */
function zip64Extra(values: number[]): Buffer {
  const extra = Buffer.alloc(4 + 8 * values.length);
  extra.writeUInt16LE(1, 0);
  extra.writeUInt16LE(8 * values.length, 2);
  values.forEach((value, i) => extra.writeBigUInt64LE(BigInt(value), 4 + 8 * i));
  return extra;
}

// ---- MIME ----

export interface PartInput {
  type: string;
  body: Uint8Array | string;
  name?: string;
  /** How the filename is written: plain, RFC 2231 (filename*=utf-8''…), or RFC 2047 in name=. */
  nameStyle?: "plain" | "rfc2231" | "rfc2047";
  encoding?: "base64" | "7bit" | "quoted-printable";
  disposition?: "attachment" | "inline";
}

function base64Lines(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64").replace(/.{76}/g, "$&\r\n");
}

function quotedPrintable(bytes: Uint8Array): string {
  let line = "";
  let out = "";
  for (const byte of bytes) {
    const piece = (byte >= 33 && byte <= 126 && byte !== 61) || byte === 32
      ? String.fromCharCode(byte)
      : `=${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    if (line.length + piece.length > 75) {
      out += `${line}=\r\n`;
      line = "";
    }
    line += piece;
  }
  return out + line;
}

function nameParameters(name: string, style: PartInput["nameStyle"]): { type: string; disposition: string } {
  if (style === "rfc2231") {
    const encoded = encodeURIComponent(name).replace(/'/g, "%27");
    return { type: "", disposition: `; filename*=utf-8''${encoded}` };
  }
  if (style === "rfc2047") {
    const word = `=?UTF-8?B?${Buffer.from(name).toString("base64")}?=`;
    return { type: `; name="${word}"`, disposition: "" };
  }
  return { type: `; name="${name}"`, disposition: `; filename="${name}"` };
}

/** One MIME part: header lines, an empty line, the encoded body. */
export function part(input: PartInput): string {
  const encoding = input.encoding ?? "base64";
  const bytes = typeof input.body === "string" ? Buffer.from(input.body) : input.body;
  const names = input.name === undefined
    ? { type: "", disposition: "" }
    : nameParameters(input.name, input.nameStyle);
  const lines = [`Content-Type: ${input.type}${names.type}`, `Content-Transfer-Encoding: ${encoding}`];
  if (input.name !== undefined || input.disposition) {
    lines.push(`Content-Disposition: ${input.disposition ?? "attachment"}${names.disposition}`);
  }
  const body = encoding === "base64"
    ? base64Lines(bytes)
    : encoding === "quoted-printable"
    ? quotedPrintable(bytes)
    : Buffer.from(bytes).toString("latin1");
  return `${lines.join("\r\n")}\r\n\r\n${body}`;
}

/**
 * A uuencode block as uuencode(1) writes it (GNU sharutils, Python's binascii.b2a_uu with backtick):
 * "begin MODE NAME", lines of 45 bytes ("M" and 60 characters), "`", "end"; CRLF line ends.
 */
export function uuencode(name: string, bytes: Uint8Array | string, mode = "644"): string {
  const data = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
  const char = (six: number) => String.fromCharCode(six === 0 ? 0x60 : six + 0x20);
  const lines = [`begin ${mode} ${name}`];
  for (let at = 0; at < data.length; at += 45) {
    const chunk = data.subarray(at, at + 45);
    let line = char(chunk.length);
    for (let i = 0; i < chunk.length; i += 3) {
      const [a, b, c] = [chunk[i], chunk[i + 1] ?? 0, chunk[i + 2] ?? 0];
      line += char(a >> 2) + char(((a << 4) | (b >> 4)) & 0x3f) + char(((b << 2) | (c >> 6)) & 0x3f) +
        char(c & 0x3f);
    }
    lines.push(line);
  }
  return [...lines, "`", "end", ""].join("\r\n");
}

/**
 * A block as `uuencode -m` (GNU sharutils) writes it: "begin-base64 MODE NAME", base64 lines of 45 bytes (60
 * characters), "===="; CRLF line ends.
 */
export function uuencodeBase64(name: string, bytes: Uint8Array | string, mode = "644"): string {
  const data = typeof bytes === "string" ? Buffer.from(bytes) : Buffer.from(bytes);
  const lines = [`begin-base64 ${mode} ${name}`];
  for (let at = 0; at < data.length; at += 45) lines.push(data.subarray(at, at + 45).toString("base64"));
  return [...lines, "====", ""].join("\r\n");
}

/**
 * A yEnc block as yEnc 1.3 writes it: "=ybegin line=128 size=N name=NAME", each byte plus 42, NUL, LF, CR
 * and "=" escaped ("=" and the byte plus 64), lines of 128, "=yend size=N"; CRLF line ends. Its bytes.
 */
export function yencode(name: string, bytes: Uint8Array | string): Buffer {
  const data = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
  let out = `=ybegin line=128 size=${data.length} name=${name}\r\n`;
  let line = "";
  for (const byte of data) {
    const encoded = (byte + 42) & 0xff;
    line += [0x00, 0x0a, 0x0d, 0x3d].includes(encoded)
      ? `=${String.fromCharCode((encoded + 64) & 0xff)}`
      : String.fromCharCode(encoded);
    if (line.length >= 128) {
      out += `${line}\r\n`;
      line = "";
    }
  }
  return Buffer.from(`${out}${line === "" ? "" : `${line}\r\n`}=yend size=${data.length}\r\n`, "latin1");
}

let boundaries = 0;

/** A multipart part (or message body) holding `parts`. */
export function multipart(subtype: string, parts: string[]): string {
  const boundary = `=_corpus_${++boundaries}_=`;
  return `Content-Type: multipart/${subtype}; boundary="${boundary}"\r\n\r\nThis is a MIME message.\r\n` +
    parts.map((p) => `--${boundary}\r\n${p}\r\n`).join("") + `--${boundary}--\r\n`;
}

/** A message attached to another: its whole text as a message/rfc822 part. */
export function attachedMessage(message: string, encoding: "7bit" | "base64" = "7bit"): string {
  return part({
    type: "message/rfc822",
    body: message,
    encoding,
    disposition: "attachment",
    name: "forwarded.eml",
  });
}

/** A whole message: top headers (Subject given as is, raw) and a body part from part()/multipart(). */
export function message(subject: string | Uint8Array, body: string): Uint8Array {
  const head = "From: Sender <sender@example.org>\r\nTo: someone@example.net\r\n" +
    "Date: Wed, 02 Dec 2026 10:00:00 +0000\r\nMessage-ID: <corpus@example.org>\r\nMIME-Version: 1.0\r\n";
  const subjectBytes = typeof subject === "string" ? Buffer.from(subject, "latin1") : subject;
  return Buffer.concat([
    Buffer.from(head),
    Buffer.from("Subject: "),
    subjectBytes,
    Buffer.from("\r\n"),
    Buffer.from(body, "latin1"),
  ]);
}

const TEXT = part({
  type: "text/plain; charset=utf-8",
  body: "Hello,\r\nplease find the file attached.\r\n",
  encoding: "7bit",
});
const exe = windowsExecutable();

/**
 * Messages that carry an executable, each with the file the report should name. Every one must match
 * `attachments = executable`.
 */
export const EXECUTABLE_MESSAGES: Record<string, { message: Uint8Array; file: string }> = {
  "exe, base64": {
    message: message(
      "invoice",
      multipart("mixed", [TEXT, part({ type: "application/octet-stream", name: "invoice.exe", body: exe })]),
    ),
    file: "invoice.exe",
  },
  "scr, 7bit": {
    message: message(
      "screensaver",
      multipart("mixed", [
        TEXT,
        part({
          type: "application/octet-stream",
          name: "fun.scr",
          body: "not really binary",
          encoding: "7bit",
        }),
      ]),
    ),
    file: "fun.scr",
  },
  "js, quoted-printable": {
    message: message(
      "script",
      multipart("mixed", [
        TEXT,
        part({
          type: "text/plain",
          name: "readme.js",
          body: "WScript.Echo('x')",
          encoding: "quoted-printable",
        }),
      ]),
    ),
    file: "readme.js",
  },
  "exe, name in RFC 2231": {
    message: message(
      "rfc2231",
      multipart("mixed", [
        TEXT,
        part({
          type: "application/octet-stream",
          name: "Rechnung März.exe",
          nameStyle: "rfc2231",
          body: exe,
        }),
      ]),
    ),
    file: "Rechnung März.exe",
  },
  "exe, name in RFC 2047": {
    message: message(
      "rfc2047",
      multipart("mixed", [
        TEXT,
        part({ type: "application/octet-stream", name: "счёт.exe", nameStyle: "rfc2047", body: exe }),
      ]),
    ),
    file: "счёт.exe",
  },
  "script under a plain filename= beside an RFC 2231 filename*= of a PDF": {
    // Readers that know RFC 2231 show invoice.pdf; those that do not save invoice.js.
    message: message(
      "rfc2231 fallback",
      multipart("mixed", [
        TEXT,
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: 7bit\r\n" +
        "Content-Disposition: attachment; filename*=utf-8''invoice.pdf; filename=\"invoice.js\"\r\n\r\n" +
        "WScript.Echo('run');\r\n",
      ]),
    ),
    file: "invoice.js",
  },
  "exe, trailing dot": {
    message: message(
      "dot",
      multipart("mixed", [
        TEXT,
        part({ type: "application/octet-stream", name: "invoice.pdf.exe.", body: exe }),
      ]),
    ),
    file: "invoice.pdf.exe.",
  },
  "nested multiparts": {
    message: message(
      "nested",
      multipart("mixed", [
        multipart("alternative", [
          TEXT,
          multipart("related", [
            TEXT,
            part({ type: "application/octet-stream", name: "deep.exe", body: exe }),
          ]),
        ]),
      ]),
    ),
    file: "deep.exe",
  },
  "attached message, 7bit": {
    message: message(
      "fwd",
      multipart("mixed", [
        TEXT,
        attachedMessage(
          new TextDecoder("latin1").decode(
            message(
              "inner",
              multipart("mixed", [
                TEXT,
                part({ type: "application/octet-stream", name: "inner.exe", body: exe }),
              ]),
            ),
          ),
        ),
      ]),
    ),
    file: "inner.exe",
  },
  "attached message, base64, in an attached message": {
    message: message(
      "fwd fwd",
      multipart("mixed", [
        TEXT,
        attachedMessage(
          new TextDecoder("latin1").decode(
            message(
              "middle",
              multipart("mixed", [
                attachedMessage(
                  new TextDecoder("latin1").decode(
                    message(
                      "inner",
                      multipart("mixed", [
                        part({ type: "application/octet-stream", name: "innermost.scr", body: exe }),
                      ]),
                    ),
                  ),
                  "base64",
                ),
              ]),
            ),
          ),
          "base64",
        ),
      ]),
    ),
    file: "innermost.scr",
  },
  "a digest's part without a Content-Type (an attached message by default)": {
    message: message(
      "digest",
      multipart("digest", [
        // No header lines: the part's empty line, then the message (RFC 2046 5.1.5).
        `\r\n${
          new TextDecoder("latin1").decode(
            message(
              "in the digest",
              multipart("mixed", [
                TEXT,
                part({ type: "application/octet-stream", name: "digest.exe", body: exe }),
              ]),
            ),
          )
        }`,
      ]),
    ),
    file: "digest.exe",
  },
  "zip": {
    message: message(
      "zipped",
      multipart("mixed", [
        TEXT,
        part({
          type: "application/zip",
          name: "docs.zip",
          body: zip([{ name: "readme.txt", data: "hi", deflate: true }, {
            name: "setup.exe",
            data: exe,
            deflate: true,
          }]),
        }),
      ]),
    ),
    file: "setup.exe",
  },
  "zip in a zip": {
    message: message(
      "zip zip",
      multipart("mixed", [
        TEXT,
        part({
          type: "application/zip",
          name: "outer.zip",
          body: zip([{
            name: "inner.zip",
            data: zip([{ name: "payload.js", data: "WScript.Echo(1)", deflate: true }]),
            deflate: true,
          }]),
        }),
      ]),
    ),
    file: "payload.js",
  },
  "zip declared as a PDF": {
    message: message(
      "pdf",
      multipart("mixed", [
        TEXT,
        part({ type: "application/pdf", name: "scan.pdf", body: zip([{ name: "scan.pdf.exe", data: exe }]) }),
      ]),
    ),
    file: "scan.pdf.exe",
  },
  "exe declared image/png": {
    message: message(
      "photo",
      multipart("mixed", [TEXT, part({ type: "image/png", name: "photo.png", body: exe })]),
    ),
    file: "photo.png",
  },
  "exe renamed .txt, inline, no Content-Disposition name": {
    message: message(
      "renamed",
      multipart("mixed", [TEXT, part({ type: "text/plain", body: exe, disposition: "inline" })]),
    ),
    file: "(unnamed part)",
  },
  "renamed exe inside a zip": {
    message: message(
      "renamed zipped",
      multipart("mixed", [
        TEXT,
        part({
          type: "application/zip",
          name: "photos.zip",
          body: zip([{ name: "holiday.jpg", data: exe, deflate: true }]),
        }),
      ]),
    ),
    file: "holiday.jpg",
  },
  "ELF declared application/octet-stream": {
    message: message(
      "elf",
      multipart("mixed", [
        TEXT,
        part({ type: "application/octet-stream", name: "tool", body: elfExecutable() }),
      ]),
    ),
    file: "tool",
  },
  "declared application/x-msdownload": {
    message: message(
      "declared",
      multipart("mixed", [TEXT, part({ type: "application/x-msdownload", name: "update", body: "x" })]),
    ),
    file: "update",
  },
  "single-part message that is an exe": {
    message: message("bare", part({ type: "application/octet-stream", name: "bare.exe", body: exe })),
    file: "bare.exe",
  },
  // Files written into the text itself, as before MIME (embedded-files.ts).
  "uuencoded exe in a text body": {
    message: message(
      "uuencoded",
      multipart("mixed", [
        part({
          type: "text/plain",
          body: `Hello,\r\nthe invoice:\r\n\r\n${uuencode("invoice.exe", exe)}\r\nRegards\r\n`,
          encoding: "7bit",
        }),
      ]),
    ),
    file: "invoice.exe",
  },
  "uuencoded program under an image's name, in a message without MIME": {
    message: message("photo", `\r\nHere is the photo.\r\n${uuencode("photo.jpg", exe, "0600")}`),
    file: "photo.jpg",
  },
  "uuencoded zip holding an exe": {
    message: message(
      "zipped",
      part({
        type: "text/plain; charset=us-ascii",
        body: uuencode("docs.zip", zip([{ name: "setup.exe", data: exe, deflate: true }])),
        encoding: "7bit",
      }),
    ),
    file: "setup.exe (in docs.zip)",
  },
  "uuencoded exe in a base64 text body": {
    message: message(
      "encoded twice",
      part({ type: "text/plain; charset=utf-8", body: `Grüße\r\n${uuencode("rechnung.exe", exe)}` }),
    ),
    file: "rechnung.exe",
  },
  "x-uuencode part": {
    message: message(
      "x-uuencode",
      multipart("mixed", [
        TEXT,
        part({
          type: "application/octet-stream",
          name: "data.bin",
          body: uuencode("data.bin", exe),
          encoding: "7bit",
        })
          .replace("Content-Transfer-Encoding: 7bit", "Content-Transfer-Encoding: x-uuencode"),
      ]),
    ),
    file: "data.bin",
  },
  "yEnc program under an image's name": {
    message: message(
      "yenc",
      part({
        type: "text/plain",
        body: Buffer.concat([Buffer.from("See below.\r\n"), yencode("photo.jpg", exe)]),
        encoding: "7bit",
      }),
    ),
    file: "photo.jpg",
  },
  "yEnc zip holding an exe": {
    message: message(
      "yenc zip",
      part({
        type: "text/plain",
        body: yencode("docs.zip", zip([{ name: "run.exe", data: exe }])),
        encoding: "7bit",
      }),
    ),
    file: "run.exe (in docs.zip)",
  },
};

/** Messages that must match no attachment rule. */
EXECUTABLE_MESSAGES["a script in winmail.dat, by the long name Outlook saves it under"] = {
  message: message(
    "tnef name",
    multipart("mixed", [
      TEXT,
      part({
        type: "application/ms-tnef",
        name: "winmail.dat",
        body: tnef([{ title: "INVOIC~1.PDF", longName: "invoice.pdf.js", data: "WScript.Echo('run');" }]),
      }),
    ]),
  ),
  file: "invoice.pdf.js",
};
EXECUTABLE_MESSAGES["a zip in winmail.dat holding a script"] = {
  message: message(
    "tnef zip",
    multipart("mixed", [
      TEXT,
      part({
        type: "application/ms-tnef",
        name: "winmail.dat",
        body: tnef([{ title: "docs.zip", data: zip([{ name: "run.vbs", data: "WScript.Echo('run')" }]) }]),
      }),
    ]),
  ),
  file: "run.vbs",
};
EXECUTABLE_MESSAGES["a program in winmail.dat (vnd.ms-tnef) under an image's name"] = {
  message: message(
    "tnef magic",
    multipart("mixed", [
      TEXT,
      part({
        type: "application/vnd.ms-tnef",
        name: "winmail.dat",
        body: tnef([{ title: "photo.jpg", data: exe }]),
      }),
    ]),
  ),
  file: "photo.jpg",
};

export const CLEAN_MESSAGES: Record<string, Uint8Array> = {
  "an .exe named in the text": message(
    "see setup.exe",
    multipart("mixed", [
      part({
        type: "text/plain",
        body: "Run setup.exe from the share, or invoice.exe.\r\nMZ\r\n",
        encoding: "7bit",
      }),
    ]),
  ),
  "a PNG that is a PNG": message(
    "photo",
    multipart("mixed", [TEXT, part({ type: "image/png", name: "photo.png", body: PNG })]),
  ),
  "text starting with MZ": message(
    "report",
    multipart("mixed", [TEXT, part({ type: "text/plain", name: "report.txt", body: MZ_TEXT })]),
  ),
  "a zip of documents": message(
    "docs",
    multipart("mixed", [
      TEXT,
      part({
        type: "application/zip",
        name: "docs.zip",
        body: zip([{ name: "a.txt", data: "hello", deflate: true }, { name: "b/", data: "" }, {
          name: "b/c.pdf",
          data: "%PDF-1.4",
        }]),
      }),
    ]),
  ),
  "a PDF in winmail.dat": message(
    "tnef pdf",
    multipart("mixed", [
      TEXT,
      part({
        type: "application/ms-tnef",
        name: "winmail.dat",
        body: tnef([{ title: "REPORT~1.PDF", longName: "report 2026.pdf", data: "%PDF-1.4\n" }]),
      }),
    ]),
  ),
  "plain text message": message("hello", "Content-Type: text/plain\r\n\r\nJust text.\r\n"),
  "a begin line in prose, and a uuencoded text file": message(
    "begin",
    part({
      type: "text/plain",
      body:
        `begin 644 setup.exe\r\nthen run it, says the manual.\r\n${
          uuencode("notes.txt", "hello\n".repeat(30))
        }` +
        `=ybegin setup.exe\r\n`,
      encoding: "7bit",
    }),
  ),
  "a digest of plain messages": message(
    "digest",
    multipart("digest", [
      `\r\n${new TextDecoder("latin1").decode(message("first", TEXT))}`,
      `\r\n${new TextDecoder("latin1").decode(message("second", TEXT))}`,
    ]),
  ),
};

/** Subjects as written in the header, and what they decode to. */
export const SUBJECTS: Record<string, { raw: string | Uint8Array; decoded: string }> = {
  "UTF-8 B": { raw: "=?UTF-8?B?R2V3aW5uc3BpZWwgZsO8ciBTaWU=?=", decoded: "Gewinnspiel für Sie" },
  "ISO-8859-1 Q": { raw: "=?ISO-8859-1?Q?Gewinnspiel_f=FCr_Sie?=", decoded: "Gewinnspiel für Sie" },
  "KOI8-R B": { raw: "=?KOI8-R?B?99nJx9LZ2yDEzNEg18HT?=", decoded: "Выигрыш для вас" },
  "ISO-2022-JP B": { raw: "=?ISO-2022-JP?B?GyRCRXZBKiQ3JF4kNyQ/GyhC?=", decoded: "当選しました" },
  "two words, folded": {
    raw: "=?UTF-8?Q?You_have?=\r\n =?UTF-8?Q?_won!?=",
    decoded: "You have won!",
  },
  "raw 8-bit UTF-8": { raw: Buffer.from("Gewinnspiel für Sie"), decoded: "Gewinnspiel für Sie" },
  "raw 8-bit latin1": {
    raw: Buffer.from("Gewinnspiel f\xfcr Sie", "latin1"),
    decoded: "Gewinnspiel f\xfcr Sie",
  },
};

/** Encoded words a decoder must survive; each decodes to something, never throws. */
export const BROKEN_SUBJECTS: string[] = [
  "=?UTF-8?B?not base64!!?=",
  "=?X-UNKNOWN?Q?Gewinn?=",
  "=?UTF-8?Q?unterminated",
  "=?UTF-8?B??=",
  "=?=?=?UTF-8?Q?=FF=FE=?= win",
  "=?UTF-8?Q?=C3?= truncated sequence",
];

// ---- TNEF ----

export interface TnefInput {
  /** attAttachTitle: the short name Outlook gives it (8.3, or the whole name). */
  title: string;
  /** PR_ATTACH_LONG_FILENAME, in attAttachment's MAPI properties, UTF-16 (what Outlook saves it under). */
  longName?: string;
  data: Uint8Array | string;
}

/**
 * A TNEF stream (winmail.dat) as Outlook writes one (MS-OXTNEF): signature, key, attTnefVersion, then per
 * attachment attAttachRenddata, attAttachTitle, attAttachData and attAttachment; each attribute its level, id,
 * length, data and checksum (the sum of its bytes). Debian's tnef(1) lists and extracts it.
 */
export function tnef(files: TnefInput[]): Uint8Array {
  const attribute = (level: number, id: number, data: Uint8Array) => {
    const head = Buffer.alloc(9);
    head[0] = level;
    head.writeUInt32LE(id, 1);
    head.writeUInt32LE(data.length, 5);
    const checksum = Buffer.alloc(2);
    checksum.writeUInt16LE(data.reduce((sum, byte) => (sum + byte) & 0xffff, 0));
    return Buffer.concat([head, data, checksum]);
  };
  const u32 = (value: number) => {
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32LE(value);
    return bytes;
  };
  const pieces = [u32(0x223e9f78), Buffer.from([0x01, 0x00]), attribute(1, 0x00089006, u32(0x00010000))];
  for (const file of files) {
    const data = typeof file.data === "string" ? Buffer.from(file.data) : Buffer.from(file.data);
    // attAttachRenddata: a file attachment (type 1), position unknown, no rendering.
    pieces.push(
      attribute(2, 0x00069002, Buffer.from([1, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 1, 0])),
    );
    pieces.push(attribute(2, 0x00018010, Buffer.from(`${file.title}\0`, "latin1")));
    pieces.push(attribute(2, 0x0006800f, data));
    if (file.longName !== undefined) {
      const name = Buffer.from(`${file.longName}\0`, "utf16le");
      const padding = Buffer.alloc((4 - (name.length % 4)) % 4);
      // One property: PT_UNICODE (0x001F) PR_ATTACH_LONG_FILENAME (0x3707), one value, its length, padded.
      const properties = Buffer.concat([
        u32(1),
        Buffer.from([0x1f, 0x00, 0x07, 0x37]),
        u32(1),
        u32(name.length),
        name,
        padding,
      ]);
      pieces.push(attribute(2, 0x00069005, properties));
    }
  }
  return Buffer.concat(pieces);
}
