// A config named with --config that cannot be read. The snippet commands (exim-snippet, postfix-snippet,
// exim-setup --add) read only a section or two of the config and use defaults when the package's file is
// absent; a file the administrator named is another matter: a snippet made from defaults instead would be
// silently wrong. Small on purpose: the command line imports it for every command.
import { readConfigBytes } from "../config/config-file.ts";

/** Why `file` cannot be read (missing, unreadable, a directory, a FIFO, over 16 MiB …), or undefined. */
export function unreadableConfig(file: string): string | undefined {
  try {
    readConfigBytes(file);
    return undefined;
  } catch (error) {
    return `cannot read ${file}: ${(error as Error).message}`;
  }
}
