// The config file as every command reads it: a regular file (store/regular-file.ts: a FIFO would block) of
// at most MAX_CONFIG_BYTES. The daemon and config-test read it whole (load.ts); the client commands read a
// section or two (socket-paths.ts, the snippet commands) or only whether it can be read (unreadable-config.ts).
// Small on purpose: the command line imports it for every command.
import { readlinkSync } from "node:fs";
import { FileTooLargeError, readRegularBytes } from "../store/regular-file.ts";

const MIB = 1024 * 1024;
/**
 * The most a config file may hold, far above any real one (the package's is 7 KB; 100,000 exempt addresses
 * are some 3 MB). Read whole, a file of gigabytes (a log or a disk image copied over it, a sparse file) held
 * Bun 26 s and 3 GB for 3 GiB, answering no request meanwhile, and then read as empty: config-test said OK,
 * and a reload put the defaults in place of every limit. Deno took 100 s and 9.5 GB, then threw.
 */
export const MAX_CONFIG_BYTES = 16 * MIB;

/** The file's bytes; throws an Error that says why not (NotRegularFileError, ENOENT …, or its size). */
export function readConfigBytes(file: string): Uint8Array {
  try {
    return readRegularBytes(file, MAX_CONFIG_BYTES);
  } catch (error) {
    if (error instanceof FileTooLargeError) {
      throw new Error(
        `${error.size} bytes, more than the ${MAX_CONFIG_BYTES / MIB} MiB a config file may hold`,
      );
    }
    const target = (error as NodeJS.ErrnoException).code === "ENOENT" ? linkTarget(file) : undefined;
    if (target === undefined) throw error;
    // `ls` shows the file, and "no such file or directory" sent the postmaster looking for the wrong one.
    throw new Error(`is a symbolic link to ${target}, which leads to no file`);
  }
}

/** Where the symbolic link `file` points, or undefined when `file` is no link (or is not there at all). */
function linkTarget(file: string): string | undefined {
  try {
    return readlinkSync(file);
  } catch {
    return undefined;
  }
}

/**
 * The file's text for the commands that read a section or two of it, decoded leniently (a byte that is not
 * UTF-8 is load.ts's to report, at its line); throws as readConfigBytes.
 */
export const readConfigText = (file: string): string => new TextDecoder().decode(readConfigBytes(file));
