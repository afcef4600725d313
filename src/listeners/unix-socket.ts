// What the policy listener and the control actor both do around their Unix sockets.
import { chmodSync, chownSync, lstatSync, mkdirSync, unlinkSync } from "node:fs";
import net from "node:net";
import { dirname } from "node:path";
import type { Logger } from "../log.ts";
import { groupId } from "../store/account-names.ts";
import { fileKind } from "../store/regular-file.ts";

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createConnection({ path });
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}

/**
 * Gets `path` ready to listen on: its folder exists, a socket left by a daemon that died is removed, and
 * one that a live process still answers on is refused (a second instance must not steal it). Anything
 * but a socket there is refused too: a connect to a regular file fails as to a dead socket does, and a
 * socket path mistyped as the state file, a log or a conffile had that file deleted without a word.
 */
export async function claimSocketPath(path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  let stats;
  try {
    stats = lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  if (!stats.isSocket() && !stats.isSymbolicLink()) {
    throw new Error(`${path} is ${fileKind(stats)}, not a socket: not removed (check the socket paths)`);
  }
  if (await answers(path)) throw new Error(`${path} is in use by another process`);
  unlinkSync(path);
}

// rw for the owner alone: what bind(2) gives a socket with this umask (0777 & ~umask).
const OWNER_ONLY_UMASK = 0o177;

/**
 * Narrows the umask so that a Unix socket bound now is its owner's alone; call the function it returns
 * right after bind(2), which Bun.listen and node:net's listen do synchronously in both runtimes. A socket
 * has the umask's mode from bind(2) until setSocketAccess gives it its own: under a umask of 0 or 002 (a
 * daemon started from a shell; a control_socket outside /run/mailpolicyd, whose folder is 0755 anyway)
 * any local user, or the group, could connect in between and reset counters. Restored before any await,
 * so no other code of this process creates a file under the narrowed umask.
 */
export function ownerOnlyUmask(): () => void {
  const umask = process.umask(OWNER_ONLY_UMASK);
  return () => void process.umask(umask);
}

/**
 * Mode and group of a listening socket, bound for its owner alone (ownerOnlyUmask): the group first, then
 * the mode, so that at no moment has a group access it is not given. A missing group (no Exim on this
 * host) or one the daemon's user is not in must not stop the socket: say so loudly and keep serving with
 * its default group.
 */
export function setSocketAccess(
  path: string,
  mode: number,
  group: string | undefined,
  log: Logger,
  source: string,
) {
  if (group) {
    try {
      chownSync(path, -1, groupId(group));
    } catch (error) {
      log.error(source, "cannot give the socket its group; its clients may be unable to connect", {
        socket: path,
        group,
        error: (error as Error).message,
      });
    }
  }
  chmodSync(path, mode);
}
