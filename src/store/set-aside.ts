// A state file (or journal) that cannot be used is renamed, never deleted or overwritten: the counts in
// it may matter to a human (docs/architecture.md, State). The name says when, in UTC, so that several
// bad files sort in order and none replaces another.
import { renameSync } from "node:fs";

/** `state.json` → `state.json.bad-20261202T061550.123Z`. */
export function asideName(path: string, at: number): string {
  return `${path}.bad-${new Date(at).toISOString().replace(/[-:]/g, "")}`;
}

/** Renames `path` aside; returns the new name, or undefined when it was gone already. */
export function setAside(path: string, at: number): string | undefined {
  const aside = asideName(path, at);
  try {
    renameSync(path, aside);
    return aside;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}
