// What a tar holds: each entry as a carried file under each of its names (tar-reader.ts) with its first
// bytes, archives inside it opened to zip_max_depth. A tar stores its files as they are, one after another,
// so an entry's data is a view of the tar's bytes, never copied nor inflated, and entries cannot share data
// (as a zip's can): reading a nested archive where it lies costs no more than the tar's own bytes, which
// were charged to zip_max_bytes when they were decoded. Pure.
import { archiveKind, entryLimit, noteListing, scanArchive } from "./archive-scan.ts";
import type { ContentFacts } from "./carried-file.ts";
import { readTar } from "./tar-reader.ts";
import type { ZipBudget } from "./zip-scan.ts";

const HEAD_BYTES = 512;
const EMPTY = new Uint8Array(0);

/**
 * Adds the files inside `bytes` (a tar named `name`) to `facts`, looking `depth` levels deep (1: this tar
 * only). `cut`: the bytes stop at zip_max_bytes, so an entry that runs past them is no corruption.
 */
export function scanTar(
  bytes: Uint8Array,
  name: string,
  depth: number,
  budget: ZipBudget,
  facts: ContentFacts,
  cut = false,
): void {
  const listing = readTar(bytes, entryLimit(budget));
  noteListing(listing, name, budget, facts, cut);
  const where = `in ${name}`;
  for (const entry of listing.entries) {
    if (entry.directory) continue;
    const end = entry.dataStart + entry.size;
    const data = entry.file ? bytes.subarray(entry.dataStart, Math.min(end, bytes.length)) : EMPTY;
    const head = data.subarray(0, HEAD_BYTES);
    for (const fileName of [entry.name, ...(entry.otherNames ?? [])]) {
      facts.files.push({ name: fileName, where, head });
    }
    const kind = data.length > 0 ? archiveKind(entry.name, head) : undefined;
    if (kind === undefined) continue;
    const path = `${name}/${entry.name}`;
    if (depth <= 1) {
      facts.skipped.push(`${path}: archives nested deeper than zip_max_depth`);
      continue;
    }
    scanArchive(kind, data, path, depth - 1, budget, facts, cut && end > bytes.length);
  }
}
