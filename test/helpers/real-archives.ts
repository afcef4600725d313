// Archives made by Debian's own tar, gzip and zip, for the content tests: the files are written to a
// temporary directory, the archiver runs there, and its output is read back; nothing is kept.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { makeTempDir } from "./temp-dir.ts";

export interface ArchivedFile {
  /** The path inside the archive ("docs/invoice.exe"); its directories are made. */
  name: string;
  data: Uint8Array | string;
}

/** Runs `command args` in a fresh directory holding `files`; its standard output. */
function archiverOutput(files: ArchivedFile[], command: string, args: string[]): Uint8Array {
  const dir = makeTempDir("mailpolicyd-archive-");
  try {
    for (const file of files) {
      mkdirSync(dirname(dir.file(file.name)), { recursive: true });
      writeFileSync(dir.file(file.name), file.data);
    }
    const run = spawnSync(command, args, { cwd: dir.path, maxBuffer: 1 << 30, timeout: 60_000 });
    assert.equal(run.status, 0, `${command} ${args.join(" ")}: ${run.stderr}`);
    return new Uint8Array(run.stdout);
  } finally {
    dir.remove();
  }
}

/** `tar -c` of the files, in their order (`format`: gnu, the default, or pax, ustar, v7). */
export function tarOf(files: ArchivedFile[], format = "gnu"): Uint8Array {
  return archiverOutput(files, "tar", [`--format=${format}`, "-cf", "-", ...files.map((file) => file.name)]);
}

/** What GNU tar lists in an archive (`tar -t`, with --ignore-zeros when `ignoreZeros`). */
export function tarListing(archive: Uint8Array, ignoreZeros = false): string[] {
  const run = spawnSync("tar", [...(ignoreZeros ? ["-i"] : []), "-tf", "-"], { input: archive });
  return String(run.stdout).split("\n").filter((line) => line !== "");
}

/** `gzip -c FILE`: the file gzipped, its name in the header (FNAME), or without it (`-n`). */
export function gzipOf(file: ArchivedFile, keepName = true): Uint8Array {
  return archiverOutput([file], "gzip", ["-c", ...(keepName ? [] : ["-n"]), file.name]);
}

/** `tar -czf`: a .tar.gz as tar writes it (through gzip, its header without a name). */
export function tarGzOf(files: ArchivedFile[]): Uint8Array {
  return archiverOutput(files, "tar", ["-czf", "-", ...files.map((file) => file.name)]);
}

/** `zip -q -X`: a zip as Info-ZIP writes it, the files deflated, in their order. */
export function zipOf(files: ArchivedFile[]): Uint8Array {
  const names = files.map((file) => file.name);
  return archiverOutput(files, "sh", ["-c", 'zip -q -X out.zip "$@" && cat out.zip', "zip", ...names]);
}

/**
 * A gzip bomb: 1 GB of zeros as one gzip stream (16 members of 64 MB, each `gzip -9`, as `cat` joins them:
 * gunzip writes 1 GB), about 1 MB.
 */
export function gzipBomb(): Uint8Array {
  const member = archiverOutput([], "sh", ["-c", "head -c 67108864 /dev/zero | gzip -9"]);
  const bomb = new Uint8Array(16 * member.length);
  for (let i = 0; i < 16; i++) bomb.set(member, i * member.length);
  return bomb;
}

/** A file of the size given whose bytes gzip cannot shrink much (xorshift), so archives have a real size. */
export function noiseFile(name: string, size: number, seed = 1): ArchivedFile {
  const bytes = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return { name, data: bytes };
}
