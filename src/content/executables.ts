// Is a file an executable? By its name (the configured extensions), by the type its MIME part declares,
// and by its first bytes, so that a renamed file or a lying Content-Type is still caught. Pure.

/**
 * Types that declare a program. Fixed rather than configured: they are what mail clients and servers
 * label executables with (the extensions, which sites do tune, are [content] executable_extensions).
 */
const EXECUTABLE_TYPES = new Set([
  "application/x-msdownload",
  "application/x-msdos-program",
  "application/x-dosexec",
  "application/x-executable",
  "application/x-ms-installer",
  "application/x-msi",
  "application/x-ms-shortcut",
  "application/vnd.microsoft.portable-executable",
  "application/hta",
  "application/x-elf",
  "application/x-mach-binary",
  "application/java-archive",
  "application/x-java-archive",
  "application/x-bat",
]);

/** A character Windows drops from the end of a file name (dots and spaces; any white space here). */
const TRAILING = /[.\s]/;

/**
 * The extension Windows would act on: it ignores trailing dots and spaces ("invoice.exe. " runs), so they
 * go first. Lower case, with the dot; "" when the name has none.
 */
export function extensionOf(name: string): string {
  // Stripped from the end by hand: `/[.\s]+$/` retries from every dot of a run that does not reach the
  // end, quadratic in it: a 40 KB name of dots took 1.1 s, a 256 KB one (a header block's bound) minutes.
  let end = name.length;
  while (end > 0 && TRAILING.test(name[end - 1])) end--;
  const trimmed = name.slice(0, end).toLowerCase();
  const slash = Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\"));
  const dot = trimmed.lastIndexOf(".");
  return dot > slash + 1 ? trimmed.slice(dot) : "";
}

/** What the first bytes say the file is, when it is a program; undefined otherwise. */
export function executableMagic(head: Uint8Array): string | undefined {
  if (head.length < 4) return undefined;
  const [a, b, c, d] = head;
  if (a === 0x4d && b === 0x5a && plausibleMzHeader(head)) return "a Windows executable (MZ)";
  if (a === 0x7f && b === 0x45 && c === 0x4c && d === 0x46) return "an ELF executable";
  const word = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
  if (word === 0xfeedface || word === 0xfeedfacf || word === 0xcefaedfe || word === 0xcffaedfe) {
    return "a Mach-O executable";
  }
  if (word === 0x4c000000 && head[4] === 0x01 && head[5] === 0x14 && head[6] === 0x02) {
    return "a Windows shortcut (LNK)";
  }
  return undefined;
}

/**
 * "MZ" alone would also match a text file that starts with those letters: a real MZ header's offset of
 * the PE header (e_lfanew, at 0x3c) points past the 64-byte DOS header and within a few MB, where text
 * bytes make a number in the hundreds of millions.
 */
function plausibleMzHeader(head: Uint8Array): boolean {
  if (head.length < 0x40) return false;
  const peOffset = head[0x3c] | (head[0x3d] << 8) | (head[0x3e] << 16) | (head[0x3f] << 24);
  return peOffset >= 0x40 && peOffset < 0x1000000;
}

export interface FileFacts {
  name: string;
  /** The MIME part's declared type; undefined inside a zip. */
  contentType?: string;
  head: Uint8Array;
}

/** Why the file is an executable ("name ends in .exe"), or undefined. */
export function executableReason(file: FileFacts, extensions: ReadonlySet<string>): string | undefined {
  const extension = extensionOf(file.name);
  if (extension !== "" && extensions.has(extension)) return `name ends in ${extension}`;
  // `evil.exe\0.txt` (a NUL from RFC 2231's %00 or RFC 2047's =00): a program that saves it through a C
  // string saves evil.exe.
  const nul = file.name.indexOf("\0");
  const beforeNul = nul < 0 ? "" : extensionOf(file.name.slice(0, nul));
  if (beforeNul !== "" && extensions.has(beforeNul)) return `name ends in ${beforeNul} before a NUL`;
  if (file.contentType !== undefined && EXECUTABLE_TYPES.has(file.contentType)) {
    return `declared ${file.contentType}`;
  }
  const magic = executableMagic(file.head);
  return magic === undefined ? undefined : `content is ${magic}`;
}
