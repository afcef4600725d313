// A file a message carries: a MIME part (an attachment, or an inline part with a name or a program's
// first bytes), or an entry of a zip attachment. What the rules look at, nothing more: the part's bytes
// beyond its first ones are not kept.
import type { FileFacts } from "./executables.ts";

export interface CarriedFile extends FileFacts {
  /** For the report: "attachment", "in attached message", "in invoice.zip". */
  where: string;
  /** A zip entry whose data is encrypted (its name is still known). */
  encrypted?: boolean;
}

/** Files and what could not be looked at, from a message's MIME walk and its zips. */
export interface ContentFacts {
  files: CarriedFile[];
  /** Zips that could not be read whole: "invoice.zip: no central directory". */
  corruptZips: string[];
  /** What the walk skipped at a bound: "MIME nesting deeper than 10", "a.zip/b.zip: over zip_max_bytes". */
  skipped: string[];
}
