// Which archive a carried file is, and opening it: zips (zip-scan.ts), tars (tar-scan.ts) and gzip streams
// (gzip-scan.ts), by their first bytes, else by their name or declared type. The one place that knows the formats, so that an
// archive inside another (a zip in a tar, a tar in a zip) is opened whatever holds it, to zip_max_depth;
// and the one that counts their entries against zip_max_entries and the message's zip_max_message_entries.
// Pure.
import type { ContentFacts } from "./carried-file.ts";
import { extensionOf } from "./executables.ts";
import { looksLikeGzip, scanGzip } from "./gzip-scan.ts";
import { looksLikeTar } from "./tar-reader.ts";
import { scanTar } from "./tar-scan.ts";
import { looksLikeZip } from "./zip-reader.ts";
import { scanZip, type ZipBudget } from "./zip-scan.ts";

export type ArchiveKind = "zip" | "tar" | "gzip";

const ZIP_TYPES = new Set(["application/zip", "application/x-zip-compressed", "application/x-zip"]);
const TAR_TYPES = new Set(["application/x-tar", "application/x-gtar", "application/x-ustar"]);
const GZIP_TYPES = new Set([
  "application/gzip",
  "application/x-gzip",
  "application/x-compressed-tar",
  "application/x-gtar-compressed",
  "application/x-tgz",
]);
/** .gz and .tgz (a .tar.gz); not .Z, compress(1)'s LZW, which zlib does not read. */
const GZIP_EXTENSIONS = new Set([".gz", ".tgz"]);

/**
 * What archive the file is: its first bytes decide (a tar named invoice.pdf is a tar), else its name's
 * extension or declared type; undefined when none says it is one.
 */
export function archiveKind(name: string, head: Uint8Array, contentType = ""): ArchiveKind | undefined {
  if (looksLikeZip(head)) return "zip";
  if (looksLikeTar(head)) return "tar";
  if (looksLikeGzip(head)) return "gzip";
  const extension = extensionOf(name);
  if (extension === ".zip" || ZIP_TYPES.has(contentType)) return "zip";
  if (extension === ".tar" || TAR_TYPES.has(contentType)) return "tar";
  if (GZIP_EXTENSIONS.has(extension) || GZIP_TYPES.has(contentType)) return "gzip";
  return undefined;
}

/** A scan's arguments after the archive's kind: what each format's scan takes. */
type ScanArguments = [
  bytes: Uint8Array,
  name: string,
  depth: number,
  budget: ZipBudget,
  facts: ContentFacts,
  cut?: boolean,
];

/**
 * Adds the files inside `bytes` (an archive of that kind, named `name`) to `facts`, `depth` levels deep (1:
 * this archive only). `cut`: the bytes stop at zip_max_bytes, so an end that is missing is no corruption.
 */
export function scanArchive(kind: ArchiveKind, ...args: ScanArguments): void {
  if (kind === "zip") scanZip(...args);
  else if (kind === "tar") scanTar(...args);
  else scanGzip(...args);
}

/**
 * How many entries (a gzip's: members) an archive may have read: zip_max_entries, or what is left of the
 * message's zip_max_message_entries when that is less.
 */
export function entryLimit(budget: ZipBudget): number {
  return Math.max(0, Math.min(budget.maxEntries, budget.entriesLeft));
}

/**
 * Charges the `read` entries (or members) of an archive read with entryLimit to the message's
 * zip_max_message_entries, and says which bound stopped it when one followed them (`left`; one that holds
 * exactly that many was read whole): zip_max_entries, or the message's, said once, at the archive it
 * stopped (every archive after it is left unread too, and the report lists the first three skips only).
 */
export function chargeEntries(
  budget: ZipBudget,
  read: number,
  left: boolean,
  archive: { name: string; units: "entries" | "members" },
  facts: ContentFacts,
): void {
  const messageBound = budget.entriesLeft < budget.maxEntries;
  budget.entriesLeft -= read;
  if (!left) return;
  const { name, units } = archive;
  if (!messageBound) facts.skipped.push(`${name}: ${units} beyond zip_max_entries`);
  else if (!budget.entriesSpent) facts.skipped.push(`${name}: ${units} beyond zip_max_message_entries`);
  if (messageBound) budget.entriesSpent = true;
}

/**
 * What a listing says of its archive: corrupt when it could not be read whole (unless its bytes were cut at
 * zip_max_bytes: then a missing end is expected), partly read when an entry followed the ones read; its
 * entries charged (chargeEntries).
 */
export function noteListing(
  listing: { entries: readonly unknown[]; problem?: string; entriesLeft?: boolean },
  name: string,
  budget: ZipBudget,
  facts: ContentFacts,
  cut: boolean,
): void {
  if (listing.problem !== undefined && !cut) facts.corruptZips.push(`${name}: ${listing.problem}`);
  chargeEntries(
    budget,
    listing.entries.length,
    listing.entriesLeft === true,
    { name, units: "entries" },
    facts,
  );
}
