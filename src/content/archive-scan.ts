// Which archive a carried file is, and opening it: zips (zip-scan.ts), tars (tar-scan.ts) and gzip streams
// (gzip-scan.ts), by their first bytes, else by their name or declared type. The one place that knows the formats, so that an
// archive inside another (a zip in a tar, a tar in a zip) is opened whatever holds it, to zip_max_depth.
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
 * What a listing says of its archive: corrupt when it could not be read whole (unless its bytes were cut at
 * zip_max_bytes: then a missing end is expected), partly read when an entry followed the zip_max_entries
 * read (one that holds exactly that many was read whole).
 */
export function noteListing(
  listing: { problem?: string; entriesLeft?: boolean },
  name: string,
  facts: ContentFacts,
  cut: boolean,
): void {
  if (listing.problem !== undefined && !cut) facts.corruptZips.push(`${name}: ${listing.problem}`);
  if (listing.entriesLeft) facts.skipped.push(`${name}: entries beyond zip_max_entries`);
}
