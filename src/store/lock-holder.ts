// What a state file's lock says of the daemon holding it, and what /proc says of a process: pure, so that
// store/state-lock.ts only does the file work. A lock names its holder by PID and by the time the kernel
// started that process (field 22 of /proc/PID/stat, clock ticks since boot): after a kill -9 the kernel
// hands the PID to another process sooner or later, and the start time tells that one from the holder.

export interface LockHolder {
  pid: number;
  /** The holder's start time in clock ticks since boot; undefined where /proc was not there to say. */
  started?: number;
}

/** The lock file's text: the PID on the first line (as a pidfile has it), the start time on the second. */
export const lockText = (holder: LockHolder): string =>
  holder.started === undefined ? `${holder.pid}\n` : `${holder.pid}\n${holder.started}\n`;

/** The holder a lock file names, or undefined when its text is not a lock's (then nobody holds it). */
export function parseLockText(text: string): LockHolder | undefined {
  const match = /^(\d+)\n(?:(\d+)\n)?$/.exec(text);
  if (!match) return undefined;
  const pid = Number(match[1]);
  if (!Number.isSafeInteger(pid) || pid < 1) return undefined;
  return match[2] === undefined ? { pid } : { pid, started: Number(match[2]) };
}

export interface ProcessStat {
  /** R, S, D, Z (a zombie: dead, its parent has not collected it yet), X (dead)… */
  state: string;
  /** Clock ticks since boot. */
  started: number;
}

/**
 * /proc/PID/stat's state and start time. The command name (field 2) is in parentheses and may hold spaces
 * and parentheses itself, so the fields are counted from the last ")".
 */
export function parseProcessStat(text: string): ProcessStat | undefined {
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state), so field 22 (starttime) is fields[19].
  const started = Number(fields[19]);
  if (fields.length < 20 || !Number.isSafeInteger(started)) return undefined;
  return { state: fields[0], started };
}

/**
 * Whether the process a lock names still holds it: the PID is alive (`stat` undefined where /proc cannot
 * tell, then `alive` alone decides), not a zombie, and started when the lock says.
 */
export function holderAlive(holder: LockHolder, alive: boolean, stat: ProcessStat | undefined): boolean {
  if (!alive) return false;
  if (stat === undefined) return true;
  if (stat.state === "Z" || stat.state === "X") return false;
  return holder.started === undefined || stat.started === holder.started;
}
