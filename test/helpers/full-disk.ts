// A disk that fills up, for the code that must survive ENOSPC: a real tmpfs filled by a file.
import assert from "node:assert/strict";
import { closeSync, openSync, writeSync } from "node:fs";

/** Writes `path` until the file system says ENOSPC. */
export function fill(path: string): void {
  const fd = openSync(path, "w");
  const block = new Uint8Array(4096);
  try {
    for (;;) writeSync(fd, block);
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, "ENOSPC");
  } finally {
    closeSync(fd);
  }
}
