// The state file's lock: one daemon writes a state file and its journals. Two daemons on one state_file (a
// second `run` with another config by mistake, a test run beside the packaged daemon) each replaced the
// other's snapshot and wrote the same journal generations, and the counts of one were lost at every save.
// node:fs has no flock or fcntl lock on either runtime, so the lock is a file beside the state file,
// `state_file.lock`, made with link(2) (fails if it exists, and the file is whole when it appears) and
// naming its holder (store/lock-holder.ts). A lock whose holder is gone (kill -9, a crash, the OOM killer)
// or whose PID is now another process's is taken over, so the init script or monit can start the daemon
// again after a crash.
//
// On a full disk (ENOSPC, or the user's quota: EDQUOT) the few bytes of that text cannot be written, and a
// daemon restarted at 3 a.m. on a full /var refused to start at all, every limit off while Exim fails open,
// though a running daemon answers and counts on that disk. The lock is then a symbolic link whose target is
// the text: symlink(2) is as atomic as link(2), and a short target lives in the inode (ext4, tmpfs), needing
// no data block. Readers take either form.
import {
  linkSync,
  readFileSync,
  readlinkSync,
  renameSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import {
  holderAlive,
  type LockHolder,
  lockText,
  parseLockText,
  parseProcessStat,
  type ProcessStat,
} from "./lock-holder.ts";
import { NotRegularFileError, readRegularFile } from "./regular-file.ts";

export const lockPath = (stateFile: string) => `${stateFile}.lock`;

export interface StateLock {
  readonly path: string;
  /** Removes the lock file, if it is still this process's. */
  release(): void;
}

export type LockResult =
  | { ok: true; lock: StateLock }
  /** `holder`: the live daemon holding it; otherwise `error` says why no lock could be made. */
  | { ok: false; path: string; holder?: LockHolder; error?: string };

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException).code;

function processStat(pid: number | "self"): ProcessStat | undefined {
  try {
    return parseProcessStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === "EPERM"; // alive, another user's
  }
}

/**
 * A lock's text: a file's, or a symbolic link's target (made on a full disk). Throws ENOENT, and
 * NotRegularFileError for anything else there: read as found, a FIFO at the lock's path held `run` (and a
 * reload onto its state_file, every answer with it) until some process opened it for writing.
 */
function readLock(path: string): string {
  try {
    return readlinkSync(path, "utf8");
  } catch (error) {
    if (errorCode(error) !== "EINVAL") throw error; // EINVAL: not a symbolic link
    return readRegularFile(path);
  }
}

/** The text of the lock at `path`, or undefined when there is none. */
function readIfThere(path: string): string | undefined {
  try {
    return readLock(path);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw error;
  }
}

const noRoom = (error: unknown) => errorCode(error) === "ENOSPC" || errorCode(error) === "EDQUOT";

/** Takes the lock of `stateFile` for this process, or says who holds it (or why none could be made). */
export function lockStateFile(stateFile: string): LockResult {
  const path = lockPath(stateFile);
  const text = lockText({ pid: process.pid, started: processStat("self")?.started });
  const fresh = `${path}.new-${process.pid}`;
  const aside = `${path}.stale-${process.pid}`;
  try {
    removeIfThere(fresh); // a crashed start's, with this PID: made anew, never written through as found
    let written: string | undefined = fresh;
    try {
      writeFileSync(fresh, text, { mode: 0o644, flag: "wx" });
    } catch (error) {
      if (!noRoom(error)) throw error;
      written = undefined; // the lock as a symbolic link
    }
    // Two daemons may start at once after a crash, both finding the same stale lock: each moves it aside,
    // and only the one that moved the very file it judged takes over; one that moved the other's new lock
    // puts it back. A few rounds at most: every round, one of them has the lock or the other's is back.
    for (let round = 0; round < 5; round++) {
      try {
        createWhole(written, path, text);
        return { ok: true, lock: ownLock(path, text) };
      } catch (error) {
        if (errorCode(error) !== "EEXIST") throw error;
      }
      const found = readIfThere(path);
      if (found === undefined) continue; // released meanwhile
      const holder = parseLockText(found);
      // This PID: a daemon of this process (the in-process tests) or the one before a re-exec, or one whose
      // PID a PID namespace gave again to its successor. Not another daemon either way.
      if (
        holder !== undefined && holder.pid !== process.pid &&
        holderAlive(holder, pidAlive(holder.pid), processStat(holder.pid))
      ) {
        return { ok: false, path, holder };
      }
      try {
        renameSync(path, aside);
      } catch (error) {
        if (errorCode(error) === "ENOENT") continue;
        throw error;
      }
      if (readLock(aside) !== found) {
        try {
          linkSync(aside, path);
        } catch { /* a third took it meanwhile */ }
      }
      unlinkSync(aside);
    }
    return { ok: false, path, error: "its lock file kept changing" };
  } catch (error) {
    // No daemon makes anything but a file or a symbolic link there: not a lock to take over, nor to remove.
    if (error instanceof NotRegularFileError) {
      return { ok: false, path, error: `has ${error.kind} as its lock file, not a regular file` };
    }
    return { ok: false, path, error: `cannot make its lock file: ${(error as Error).message}` };
  } finally {
    try {
      unlinkSync(fresh);
    } catch { /* never made; a leftover is removed by the next start */ }
  }
}

/**
 * Makes `path` with `text`, or throws EEXIST: by a hard link to `fresh`, which holds the text already, so
 * that a rival never reads the lock empty. A file system without hard links gets an exclusive create, whose
 * moment between create and write a rival starting in that same moment could take for a stale lock.
 */
function createWhole(fresh: string | undefined, path: string, text: string): void {
  if (fresh === undefined) return symlinkSync(text, path); // no room for the text as a file
  try {
    linkSync(fresh, path);
  } catch (error) {
    const code = errorCode(error);
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw error;
    writeFileSync(path, text, { mode: 0o644, flag: "wx" });
  }
}

function removeIfThere(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw error;
  }
}

function ownLock(path: string, text: string): StateLock {
  return {
    path,
    release() {
      try {
        if (readLock(path) === text) unlinkSync(path);
      } catch { /* gone already */ }
    },
  };
}
