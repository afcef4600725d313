// A client that finds nothing on the socket its config names: a daemon started before that socket was
// changed in the file still listens where the file said then, since a reload does not move a socket
// (config/start-only.ts). "Not running" would then be false, and the postmaster might start a second
// one; the pidfile says whether a process by that PID runs.
import { readRegularFile } from "../store/regular-file.ts";

/** The PID in `pidfile` when a process by it runs; undefined without a pidfile or with a dead PID. */
export function runningPid(pidfile: string): number | undefined {
  let text;
  try {
    text = readRegularFile(pidfile);
  } catch {
    return undefined;
  }
  const match = /^(\d+)\n?$/.exec(text);
  const pid = match ? Number(match[1]) : 0;
  if (!Number.isSafeInteger(pid) || pid < 1) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    // EPERM: it runs, as another user (the packaged daemon runs as mailpolicyd).
    return (error as NodeJS.ErrnoException).code === "EPERM" ? pid : undefined;
  }
}

/** What to say instead of "not running" when the pidfile names a running process. */
export function runningElsewhere(socket: string, key: string, pidfile: string, pid: number): string {
  return `nothing listens on ${socket}, but ${pidfile} names a running process (pid ${pid}): mailpolicyd is ` +
    `still starting, or listens on the ${key} it started with (a changed ${key} takes a restart). ` +
    `Reach it with --socket and the path its start logged, reload it with kill -HUP ${pid} ` +
    `(service mailpolicyd reload), or restart it`;
}
