// Whether `[daemon] state_file =` and `pidfile =` name a place where the daemon's file can be. Another kind of
// file there (a directory, above all: `state_file = /var/lib/mailpolicyd`) stops `run` (cli/run.ts, daemon.ts),
// but only `run` looked: config-test said OK, and the init script's `restart`, which runs config-test before
// it stops anything, stopped the daemon and started none. Checked with the config instead, so that
// config-test, the start and a reload say it at the key's line (load.ts). Only what lies there is judged,
// never who may write it: config-test runs as another user than the daemon, and writes nothing.
import { statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileKind } from "../store/regular-file.ts";

/**
 * Why no regular file can be kept at the absolute `path`, or undefined when one is there or none yet.
 * `name`: the file's usual name, which a directory there is told to add.
 */
export function daemonFileProblem(path: string, name: string): string | undefined {
  let stats;
  try {
    stats = statSync(path); // follows a symlink, as the reads and writes do
  } catch (error) {
    // A folder on the way that is a file: the nearest one there is.
    if ((error as NodeJS.ErrnoException).code === "ENOTDIR") return folderProblem(dirname(path));
    return undefined; // none yet (made at start), or not this user's to look at: the daemon's to say
  }
  if (stats.isFile()) return undefined;
  const hint = stats.isDirectory() ? ` (name a file in it: ${join(path, name)})` : "";
  return `${path} is ${fileKind(stats)}, not a regular file${hint}`;
}

function folderProblem(folder: string): string | undefined {
  for (; folder !== dirname(folder); folder = dirname(folder)) {
    try {
      const stats = statSync(folder);
      if (!stats.isDirectory()) return `its folder ${folder} is ${fileKind(stats)}`;
    } catch {
      // Not there either: the folder above may be the file.
    }
  }
  return undefined;
}
