// exim-setup's edits of Exim's configuration, made as one change: each file's bytes before its first edit
// are kept, so that a step failing halfway (a folder where a file should go, a full disk, a read-only file)
// puts back the files edited before it. Left as they were, the unsplit scheme's localmacros named ACL files
// that were never written, and the split scheme's main file named ACLs its ACL file did not define: the
// next update-exim4.conf, by anyone, built a configuration that fails mail.
import { chmodSync, rmSync, statSync, writeFileSync } from "node:fs";
import { readRegularBytes } from "../store/regular-file.ts";

/** A file's bytes and permission bits; null: no file. */
type Saved = { bytes: Uint8Array; mode: number } | null;

/** One step that failed, naming its file; `code` is the cause's (EACCES, EISDIR, ENOSPC …). */
export class FileChangeFailed extends Error {
  readonly code: string | undefined;
  constructor(verb: string, readonly path: string, cause: unknown) {
    const { code, message } = cause as NodeJS.ErrnoException;
    // The runtime's own message ends in ", open 'PATH'", or names no file at all (a read's EISDIR).
    super(`could not ${verb} ${path}: ${message.replace(/, \w+(?: '.*')?$/, "")}`);
    this.code = code;
  }
}

function saved(path: string): Saved {
  try {
    const bytes = readRegularBytes(path);
    return { bytes, mode: statSync(path).mode & 0o7777 };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

const same = (a: Saved, b: Saved) =>
  a === null || b === null ? a === b : a.mode === b.mode && Buffer.from(a.bytes).equals(b.bytes);

export class FileChanges {
  // Each path's state before its first edit, in the order of first edits.
  readonly #before = new Map<string, Saved>();

  /** The file's bytes, null when there is none; a directory or FIFO in its place fails, naming it. */
  read(path: string): Uint8Array | null {
    return this.#remember(path, "read")?.bytes ?? null;
  }

  /** Writes the file (a string as UTF-8), created with `mode`. */
  write(path: string, content: string | Uint8Array, mode = 0o644): void {
    this.#remember(path, "write");
    attempt("write", path, () => writeFileSync(path, content, { mode }));
  }

  remove(path: string): void {
    this.#remember(path, "remove");
    attempt("remove", path, () => rmSync(path, { force: true }));
  }

  /** The files edited so far whose content differs now: whether each existed before and exists now. */
  changed(): { path: string; existed: boolean; exists: boolean }[] {
    return [...this.#before].flatMap(([path, before]) => {
      const now = saved(path);
      return same(before, now) ? [] : [{ path, existed: before !== null, exists: now !== null }];
    });
  }

  /** Forgets the edits: Exim's configuration is built from them now, putting them back would undo that. */
  keep(): void {
    this.#before.clear();
  }

  /**
   * Puts each edited file back as it was, the last edited first (the reverse of the write order, so that
   * the unsplit scheme's wrappers go before the parts they read): the paths put back, and the message of
   * each that could not be. A file that did not exist is removed only if it is a regular file now: a
   * failed write may have left one (a full disk), a failed open left none.
   */
  undo(): { putBack: string[]; failures: string[] } {
    const putBack: string[] = [];
    const failures: string[] = [];
    for (const [path, before] of [...this.#before].reverse()) {
      try {
        if (same(before, saved(path))) continue;
        if (before === null) rmSync(path);
        else {
          writeFileSync(path, before.bytes);
          chmodSync(path, before.mode);
        }
        putBack.push(path);
      } catch (error) {
        failures.push(new FileChangeFailed("put back", path, error).message);
      }
    }
    this.#before.clear();
    return { putBack, failures };
  }

  #remember(path: string, verb: string): Saved {
    if (!this.#before.has(path)) this.#before.set(path, attempt(verb, path, () => saved(path)));
    return this.#before.get(path)!;
  }
}

function attempt<T>(verb: string, path: string, step: () => T): T {
  try {
    return step();
  } catch (error) {
    throw new FileChangeFailed(verb, path, error);
  }
}
