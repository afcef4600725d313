// Files the daemon reads whole (the config, the state file, its journal) must be regular files. Read
// naively, a FIFO waits for a writer forever (config-test hung, and so did startup on a FIFO state file),
// a character device may never end, and a directory fails only once read. So the file is opened without
// blocking, its type checked on the open descriptor (no window between check and read), then read.
import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

/** What a non-regular file is, in words for an error message. */
export function fileKind(stats: {
  isFile(): boolean;
  isDirectory(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
}): string {
  if (stats.isFile()) return "a regular file";
  if (stats.isDirectory()) return "a directory";
  if (stats.isFIFO()) return "a FIFO (named pipe)";
  if (stats.isSocket()) return "a socket";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  return "not a regular file";
}

/** Thrown for a path that exists but is not a regular file; `code` as node's errors carry one. */
export class NotRegularFileError extends Error {
  readonly code = "ENOTREG";
  constructor(readonly kind: string) {
    super(`is ${kind}, not a regular file`);
  }
}

/** Thrown for a regular file larger than its reader takes, before a byte of it is read. */
export class FileTooLargeError extends Error {
  readonly code = "EFBIG";
  constructor(readonly size: number, readonly maxBytes: number) {
    super(`is ${size} bytes, more than the ${maxBytes} its reader takes`);
  }
}

/** The whole file as UTF-8; throws NotRegularFileError, or node's error (ENOENT, EACCES …) unchanged. */
export const readRegularFile = (path: string): string =>
  readRegular(path, Infinity, (fd) => readFileSync(fd, "utf8"));

/**
 * The whole file's bytes, as readRegularFile; a file of more than `maxBytes` throws FileTooLargeError unread
 * (its size as the open descriptor has it).
 */
export const readRegularBytes = (path: string, maxBytes = Infinity): Uint8Array =>
  readRegular(path, maxBytes, (fd) => readFileSync(fd));

function readRegular<T>(path: string, maxBytes: number, read: (fd: number) => T): T {
  const { fd, size } = openRegularFile(path);
  try {
    if (size > maxBytes) throw new FileTooLargeError(size, maxBytes);
    return read(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * `path` opened for reading once its descriptor is known to be a regular file, with its size; the caller
 * closes `fd`. Throws NotRegularFileError, or node's error (ENOENT, EACCES …) unchanged.
 */
export function openRegularFile(path: string): { fd: number; size: number } {
  const fd = openUnlessSocket(path);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new NotRegularFileError(fileKind(stats));
    return { fd, size: stats.size };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** open(2) refuses a Unix socket with ENXIO, "no such device or address": said as what is there. */
function openUnlessSocket(path: string): number {
  try {
    // O_NONBLOCK: opening a FIFO for reading otherwise waits until some process opens it for writing.
    return openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENXIO") throw error;
    let stats;
    try {
      stats = statSync(path);
    } catch {
      throw error;
    }
    throw stats.isFile() ? error : new NotRegularFileError(fileKind(stats));
  }
}

/**
 * Why the state file cannot be kept at `path`, or undefined when it can: something other than a regular
 * file there (no save would ever replace a directory, and a FIFO hangs a reader), a file the daemon cannot
 * read (the next save would replace it unread), or a folder it cannot create or write. Checked once before
 * the daemon starts, which then refuses to start rather than lose counts silently.
 */
export function statePathProblem(path: string): string | undefined {
  try {
    const stats = statSync(path);
    if (!stats.isFile()) return `is ${fileKind(stats)}, not a regular file`;
    closeSync(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK));
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    // ENOTDIR: a file where a folder should be; the folder's check below says which.
    if (code !== "ENOENT" && code !== "ENOTDIR") return `cannot be read: ${message}`;
  }
  const folder = dirname(path);
  try {
    mkdirSync(folder, { recursive: true });
    const stats = statSync(folder);
    if (!stats.isDirectory()) return `its folder ${folder} is ${fileKind(stats)}`;
    // A file made and removed, as a save makes one to rename into place: access(W_OK) under Deno judges by
    // the mode bits alone, and refused root a folder owned by another user (mailpolicyd's own
    // /var/lib/mailpolicyd), which root may write.
    const probe = join(folder, `.${basename(path)}.probe-${process.pid}`);
    closeSync(openSync(probe, "w", 0o600));
    unlinkSync(probe);
  } catch (error) {
    return `its folder ${folder} is not usable: ${(error as Error).message}`;
  }
  return undefined;
}
