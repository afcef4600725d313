// Names and ids of groups and users, read from /etc/group and /etc/passwd (no shell, no native module;
// Bun's os.userInfo() reports $USER, which setpriv or su may leave at another user's name).
import { readFileSync } from "node:fs";

const entries = (file: string) => readFileSync(file, "utf8").split("\n").map((line) => line.split(":"));
const groups = () => entries("/etc/group");

/** The gid of a group name. */
export function groupId(name: string): number {
  const entry = groups().find(([group]) => group === name);
  if (!entry) throw new Error(`no group named ${name}`);
  return Number(entry[2]);
}

/** Why the group `name` cannot be given to a socket (groupId throws), or undefined. */
export function groupProblem(name: string): string | undefined {
  try {
    groupId(name);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === undefined
      ? `no group named ${name} in /etc/group`
      : `/etc/group cannot be read: ${(error as Error).message}`;
  }
}

/** The name of a gid, or the number itself when /etc/group has no name for it. */
export function groupName(gid: number): string {
  return groups().find(([, , id]) => id === String(gid))?.[0] ?? String(gid);
}

/** The login name of a uid, or undefined. */
export function userName(uid: number): string | undefined {
  return entries("/etc/passwd").find(([, , id]) => id === String(uid))?.[0];
}

/**
 * The login this process runs as (what Exim's $sender_ident says of the mail it hands to sendmail), or
 * undefined without one.
 */
export function processLogin(): string | undefined {
  try {
    return userName(process.getuid!());
  } catch {
    return undefined; // no /etc/passwd, or no uid on this platform
  }
}
