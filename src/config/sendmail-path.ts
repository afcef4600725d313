// Whether `[alerts] sendmail =` names a program the alerter can run. Only run when an alert is sent (hours
// after the start, perhaps), a path that is absent, a folder or a file without an execute bit failed then,
// each alert parked. Checked with the config instead, so that config-test and the start and reload logs say
// so at the key's line (load.ts): a warning, not an error, as the daemon limits mail without it and a
// binary may come and go with the MTA's package (an exim4 to postfix switch removes /usr/sbin/sendmail).
import { statSync } from "node:fs";
import { fileKind } from "../store/regular-file.ts";

/** Why `path` is no program to run, or undefined when it is an executable regular file. */
export function sendmailPathProblem(path: string): string | undefined {
  let stats;
  try {
    stats = statSync(path); // follows a symlink: /usr/sbin/sendmail is often one (to exim4)
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    return code === "ENOENT" || code === "ENOTDIR" ? `${path} does not exist` : `${path}: ${message}`;
  }
  if (!stats.isFile()) return `${path} is ${fileKind(stats)}, not a program`;
  // The mode bits, as Deno's access(X_OK) judges too (store/regular-file.ts): no execute bit, no run.
  if ((stats.mode & 0o111) === 0) return `${path} is not executable (no x bit in its mode)`;
  return undefined;
}
