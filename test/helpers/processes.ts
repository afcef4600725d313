// Which processes run an executable, read from /proc. Not pgrep: without procps installed spawnSync("pgrep")
// has status null, and "status !== 0" then read as "no such process" whatever ran.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/**
 * Does a process run `exe`? `link` is its /proc/PID/exe (undefined when unreadable: a process that is not
 * dumpable, as one that changed its user may be), `cmdline` its /proc/PID/cmdline. After the file is
 * removed (a purged package) the link reads "EXE (deleted)".
 */
export function runsExecutable(exe: string, link: string | undefined, cmdline: string): boolean {
  if (link !== undefined) return link === exe || link === `${exe} (deleted)`;
  return cmdline.split("\0")[0] === exe;
}

const errorCode = (error: unknown) => (error as { code?: string }).code;

/** The pids of the processes running the executable `exe` (an absolute path), this one included. */
export function processesRunning(exe: string): number[] {
  const pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name)).map(Number);
  // A /proc that does not list this very process cannot tell that another one is not running.
  if (!pids.includes(process.pid)) throw new Error(`/proc does not list this process (${process.pid})`);
  return pids.filter((pid) => {
    let link: string | undefined;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      try {
        link = readlinkSync(`/proc/${pid}/exe`);
      } catch (error) {
        if (errorCode(error) !== "EACCES" && errorCode(error) !== "EPERM") throw error;
      }
    } catch (error) {
      // Gone meanwhile; or no executable at all (a kernel thread, a zombie): not running anything.
      if (errorCode(error) === "ENOENT" || errorCode(error) === "ESRCH") return false;
      throw error;
    }
    return runsExecutable(exe, link, cmdline);
  });
}
